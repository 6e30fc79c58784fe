/**
 * A signal that aborts with a TimeoutError after `ms`, or as soon as one of `signals` aborts;
 * `clear` stops the timer once the work it bounds is over.
 *
 * Not `AbortSignal.any([AbortSignal.timeout(ms), …])`: in Node 20 both the timer and the combined
 * signal hold the timeout signal only weakly, so a garbage collection while a request waits can
 * take it, and the request is then never timed out (a webhook receiver, or a connection whose
 * packets are dropped, holds its caller for ever). Here the timer holds its controller until it
 * fires or is cleared. The timer does not keep a process alive on its own. The other signals
 * must be held by their owners (not an `AbortSignal.timeout`, nor an `AbortSignal.any` of one:
 * `any` would hold it weakly again).
 */
export function timeoutSignal(ms: number, ...signals: (AbortSignal | undefined)[]): { signal: AbortSignal; clear: () => void } {
  // setTimeout would fire at once for these (AbortSignal.timeout throws): a caller that retries
  // timeouts would then spin.
  if (!(Number.isFinite(ms) && ms >= 0 && ms <= 2_147_483_647)) throw new RangeError(`A timeout of ${ms} ms cannot be set`)
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException(`The operation timed out after ${ms} ms`, 'TimeoutError')), ms)
  ;(timer as { unref?: () => void }).unref?.()
  const others = signals.filter((s): s is AbortSignal => s !== undefined)
  return { signal: others.length === 0 ? controller.signal : AbortSignal.any([controller.signal, ...others]), clear: () => clearTimeout(timer) }
}
