import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { openDatabase, type Database } from '../../src/db/client.ts'

/**
 * The suite runs against PGlite by default and against a real PostgreSQL when TEST_DATABASE_URL
 * is set (CI runs both). Each caller gets a fresh, migrated database of its own.
 */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined

export interface TestDatabase {
  database: Database
  /** The postgres:// URL of this fresh database, when on a real server (for a second API instance). */
  url?: string | undefined
  drop(): Promise<void>
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!testDatabaseUrl) {
    const database = await openDatabase({ dataDir: 'memory://' })
    return { database, drop: async () => database.close() }
  }
  const name = `helpline_t_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = postgres(testDatabaseUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(testDatabaseUrl)
  url.pathname = `/${name}`
  const database = await openDatabase({ url: url.toString(), dataDir: 'memory://' })
  return {
    database,
    url: url.toString(),
    drop: async () => {
      await database.close()
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}
