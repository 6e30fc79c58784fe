import type { SQL } from 'drizzle-orm'
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
