import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { generatePassword } from './lib/crypto.ts'
import { connectionBudget, openFileLimit } from './lib/fd-limit.ts'

/** The only file that listens. Start: `npm start` (embedded database) or with DATABASE_URL set. */
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

  let closing = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (closing) return
      closing = true
      app.log.info({ signal }, 'shutting down')
      // Stop accepting, let in-flight requests finish, close the database; force after 10 s.
      const force = setTimeout(() => process.exit(1), 10_000)
      force.unref()
      app.close().then(
        () => process.exit(0),
        (err: unknown) => {
          app.log.error({ err }, 'error while closing')
          process.exit(1)
        },
      )
    })
  }

  const address = await app.listen({ port: config.PORT, host: config.HOST })
  app.log.info(`Helpline on ${address} (database: ${app.database.driver})`)
  limitConnections(app)
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
