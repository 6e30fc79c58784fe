import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto'
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The server's secrets that must NOT live in the database, so that write access to the database
 * alone can neither change what runs on customers' computers nor rewrite the audit trail:
 *
 * - the **signing key** (Ed25519): signs each script version's statement at upload; agents get
 *   the public key at join and refuse a version whose signature does not verify;
 * - the **server secret** (32 random bytes): keys the audit trail's hash chain (HMAC) and seals
 *   secrets the database must keep (TOTP secrets, AES-256-GCM).
 *
 * Both are read from the environment (SIGNING_KEY, SERVER_SECRET) or from files in KEY_DIR,
 * created on first start with mode 0600. Several instances must share them (see docs/security.md).
 */
export interface KeyringOptions {
  /** Folder holding signing-ed25519.pem, server-secret and retired/ (old signing keys). */
  dir: string
  /** A PKCS#8 PEM Ed25519 private key, instead of the file. */
  signingKeyPem?: string | undefined
  /** 64 hex digits, instead of the file. */
  serverSecretHex?: string | undefined
}

export const SIGNING_KEY_FILE = 'signing-ed25519.pem'
export const SERVER_SECRET_FILE = 'server-secret'
export const RETIRED_DIR = 'retired'

/** First 16 hex digits of the sha256 of a public key's SPKI DER: how a key is named everywhere. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
}

/** Writes a new file only if none exists (several processes may start at once): the first one wins, all read it. */
function createOnce(path: string, content: string) {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(tmp, content, { mode: 0o600 })
  try {
    linkSync(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(tmp)
  }
}

export function newSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ed25519')
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

export function ensureKeyFiles(dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const signing = join(dir, SIGNING_KEY_FILE)
  if (!existsSync(signing)) createOnce(signing, newSigningKeyPem())
  const secret = join(dir, SERVER_SECRET_FILE)
  if (!existsSync(secret)) createOnce(secret, `${randomBytes(32).toString('hex')}\n`)
}

export class KeyringError extends Error {}

export class Keyring {
  readonly signingKeyId: string
  /** base64 of the SPKI DER of the signing public key, as agents receive it. */
  readonly signingPublicKey: string
  readonly auditKeyId: string
  private readonly privateKey: KeyObject
  private readonly publicKeys = new Map<string, KeyObject>()
  private readonly auditKey: Buffer
  private readonly sealKey: Buffer

  constructor(signingKeyPem: string, serverSecret: Buffer, retiredPems: readonly string[] = []) {
    if (serverSecret.length !== 32) throw new KeyringError('The server secret must be 32 bytes (64 hex digits)')
    try {
      this.privateKey = createPrivateKey(signingKeyPem)
    } catch (err) {
      throw new KeyringError(`The signing key is not a PEM private key: ${(err as Error).message}`)
    }
    if (this.privateKey.asymmetricKeyType !== 'ed25519') throw new KeyringError(`The signing key must be Ed25519, not ${this.privateKey.asymmetricKeyType}`)
    const publicKey = createPublicKey(this.privateKey)
    this.signingKeyId = keyIdOf(publicKey)
    this.signingPublicKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
    this.publicKeys.set(this.signingKeyId, publicKey)
    for (const pem of retiredPems) {
      const retired = createPublicKey(createPrivateKey(pem))
      this.publicKeys.set(keyIdOf(retired), retired)
    }
    // Separate keys for separate uses, all from the one secret.
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), info, 32))
    this.auditKey = derive('helpline audit chain v1')
    this.sealKey = derive('helpline sealed secrets v1')
    this.auditKeyId = createHash('sha256').update(this.auditKey).digest('hex').slice(0, 16)
  }

  /** Ed25519 signature (base64) of the text's UTF-8 bytes with the current signing key. */
  sign(text: string): string {
    return sign(null, Buffer.from(text, 'utf8'), this.privateKey).toString('base64')
  }

  /** Whether `signature` is a signature of `text` by the named key (current or retired). */
  verify(text: string, signature: string, keyId: string): boolean {
    const key = this.publicKeys.get(keyId)
    if (!key) return false
    try {
      return verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signature, 'base64'))
    } catch {
      return false
    }
  }

  /** HMAC-SHA256 (hex) for the audit trail's hash chain. */
  mac(text: string): string {
    return createHmac('sha256', this.auditKey).update(text, 'utf8').digest('hex')
  }

  /** Encrypts a secret the database must hold (AES-256-GCM): `v1.<iv>.<ciphertext>.<tag>`, base64url parts. */
  seal(plaintext: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv)
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return ['v1', iv, body, cipher.getAuthTag()].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.')
  }

  /** The secret sealed by seal(); throws when it was sealed with another server secret or altered. */
  open(sealed: string): string {
    const [version, iv, body, tag] = sealed.split('.')
    if (version !== 'v1' || !iv || body === undefined || !tag) throw new KeyringError('Not a sealed secret')
    const decipher = createDecipheriv('aes-256-gcm', this.sealKey, Buffer.from(iv, 'base64url'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
  }
}

/**
 * Rotation of the signing key file: the current key moves to retired/<keyId>.pem (its public
 * half keeps verifying what it signed) and a new key takes its place. The new key is written
 * first and renamed over the old one, so at every instant KEY_DIR holds a usable signing key.
 */
export function rotateSigningKeyFile(dir: string): { retiredKeyId: string; keyId: string } {
  ensureKeyFiles(dir)
  const current = join(dir, SIGNING_KEY_FILE)
  const currentPem = readFileSync(current, 'utf8')
  const retiredKeyId = keyIdOf(createPublicKey(createPrivateKey(currentPem)))
  const retiredDir = join(dir, RETIRED_DIR)
  mkdirSync(retiredDir, { recursive: true, mode: 0o700 })
  const retiredPath = join(retiredDir, `${retiredKeyId}.pem`)
  if (!existsSync(retiredPath)) createOnce(retiredPath, currentPem)
  const pem = newSigningKeyPem()
  const tmp = `${current}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(tmp, pem, { mode: 0o600 })
  renameSync(tmp, current)
  return { retiredKeyId, keyId: keyIdOf(createPublicKey(createPrivateKey(pem))) }
}

/** Loads the keys from the environment's values or KEY_DIR, creating the files on first start. */
export function loadKeyring(options: KeyringOptions): Keyring {
  const needFiles = !options.signingKeyPem || !options.serverSecretHex
  if (needFiles) ensureKeyFiles(options.dir)
  const signingPem = options.signingKeyPem ?? readFileSync(join(options.dir, SIGNING_KEY_FILE), 'utf8')
  const secretHex = (options.serverSecretHex ?? readFileSync(join(options.dir, SERVER_SECRET_FILE), 'utf8')).trim()
  if (!/^[0-9a-fA-F]{64}$/.test(secretHex)) throw new KeyringError('The server secret must be 64 hex digits')
  const retiredDir = join(options.dir, RETIRED_DIR)
  const retired = existsSync(retiredDir)
    ? readdirSync(retiredDir)
        .filter((f) => f.endsWith('.pem'))
        .map((f) => readFileSync(join(retiredDir, f), 'utf8'))
    : []
  return new Keyring(signingPem, Buffer.from(secretHex, 'hex'), retired)
}

/** Fresh keys held in memory only (tests, one-off tools). */
export function ephemeralKeyring(): Keyring {
  return new Keyring(newSigningKeyPem(), randomBytes(32))
}
