import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { migrationsFolder } from './db/client.ts'
import { preparePgliteDataDir } from './db/pglite.ts'
import { generatePassword } from './lib/crypto.ts'
import { connectionBudget, openFileLimit } from './lib/fd-limit.ts'
import { collectStartupGarbage, growHeapInSteps } from './lib/startup-memory.ts'

/** The only file that listens. Built into api/dist/server.js (`npm run build`); started by `npm start` or `node api/dist/server.js`. */
async function main() {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(2)
    }
    throw err
  }
  // A fresh embedded database is set up first: that can outlast a plugin's start-up timeout.
  if (!config.DATABASE_URL) await preparePgliteDataDir(config.DATA_DIR, migrationsFolder)
  const app = await buildApp({ config })

  const first = await app.services.accounts.ensureFirstAdmin(config.ADMIN_EMAIL, config.ADMIN_PASSWORD, generatePassword)
  if (first.generatedPassword) {
    // Printed once, to the terminal only (not the structured log), so it never reaches log storage.
    process.stdout.write(
      `\n  First site admin created: ${config.ADMIN_EMAIL}\n  Password (shown once, change it after signing in): ${first.generatedPassword}\n\n`,
    )
  } else if (first.created) {
    app.log.info({ email: config.ADMIN_EMAIL }, 'first site admin created from ADMIN_EMAIL / ADMIN_PASSWORD')
  }

  // Versions made before signing existed (or signed by a key rotated out since) are signed now
  // when their bytes still match their digest; the rest cannot run. The site audit trail says which.
  const signing = await app.services.scripts.integrity.signPending()
  if (signing.signed.length + signing.resigned.length > 0) {
    app.log.info({ keyId: signing.keyId, signed: signing.signed.length, resigned: signing.resigned.length }, 'signed script versions with the current signing key')
  }
  if (signing.refused.length > 0) {
    app.log.warn({ versions: signing.refused }, 'script versions whose files do not match their digest or signature were left unsigned: they cannot run')
  }

  stopOnSignals(app, config.SHUTDOWN_TIMEOUT_SECONDS)

  const address = await app.listen({ port: config.PORT, host: config.HOST })
  app.log.info(`Helpline on ${address} (database: ${app.database.driver})`)
  limitConnections(app)
  growHeapInSteps()
  collectStartupGarbage()
}

/**
 * Graceful stop for rolling updates behind a load balancer. On SIGTERM (or SIGINT) the server
 * stops accepting connections and answers 503 on kept-alive ones (so the balancer's health check
 * fails and it sends nothing new here), answers every held agent poll at once with what there is
 * (the agent polls again at once and the balancer sends it to another instance), ends console
 * streams with a short retry hint (they reconnect elsewhere and resume from their cursor), lets
 * other requests in flight finish, closes the database, and exits 0 — or exits 1 after
 * `timeoutSeconds` whatever is still open.
 */
function stopOnSignals(app: FastifyInstance, timeoutSeconds: number) {
  let closing = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (closing) return
      closing = true
      app.log.info({ signal, timeoutSeconds }, 'shutting down')
      const force = setTimeout(() => {
        app.log.warn('shutdown took too long; exiting with requests still open')
        process.exit(1)
      }, timeoutSeconds * 1000)
      force.unref()
      app.close().then(
        () => {
          app.log.info('shut down')
          process.exit(0)
        },
        (err: unknown) => {
          app.log.error({ err }, 'error while closing')
          process.exit(1)
        },
      )
    })
  }
}

/**
 * Caps client connections below the open-file limit, so that with more agents than descriptors the
 * server keeps serving what it holds and refuses new connections cleanly; logs the limit (Node
 * cannot raise it: `ulimit -n` or systemd's LimitNOFILE can, up to the hard limit).
 */
function limitConnections(app: Awaited<ReturnType<typeof buildApp>>) {
  const limit = openFileLimit()
  if (!limit) return
  const maxConnections = connectionBudget(limit.soft)
  if (maxConnections > 0) app.server.maxConnections = maxConnections
  const fields = { openFiles: { soft: String(limit.soft), hard: String(limit.hard) }, maxConnections: maxConnections || 'unlimited' }
  if (limit.soft < limit.hard) app.log.warn(fields, `open-file limit ${limit.soft} (hard ${limit.hard}): raise it (ulimit -n) to hold more agents`)
  else app.log.info(fields, `open-file limit ${limit.soft}: at most ${maxConnections || 'unlimited'} connections`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
