import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../config.ts'
import { openDatabase } from '../db/client.ts'
import { KeyringError, loadKeyring, SERVER_SECRET_FILE, SIGNING_KEY_FILE } from '../lib/keyring.ts'
import { AuditService } from '../services/audit.service.ts'

/**
 * `npm run audit:verify`: checks every session's audit trail and the site-wide trail with the
 * server's configuration and keys (the same environment as `npm start`), one line per broken
 * chain naming its first broken event. Exit codes: 0 all intact, 1 a chain is broken, 2 the
 * configuration or keys could not be read. It reads only (no migrations). With the embedded
 * database, stop the server first: PGlite's folder has one user at a time.
 */
async function main(): Promise<number> {
  let config
  let keyring
  try {
    config = loadConfig()
    // A checker that made itself new keys would find every chain broken: the server's or none.
    const missing = [
      ...(config.SERVER_SECRET ? [] : [join(config.KEY_DIR, SERVER_SECRET_FILE)]),
      ...(config.SIGNING_KEY ? [] : [join(config.KEY_DIR, SIGNING_KEY_FILE)]),
    ].filter((path) => !existsSync(path))
    if (missing.length > 0) {
      console.error(`The server's keys are not here (${missing.join(', ')}): run with the server's KEY_DIR or SERVER_SECRET / SIGNING_KEY`)
      return 2
    }
    keyring = loadKeyring({ dir: config.KEY_DIR, signingKeyPem: config.SIGNING_KEY, serverSecretHex: config.SERVER_SECRET })
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KeyringError) {
      console.error(err.message)
      return 2
    }
    throw err
  }
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, migrate: false })
  try {
    const audit = new AuditService(database.db, keyring)
    const totals = await audit.verifyAll(({ chain, report }) => {
      const at = report.firstBroken
      console.log(`BROKEN ${chain}: first broken event ${at?.id ?? '?'}: ${at?.reason ?? 'unknown'} (${report.verified} of ${report.events} events verified before it)`)
    })
    const checked = `${totals.sessions} session trail(s) and the site trail, ${totals.events} events, audit key ${keyring.auditKeyId}`
    if (totals.broken > 0) {
      console.log(`${totals.broken} broken chain(s) among ${checked}`)
      return 1
    }
    console.log(`All intact: ${checked}`)
    return 0
  } finally {
    await database.close()
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(2)
  },
)
