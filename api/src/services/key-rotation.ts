import type { Config } from '../config.ts'
import type { Database } from '../db/client.ts'
import { loadKeyring, rotateSigningKeyFile } from '../lib/keyring.ts'
import { ScriptIntegrity, type SigningReport } from './script-integrity.ts'

export class RotationError extends Error {}

export interface RotationReport extends SigningReport {
  retiredKeyId: string
}

/**
 * `npm run keys:rotate`: a new signing key, the old one retired (KEY_DIR/retired/<keyId>.pem),
 * and every script version whose bytes still match its digest and old signature signed again
 * with the new key. Running servers keep signing with the key they loaded until they restart;
 * the start-up pass then re-signs whatever they signed meanwhile.
 */
export async function rotateSigningKey(config: Config, database: Database): Promise<RotationReport> {
  if (config.SIGNING_KEY) {
    throw new RotationError(
      'SIGNING_KEY is set: the signing key comes from the environment, not KEY_DIR. Rotate it by putting the current key in KEY_DIR/retired/<keyId>.pem, setting a new SIGNING_KEY on every instance, and restarting them (start-up re-signs every version).',
    )
  }
  const { retiredKeyId } = rotateSigningKeyFile(config.KEY_DIR)
  const keyring = loadKeyring({ dir: config.KEY_DIR, serverSecretHex: config.SERVER_SECRET })
  const integrity = new ScriptIntegrity(database.db, keyring)
  await integrity.siteEvent({
    type: 'signing_key.rotated',
    actor: { type: 'system' },
    targetType: 'signing_key',
    targetId: keyring.signingKeyId,
    data: { retiredKeyId, keyId: keyring.signingKeyId },
  })
  const report = await integrity.signPending()
  return { ...report, retiredKeyId }
}
