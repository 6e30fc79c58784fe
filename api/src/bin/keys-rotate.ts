import { ConfigError, loadConfig } from '../config.ts'
import { openDatabase } from '../db/client.ts'
import { rotateSigningKey, RotationError } from '../services/key-rotation.ts'

// `npm run keys:rotate`, with the server's own environment (KEY_DIR, DATABASE_URL or DATA_DIR).
// With the embedded database, stop the server first: PGlite opens its folder for one process.
let config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(err.message)
  process.exit(2)
}
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR })
try {
  const report = await rotateSigningKey(config, database)
  console.log(`Retired signing key ${report.retiredKeyId}: moved to ${config.KEY_DIR}/retired/${report.retiredKeyId}.pem`)
  console.log(`New signing key ${report.keyId} in ${config.KEY_DIR}`)
  console.log(`Re-signed ${report.resigned.length} script version(s); signed ${report.signed.length} that had no signature.`)
  for (const r of report.refused) {
    console.log(`Left unsigned (cannot run): script ${r.scriptId} version ${r.number} (${r.versionId}): ${r.problem.reason}, expected ${r.problem.expected}, got ${r.problem.actual}`)
  }
  console.log('Restart every server instance now: each keeps signing with the key it loaded until it restarts.')
  console.log('Agents already in a session keep the old key until they rejoin: scripts they are asked to run are refused (signed by an unknown key) until then.')
} catch (err) {
  if (!(err instanceof RotationError)) throw err
  console.error(err.message)
  process.exitCode = 2
} finally {
  await database.close()
}
