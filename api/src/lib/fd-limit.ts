import { readFileSync } from 'node:fs'

/**
 * The process's open-file limits (soft, hard), read from /proc/self/limits (Linux); undefined
 * where that is not available. Every held agent poll is an open socket: more agents than this
 * allows would fail with EMFILE anywhere (the database pool, a log file), not just on accept.
 */
export function openFileLimit(text = readLimits()): { soft: number; hard: number } | undefined {
  const match = text && /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text)
  if (!match) return undefined
  const n = (v: string) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v))
  return { soft: n(match[1]!), hard: n(match[2]!) }
}

function readLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8')
  } catch {
    return undefined
  }
}

/** Descriptors kept for everything but client connections: database pool, files, logs, DNS. */
export const FD_RESERVE = 256

/**
 * How many client connections the server may hold: the soft limit less a reserve. Past it, Node
 * closes new connections at once (a clean refusal the agent retries) while those held go on.
 */
export function connectionBudget(soft: number): number {
  return Number.isFinite(soft) ? Math.max(64, soft - FD_RESERVE) : 0
}
