import type { SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import type { Db } from './client.ts'

/**
 * Rows of a hand-written statement, from either driver: postgres.js answers an array of rows,
 * PGlite an object with `rows`. Hot paths and set-based writes use hand-written SQL (one
 * statement, no per-request query building); everything else goes through drizzle's builder.
 */
export async function rows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as T[] | { rows: T[] }
  return Array.isArray(result) ? result : result.rows
}

/** A timestamp of a hand-written select: a Date from PGlite, text from postgres.js and inside JSON. */
export const rawDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v))

const dialect = new PgDialect()

/** A hand-written statement's text and parameters, as drizzle would send them. */
export const toQuery = (query: SQL) => dialect.sqlToQuery(query)

/**
 * `rows` as a prepared statement on PostgreSQL, for the hot paths' constant texts. Without it
 * (drizzle prepares nothing it is not told to) postgres.js sends every statement with parameters
 * as Parse + Describe, **waits** for the parameter types, then binds: two round trips per
 * statement, and nothing sent behind it on that connection until the first answer. Prepared, the
 * first use on a connection still asks; afterwards it is one round trip, and statements sent
 * without waiting go out together (pipelined). One server-side statement per connection and text:
 * only for texts that do not vary with the input (no `in (…)` lists of varying length). PGlite:
 * the same as `rows`.
 */
export async function preparedRows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  // A name makes drizzle pass `prepare: true` to postgres.js (which names the statement itself).
  const result = (await db._.session.prepareQuery(dialect.sqlToQuery(query), undefined, 'hot', false).execute()) as unknown as T[] | { rows: T[] }
  return Array.isArray(result) ? result : result.rows
}

/** A unique index refused the row (SQLSTATE 23505), as the driver reports it or drizzle's wrapper carries it. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined
  return e?.code === '23505' || e?.cause?.code === '23505'
}
