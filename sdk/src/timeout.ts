/**
 * A signal that aborts with a TimeoutError after `ms`, or as soon as one of `signals` aborts;
 * `clear` stops the timer once the work it bounds is over.
 *
 * Not `AbortSignal.any([AbortSignal.timeout(ms), …])`: in Node 20 both the timer and the combined
 * signal hold the timeout signal only weakly, so a garbage collection while a request waits can
 * take it, and the request is then never timed out (a webhook receiver, or a connection whose
 * packets are dropped, holds its caller for ever). Here the timer holds its controller until it
 * fires or is cleared. The timer does not keep a process alive on its own.
 */
export function timeoutSignal(ms: number, ...signals: (AbortSignal | undefined)[]): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException(`The operation timed out after ${ms} ms`, 'TimeoutError')), ms)
  ;(timer as { unref?: () => void }).unref?.()
  const others = signals.filter((s): s is AbortSignal => s !== undefined)
  return { signal: others.length === 0 ? controller.signal : AbortSignal.any([controller.signal, ...others]), clear: () => clearTimeout(timer) }
}
