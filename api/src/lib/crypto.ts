import * as crypto from 'node:crypto'
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// scrypt parameters: N=2^15, r=8, p=1 is OWASP's current minimum for scrypt (~32 MiB, ~50 ms here).
const N = 2 ** 15
const r = 8
const p = 1
const keyLength = 32

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/** Hashes a password into a self-describing string: scrypt$N$r$p$salt$hash (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, { N, r, p, maxmem: 64 * 1024 * 1024 })
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, rr, pp, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || !n || !rr || !pp || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(rr),
    p: Number(pp),
    maxmem: 64 * 1024 * 1024,
  })
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** A hash that costs the same as a real check, so an unknown email takes as long as a wrong password. */
export const dummyPasswordHash = await hashPassword(randomBytes(16).toString('hex'))

/** A random bearer token with a readable kind prefix, e.g. hlp_… for personal API tokens. */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`
}

/**
 * A request's id: a random UUID, as one flat string. Node 20's `randomUUID()` builds it as a rope
 * of about 16 pieces (488 bytes kept alive instead of 64), and a held agent poll keeps its id (in
 * Fastify's request and its logger's bindings) for the whole hold: 4,000 held agents kept 1.7 MB
 * and 60,000 objects of request ids for the garbage collector to mark (docs/notes/issue-13-idle-5.md).
 */
export function requestId(): string {
  // The text is lower case already: toLowerCase only flattens it.
  return crypto.randomUUID().toLowerCase()
}

// A namespace import: a named import of `hash` would not even load on Node 20.11 (engines allow it).
const oneShot = typeof crypto.hash === 'function'

/** Tokens are 256-bit random, so a fast unsalted sha256 is enough to store them safely. */
export function hashToken(token: string): string {
  // The one-shot hash (Node >= 20.12) is a third of createHash's cost: every agent poll pays it.
  return oneShot ? crypto.hash('sha256', token, 'hex') : createHash('sha256').update(token).digest('hex')
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url')
}
