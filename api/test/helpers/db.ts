import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { migrationsFolder, openDatabase, type Database } from '../../src/db/client.ts'

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

/**
 * initdb dominates a fresh PGlite's start (~4–8 s here). The first test process to need one
 * dumps a migrated database to a file keyed by the migrations and PGlite's version; every other
 * starts from that dump (~1.5 s). Written to a temporary name and renamed, so racing processes
 * never read half a file.
 */
function pgliteVersion(): string {
  // The package's exports hide package.json; walk up from its entry point instead.
  let dir = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')))
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir)
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version
}

export async function pgliteSnapshot(): Promise<Blob> {
  const hash = createHash('sha256')
  hash.update(pgliteVersion())
  for (const file of readdirSync(migrationsFolder, { recursive: true }).map(String).sort()) {
    const path = join(migrationsFolder, file)
    if (statSync(path).isFile()) hash.update(file).update(readFileSync(path))
  }
  const file = join(tmpdir(), `helpline-pglite-${hash.digest('hex').slice(0, 16)}.tar`)
  if (existsSync(file)) return new Blob([readFileSync(file)])
  const database = await openDatabase({ dataDir: 'memory://' })
  const dump = await database.pglite!.dumpDataDir('none')
  await database.close()
  const partial = `${file}.${process.pid}.tmp`
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()))
  renameSync(partial, file)
  return dump
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!testDatabaseUrl) {
    const database = await openDatabase({ dataDir: 'memory://', pgliteSnapshot: await pgliteSnapshot() })
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
