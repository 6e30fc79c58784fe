import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { sql, type SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { grantAppRole, roleOf } from './roles.ts'
import * as schema from './schema.ts'

export type Schema = typeof schema
/** One type for both drivers: everything above this file is driver-agnostic. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

const BYTEA_OID = 17
// PGlite types serializers as returning text, but its protocol writer sends any byte view as a
// binary parameter, which is what bytea wants.
const passBytes = (bytes: Uint8Array) => bytes as unknown as string

export const migrationsFolder = fileURLToPath(new URL('../../../migrations', import.meta.url))

export interface Database {
  db: Db
  driver: 'pglite' | 'postgres'
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
  /** LISTEN/NOTIFY where the driver is shared by several processes; undefined for PGlite. */
  postgres?: postgres.Sql
  /** The embedded database, when that is the driver. */
  pglite?: PGlite
  /**
   * A bytea value as this driver sends it fastest: PGlite as a binary parameter, postgres.js
   * (which sends every parameter as text) as base64, a third smaller than its hex.
   */
  bytes(content: Buffer): SQL
  /** What the start-up log should warn about (e.g. the app's role owns its audit trail). */
  warnings: string[]
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** postgres:// URL of a real server; when absent the embedded PGlite is used. */
  url?: string | undefined
  /** PGlite's data folder; 'memory://' keeps everything in memory (tests). */
  dataDir: string
  /** A PGlite data-directory dump to start from instead of running initdb (tests: ~4x faster). */
  pgliteSnapshot?: Blob | undefined
  /**
   * postgres:// URL of the tables' owner: migrations run as it, then `url`'s role is granted
   * exactly what the app needs (db/roles.ts). Without it, `url` migrates (and owns the tables).
   */
  ownerUrl?: string | undefined
  /** False: do not migrate (tools that only read, such as `npm run audit:verify`). */
  migrate?: boolean | undefined
}

/** Opens the database and applies every pending migration. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    // Quiet NOTICEs such as "relation already exists, skipping" from the migrator.
    let warnings: string[] = []
    if (options.migrate !== false && options.ownerUrl) {
      const owner = postgres(options.ownerUrl, { max: 1, onnotice: () => {} })
      try {
        await migratePostgres(drizzlePostgres(owner), { migrationsFolder })
        warnings = await grantAppRole(owner, roleOf(options.url))
      } finally {
        await owner.end({ timeout: 5 })
      }
    }
    const client = postgres(options.url, { max: 10, onnotice: () => {} })
    const db = drizzlePostgres(client, { schema }) as unknown as Db
    if (options.migrate !== false && !options.ownerUrl) await migratePostgres(drizzlePostgres(client), { migrationsFolder })
    return {
      db,
      driver: 'postgres',
      warnings,
      postgres: client,
      bytes: (content) => sql`decode(${content.toString('base64')}, 'base64')`,
      ping: async () => {
        await client`select 1`
      },
      close: () => client.end({ timeout: 5 }),
    }
  }
  if (!options.dataDir.startsWith('memory://')) mkdirSync(options.dataDir, { recursive: true })
  const client = new PGlite(options.dataDir, {
    ...(options.pgliteSnapshot ? { loadDataDir: options.pgliteSnapshot } : {}),
    // PGlite's own bytea codec goes byte by byte in JavaScript (about 350 ms per MiB). Handing
    // the bytes through untouched makes the protocol send them in binary; answers come back as
    // hex, which Buffer decodes natively.
    serializers: { [BYTEA_OID]: passBytes },
    parsers: { [BYTEA_OID]: (text: string) => Buffer.from(text.slice(2), 'hex') },
  })
  const db = drizzlePglite(client, { schema }) as unknown as Db
  if (options.migrate !== false) await migratePglite(drizzlePglite(client), { migrationsFolder })
  return {
    db,
    driver: 'pglite',
    warnings: [],
    pglite: client,
    bytes: (content) => sql`${content}`,
    ping: async () => {
      if (client.closed) throw new Error('database is closed')
      await db.execute(sql`select 1`)
    },
    close: async () => {
      if (!client.closed) await client.close()
    },
  }
}
