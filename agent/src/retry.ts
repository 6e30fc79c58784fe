import { ApiError, timeoutSignal } from '@helpline/sdk'

/**
 * Whether a failed call is worth repeating as it is: the network or the server failed (every 5xx,
 * and 429), not the request. A server whose database is down answers 503 for a while; an agent
 * that gave up on it would end the customer's session, or a script mid-run, for nothing.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429
  if (err instanceof TypeError) return true // fetch failed: refused, reset, DNS, TLS
  const name = (err as { name?: string })?.name
  return name === 'TimeoutError' || name === 'HeadersTimeoutError' || name === 'BodyTimeoutError' || name === 'SocketError'
}

/**
 * A fetch that gives up after `ms` with a TimeoutError (transient, so the call is retried): a
 * connection whose packets are dropped, or that a proxy accepted and then closed, would
 * otherwise hold a call for minutes or for ever. The caller's own signal still aborts it. The
 * timer covers reading the answer too, so it is left to run out: until then it holds its
 * controller (a few hundred bytes), not the process.
 */
export function fetchWithTimeout(ms: number): typeof fetch {
  return (input, init) => {
    const own = init?.signal ?? (input instanceof Request ? input.signal : undefined)
    return fetch(input, { ...init, signal: timeoutSignal(ms, own ?? undefined).signal })
  }
}

/** A Retry-After beyond this is a misconfigured server, not a plan: the agent asks again sooner. */
const MAX_RETRY_AFTER_MS = 10 * 60_000

/**
 * How long to wait before attempt `attempt + 1` (from 0): the server's Retry-After when it sent
 * one (plus up to `baseMs`, so agents told the same do not all come back at once), otherwise
 * "full jitter": anywhere from 0 to base × 2^attempt, capped at `capMs`.
 */
export function retryDelay(err: unknown, attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const after = err instanceof ApiError ? err.retryAfterSeconds : undefined
  if (after !== undefined) return Math.min(after * 1000, MAX_RETRY_AFTER_MS) + random() * baseMs
  return random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))
}
