import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { fileNameProblem, quoteName, versionDigestText, versionStatement, type DigestFile, type FileNameProblemCode } from '@helpline/sdk'
import type { Translate } from '../i18n/index.ts'
import type { ApprovedScript, SigningKey } from '../state.ts'

/** Why the agent will not run a list of scripts; the agent words it for the customer and the CSR. */
export type VerifyProblem =
  | { code: 'no_signing_key' }
  | { code: 'bad_key'; reason: string }
  | { code: 'bad_file_name'; script: string; file: string; rule: FileNameProblemCode; message: string }
  | { code: 'incomplete'; script: string; field: string }
  | { code: 'digest_mismatch'; script: string; version: number; listed: string; computed: string }
  | { code: 'unknown_key'; script: string; version: number; keyId: string; known: string }
  | { code: 'bad_signature'; script: string; version: number }

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')
const keys = new Map<string, KeyObject>()

/** The public key from join, checked: Ed25519, and its id is the sha256 of its SPKI DER as the server names it. */
function publicKeyOf(key: SigningKey): KeyObject | string {
  const cacheKey = `${key.algorithm} ${key.keyId} ${key.publicKey}`
  const cached = keys.get(cacheKey)
  if (cached) return cached
  if (key.algorithm !== 'ed25519') return `algorithm ${key.algorithm} is not ed25519`
  let object: KeyObject
  try {
    object = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' })
  } catch (err) {
    return `not a public key (${err instanceof Error ? err.message : String(err)})`
  }
  if (object.asymmetricKeyType !== 'ed25519') return `a ${object.asymmetricKeyType} key, not ed25519`
  const id = createHash('sha256').update(object.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
  if (id !== key.keyId) return `its id is ${id}, not ${key.keyId}`
  keys.set(cacheKey, object)
  return object
}

/**
 * Checks scripts the customer is asked to approve (or approved) with nothing but the agent's own
 * knowledge: every file name is one the agent may write, each version digest recomputed from the
 * listed files (name, role, size, sha256) equals the listed digest, and the server's signature over
 * that version's statement verifies with the key received at join. The first problem found, or
 * undefined. The downloaded bytes are then checked against these same sha256s.
 */
export function verifyScripts(scripts: readonly ApprovedScript[], key: SigningKey | undefined): VerifyProblem | undefined {
  // Names first: they decide where files are written, whatever else is wrong.
  for (const s of scripts) {
    for (const f of s.files) {
      const rule = fileNameProblem(f.name)
      if (rule) return { code: 'bad_file_name', script: s.name, file: f.name, rule: rule.code, message: rule.message }
    }
  }
  if (!key) return { code: 'no_signing_key' }
  const publicKey = publicKeyOf(key)
  if (typeof publicKey === 'string') return { code: 'bad_key', reason: publicKey }
  for (const s of scripts) {
    for (const field of ['scriptId', 'versionId', 'digest', 'signature', 'signatureKeyId'] as const) {
      if (!s[field]) return { code: 'incomplete', script: s.name, field }
    }
    const computed = sha256(versionDigestText(s.files as DigestFile[]))
    if (computed !== s.digest) return { code: 'digest_mismatch', script: s.name, version: s.version, listed: s.digest!, computed }
    if (s.signatureKeyId !== key.keyId) return { code: 'unknown_key', script: s.name, version: s.version, keyId: s.signatureKeyId!, known: key.keyId }
    const statement = versionStatement({ scriptId: s.scriptId!, versionId: s.versionId!, number: s.version, digest: computed })
    let ok = false
    try {
      ok = verify(null, Buffer.from(statement, 'utf8'), publicKey, Buffer.from(s.signature!, 'base64'))
    } catch {
      ok = false
    }
    if (!ok) return { code: 'bad_signature', script: s.name, version: s.version }
  }
  return undefined
}

/** In English, for the CSR (chat, the run's error); names quoted with their control characters escaped. */
export function describeProblem(p: VerifyProblem): string {
  switch (p.code) {
    case 'no_signing_key':
      return 'this agent has no signing key from the server (it joined a server that does not sign scripts), so it runs no scripts'
    case 'bad_key':
      return `the signing key received at join is not usable: ${p.reason}`
    case 'bad_file_name':
      return `${quoteName(p.script)}: file name ${quoteName(p.file)} ${p.message}`
    case 'incomplete':
      return `${quoteName(p.script)} came without its ${p.field}, so its signature cannot be checked`
    case 'digest_mismatch':
      return `${quoteName(p.script)} v${p.version}: its listed files give digest ${p.computed}, not the listed ${p.listed}`
    case 'unknown_key':
      return `${quoteName(p.script)} v${p.version} is signed with key ${p.keyId}; this agent knows key ${p.known} (the server's key changed after it joined: it gets the new one when it rejoins or joins a new session)`
    case 'bad_signature':
      return `${quoteName(p.script)} v${p.version}: the server's signature does not match the listed files`
  }
}

/** In the customer's language. */
export function wordProblem(p: VerifyProblem, t: Translate): string {
  const { code, ...values } = p
  return t(`verify_${code}`, 'file' in values ? { ...values, file: quoteName(values.file) } : values)
}
