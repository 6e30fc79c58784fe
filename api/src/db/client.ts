import { mkdirSync } from 'node:fs'
import type { PGlite } from '@electric-sql/pglite'
import { sql, type SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { migrationsFolder } from '../paths.ts'
import { pgSocketFactory } from './pg-socket.ts'
import { pipelineTransactions } from './pg-transaction.ts'
import { pgliteOptions, preparePgliteDataDir } from './pglite.ts'
import { PreparedPGlite } from './pglite-prepared.ts'
import { grantAppRole, roleOf } from './roles.ts'
import * as schema from './schema.ts'

export type Schema = typeof schema
/** One type for both drivers: everything above this file is driver-agnostic. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

const BYTEA_OID = 17
// PGlite types serializers as returning text, but its protocol writer sends any byte view as a
// binary parameter, which is what bytea wants.
const passBytes = (bytes: Uint8Array) => bytes as unknown as string

export { migrationsFolder }

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
  /** How long a new PostgreSQL connection may take (default 5 s). */
  connectTimeoutSeconds?: number | undefined
  /** The longest one statement may run before the database cancels it (default 15 s). */
  statementTimeoutMs?: number | undefined
  /** PostgreSQL: the most connections of the pool (default 10; config DATABASE_POOL_MAX). */
  poolMax?: number | undefined
  /**
   * postgres:// URL of the tables' owner: migrations run as it, then `url`'s role is granted
   * exactly what the app needs (db/roles.ts). Without it, `url` migrates (and owns the tables).
   */
  ownerUrl?: string | undefined
  /** False: do not migrate (tools that only read, such as `npm run audit:verify`). */
  migrate?: boolean | undefined
}

/** An arbitrary constant naming the migrations' advisory lock ("hl-migr"). */
const MIGRATION_LOCK = 0x686c_6d69

/** Retries of a failed connection come quickly (at most 1 s apart): a request must not wait on them. */
const reconnectDelaySeconds = (retries: number) => Math.min(2 ** retries / 20, 1) * (0.5 + Math.random() / 2)

/**
 * A postgres:// URL that names a Unix-socket directory as libpq does (`?host=/var/run/postgresql`):
 * the URL without it, and postgres.js's `path` to the socket. PostgreSQL on the same machine is
 * cheaper to reach that way than over TCP loopback (bench/README.md, dispatch). Other URLs pass as they are.
 */
export function viaSocket(url: string): { url: string; options: { path?: string } } {
  const parsed = new URL(url)
  const dir = parsed.searchParams.get('host')
  if (!dir?.startsWith('/')) return { url, options: {} }
  parsed.searchParams.delete('host')
  return { url: parsed.toString(), options: { path: `${dir.replace(/\/+$/, '')}/.s.PGSQL.${parsed.port || 5432}` } }
}

/** Opens the database and applies every pending migration. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000
  if (options.url) {
    const connectTimeout = options.connectTimeoutSeconds ?? 5
    // Migrations may legitimately run longer than any request's statement: their own connection,
    // no timeout, as the owner role when there is one (then the app role gets exactly its grants).
    // Under an advisory lock, so instances starting together migrate once.
    let warnings: string[] = []
    if (options.migrate !== false) {
      const owner = viaSocket(options.ownerUrl ?? options.url)
      const migrator = postgres(owner.url, { max: 1, onnotice: () => {}, connect_timeout: connectTimeout, ...owner.options })
      try {
        await migrator`select pg_advisory_lock(${MIGRATION_LOCK})`
        await migratePostgres(drizzlePostgres(migrator), { migrationsFolder })
        if (options.ownerUrl) warnings = await grantAppRole(migrator, roleOf(options.url))
      } finally {
        await migrator.end({ timeout: 5 })
      }
    }
    const settings = {
      max: options.poolMax ?? 10,
      onnotice: () => {},
      connect_timeout: connectTimeout,
      connection: {
        statement_timeout: statementTimeoutMs,
        // A transaction whose client vanished (its network dropped) does not hold its locks for long.
        idle_in_transaction_session_timeout: 2 * statementTimeoutMs,
        application_name: 'helpline',
      },
      // Idle connections are closed after a minute (fewer to find dead later); live ones are
      // probed by TCP keepalive after 30 s of silence, and watched by the socket factory.
      idle_timeout: 60,
      keep_alive: 30,
      backoff: reconnectDelaySeconds,
      socket: pgSocketFactory(statementTimeoutMs + 5_000),
    }
    // `socket` is documented (README, "Custom socket") but missing from postgres.js's types.
    const app = viaSocket(options.url)
    const client = postgres(app.url, { ...settings, ...app.options } as postgres.Options<{}>)
    const db = drizzlePostgres(client, { schema }) as unknown as Db
    pipelineTransactions(db._.session, client)
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
  // initdb's memory would stay in this process for good: a fresh directory is set up in a child
  // process that has exited before we open it (db/pglite.ts).
  if (!options.pgliteSnapshot) await preparePgliteDataDir(options.dataDir, options.migrate !== false ? migrationsFolder : undefined)
  const client = new PreparedPGlite(
    options.dataDir,
    pgliteOptions({
      ...(options.pgliteSnapshot ? { loadDataDir: options.pgliteSnapshot } : {}),
      // PGlite's own bytea codec goes byte by byte in JavaScript (about 350 ms per MiB). Handing
      // the bytes through untouched makes the protocol send them in binary; answers come back as
      // hex, which Buffer decodes natively.
      serializers: { [BYTEA_OID]: passBytes },
      parsers: { [BYTEA_OID]: (text: string) => Buffer.from(text.slice(2), 'hex') },
    }),
  )
  const db = drizzlePglite(client, { schema }) as unknown as Db
  if (options.migrate !== false) await migratePglite(drizzlePglite(client), { migrationsFolder })
  // Applied for parity with PostgreSQL; the embedded engine runs each statement on this process's
  // own thread and cannot interrupt it, so in practice it bounds nothing there (docs/security/outage.md).
  await client.exec(`set statement_timeout = ${Math.trunc(statementTimeoutMs)}`)
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
