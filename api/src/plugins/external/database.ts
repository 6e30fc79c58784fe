import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { openDatabase, type Database } from '../../db/client.ts'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
  }
}

export interface DatabasePluginOptions {
  /** An already open database (tests share one per file); otherwise opened from config. */
  database?: Database | undefined
}

export default fp<DatabasePluginOptions>(
  async function database(app: FastifyInstance, options) {
    const db =
      options.database ??
      (await openDatabase({
        url: app.config.DATABASE_URL,
        ownerUrl: app.config.DATABASE_OWNER_URL,
        dataDir: app.config.DATA_DIR,
        connectTimeoutSeconds: app.config.DATABASE_CONNECT_TIMEOUT_SECONDS,
        statementTimeoutMs: app.config.DATABASE_STATEMENT_TIMEOUT_MS,
        poolMax: app.config.DATABASE_POOL_MAX,
      }))
    app.decorate('database', db)
    for (const warning of db.warnings) app.log.warn(warning)
    // A database handed in is owned by whoever opened it.
    if (!options.database) app.addHook('onClose', async () => db.close())
  },
  { name: 'database' },
)
