/** Socket and postgres.js codes of a connection that could not be made or was lost. */
const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
])

/**
 * SQLSTATEs of a database that cannot serve right now: admin/crash shutdown, starting up, too
 * many connections, and a statement cancelled by statement_timeout (57014). Class 08 (connection
 * exceptions) is matched by its prefix.
 */
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300', '57014'])

function oneLevel(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (connectionCodes.has(code) || unavailableStates.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true
  // PGlite after close() (or a failed start) throws a plain Error with this message and no code.
  if (err instanceof Error && err.message === 'PGlite is closed') return true
  // Node's connect to several addresses at once (IPv6 and IPv4) fails with all of them.
  return err instanceof AggregateError && err.errors.some(oneLevel)
}

/**
 * The driver's error when `err` means the database is unreachable or cannot serve for now (the
 * request may succeed later: 503), as opposed to a bug or a refused statement (500). drizzle
 * wraps driver errors (DrizzleQueryError, whose message holds the query's parameters), so the
 * `cause` chain is followed and what is returned is the driver's own error: safe to log.
 */
export function unavailableCause(err: unknown): { code: string | undefined; message: string } | undefined {
  let current: unknown = err
  for (let depth = 0; depth < 8 && current; depth++) {
    if (oneLevel(current)) {
      const { code, message } = current as { code?: unknown; message?: unknown }
      return { code: typeof code === 'string' ? code : undefined, message: String(message ?? '') }
    }
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

export const isDatabaseUnavailable = (err: unknown): boolean => unavailableCause(err) !== undefined
