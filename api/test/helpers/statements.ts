import type { PGlite } from '@electric-sql/pglite'
import type { Database } from '../../src/db/client.ts'
import { HEARTBEAT_TOPIC } from '../../src/lib/notifier.ts'

/** A statement's text, and its parameters on a comment line after it (to tell whose it was). */
const withParameters = (text: string, parameters: unknown) => (Array.isArray(parameters) && parameters.length > 0 ? `${text}\n-- ${JSON.stringify(parameters)}` : text)

/**
 * Every statement a database client sends from now on (postgres.js through its `debug` hook, PGlite
 * by wrapping its `query`), until `stop()`. Left out: the PostgreSQL notifier's heartbeat (a NOTIFY
 * of its own every 3 s, lib/notifier.ts), which is nobody's request and would land, now and then,
 * inside a counted window.
 */
export function statements(database: Database) {
  const list: string[] = []
  let on = true
  if (database.postgres) {
    const options = database.postgres.options as { debug?: unknown }
    const before = options.debug
    options.debug = (_id: number, query: string, parameters: unknown[]) => {
      if (on && !parameters.includes(HEARTBEAT_TOPIC)) list.push(withParameters(query, parameters))
    }
    return { list, stop: () => ((on = false), (options.debug = before)) }
  }
  const pg = database.pglite! as PGlite & Record<string, unknown>
  const restore: (() => void)[] = []
  const wrap = (target: Record<string, unknown>, name: 'query' | 'exec') => {
    const original = target[name] as (text: string, ...rest: unknown[]) => unknown
    target[name] = (text: string, ...rest: unknown[]) => {
      if (on) list.push(withParameters(text, rest[0]))
      return original.call(target, text, ...rest)
    }
    restore.push(() => (target[name] = original))
  }
  wrap(pg, 'query')
  wrap(pg, 'exec')
  const transaction = pg.transaction
  pg.transaction = ((fn: (tx: Record<string, unknown>) => Promise<unknown>) =>
    transaction.call(pg, (tx) => {
      wrap(tx as unknown as Record<string, unknown>, 'query')
      wrap(tx as unknown as Record<string, unknown>, 'exec')
      return fn(tx as unknown as Record<string, unknown>)
    })) as unknown as PGlite['transaction']
  restore.push(() => (pg.transaction = transaction))
  return { list, stop: () => ((on = false), restore.forEach((r) => r())) }
}
