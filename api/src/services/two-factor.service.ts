import { createHash, randomBytes } from 'node:crypto'
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import { Secret, TOTP } from 'otpauth'
import type { Db } from '../db/client.ts'
import { users } from '../db/schema.ts'
import { conflict, unauthorized, unprocessable } from '../errors.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import { verifyPassword } from '../lib/crypto.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { AccountsService } from './accounts.service.ts'
import type { Principal } from './auth.service.ts'
import type { SettingsService } from './settings.service.ts'

type UserRow = typeof users.$inferSelect
/** How the owner proves it is them: the password, or a current or recovery code. */
type Proof = { password?: string | undefined; code?: string | undefined }

const PERIOD = 30
const RECOVERY_CODES = 10
// 16 base32 characters: 80 random bits, so a stolen table of their sha256 cannot be searched.
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'

/** SHA-1, 6 digits, 30 s: what every authenticator app speaks (RFC 6238's defaults). */
function totpFor(secretBase32: string, label: string) {
  return new TOTP({ issuer: 'Helpline', label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secretBase32) })
}

function newRecoveryCode(): string {
  const bytes = randomBytes(16)
  const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % 32]).join('')
  return chars.match(/.{4}/g)!.join('-')
}

/** Case, spaces and dashes do not matter when a recovery code is typed. */
const normaliseRecovery = (code: string) => code.toLowerCase().replace(/[\s-]/g, '')
const hashRecovery = (code: string) => createHash('sha256').update(normaliseRecovery(code)).digest('hex')
const looksLikeTotp = (code: string) => /^\d{6}$/.test(code.replace(/\s/g, ''))

/**
 * TOTP two-factor sign-in for the console. The secret is sealed with the server secret (never
 * stored or logged in plain text); a code is accepted once per time step (a code seen on the wire
 * cannot be replayed); recovery codes are kept as hashes and each works once.
 */
export class TwoFactorService {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly accounts: AccountsService,
    private readonly settings: SettingsService,
  ) {}

  /**
   * A new secret to enrol, or to replace the current one once confirmed. Replacing needs the
   * password or a code: a borrowed sign-in must not swap the second factor and lock its owner out.
   */
  async start(principal: Principal, proof: Proof) {
    const user = await this.accounts.findRow(principal.userId)
    if (user.totpEnabledAt) await this.checkProof(user, proof)
    const secret = new Secret({ size: 20 }).base32
    await this.db.update(users).set({ totpPendingSecret: this.keyring.seal(secret) }).where(eq(users.id, principal.userId))
    return { secret, uri: totpFor(secret, principal.email).toString() }
  }

  /** Confirms the enrolment with a code from the app; returns the recovery codes, once. */
  async confirm(principal: Principal, code: string) {
    const user = await this.accounts.findRow(principal.userId)
    if (!user.totpPendingSecret) throw conflict('TOTP_NOT_STARTED', 'Start two-factor set-up first (POST /api/v1/me/two-factor)')
    const step = this.stepOf(this.keyring.open(user.totpPendingSecret), user.email, code)
    if (step === undefined) throw unprocessable('TOTP_INVALID', 'The code is wrong or has expired', { code: 'Wrong or expired code' })
    const recoveryCodes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode)
    await this.accounts.changing(user.id, async (tx) => {
      await tx
        .update(users)
        .set({
          totpSecret: user.totpPendingSecret,
          totpPendingSecret: null,
          totpEnabledAt: new Date(),
          totpLastStep: step,
          totpRecoveryCodes: recoveryCodes.map(hashRecovery),
          updatedAt: new Date(),
        })
        .where(eq(users.id, user.id))
      await appendSiteEvent(tx, this.keyring, { type: 'user.two_factor_enabled', actor: { type: 'user', id: user.id }, targetType: 'user', targetId: user.id })
    })
    return { recoveryCodes }
  }

  /** Turns two-factor off, proven with the password or a code; refused while the site requires it. */
  async disable(principal: Principal, proof: Proof) {
    const user = await this.accounts.findRow(principal.userId)
    if (!user.totpEnabledAt) throw conflict('TOTP_NOT_ENABLED', 'Two-factor sign-in is not on')
    if ((await this.settings.get()).requireTwoFactor) throw conflict('TOTP_REQUIRED_BY_SITE', 'This site requires two-factor sign-in for everyone')
    await this.checkProof(user, proof)
    await this.accounts.changing(user.id, async (tx) => {
      await tx
        .update(users)
        .set({ totpSecret: null, totpPendingSecret: null, totpEnabledAt: null, totpLastStep: null, totpRecoveryCodes: null, updatedAt: new Date() })
        .where(eq(users.id, user.id))
      await appendSiteEvent(tx, this.keyring, { type: 'user.two_factor_disabled', actor: { type: 'user', id: user.id }, targetType: 'user', targetId: user.id })
    })
  }

  /** The password, or a current or recovery code (spent), proves it is the owner asking. */
  private async checkProof(user: UserRow, proof: Proof) {
    if (proof.password !== undefined) {
      if (!(await verifyPassword(proof.password, user.passwordHash))) {
        throw unprocessable('WRONG_PASSWORD', 'The password is wrong', { password: 'Wrong password' })
      }
    } else if (proof.code !== undefined) {
      if (!(await this.useCode(user, proof.code))) throw unprocessable('TOTP_INVALID', 'The code is wrong or was already used', { code: 'Wrong or used code' })
    } else {
      throw unprocessable('PROOF_REQUIRED', 'Give your password or a code from your authenticator', { password: 'Password or code required' })
    }
  }

  /** The second step of signing in: nothing to do without two-factor; otherwise a code that works. */
  async checkSignIn(user: UserRow, code: string | undefined) {
    if (!user.totpEnabledAt) return
    if (code === undefined) throw unauthorized('TOTP_REQUIRED', 'Enter the code from your authenticator app, or a recovery code')
    if (!(await this.useCode(user, code))) throw unauthorized('TOTP_INVALID', 'The code is wrong or was already used')
  }

  /** The time step a code belongs to (now or one step either side), or undefined. */
  private stepOf(secret: string, label: string, code: string): number | undefined {
    const token = code.replace(/\s/g, '')
    if (!looksLikeTotp(token)) return undefined
    const delta = totpFor(secret, label).validate({ token, window: 1 })
    return delta === null ? undefined : Math.floor(Date.now() / 1000 / PERIOD) + delta
  }

  /**
   * Spends a code: a TOTP code moves the last accepted step forward (a single conditional
   * UPDATE, so the same code twice, even at once, works once); a recovery code is removed from
   * the stored hashes the same way.
   */
  private async useCode(user: UserRow, code: string): Promise<boolean> {
    if (!user.totpSecret) return false
    if (looksLikeTotp(code)) {
      const step = this.stepOf(this.keyring.open(user.totpSecret), user.email, code)
      if (step === undefined) return false
      const spent = await this.db
        .update(users)
        .set({ totpLastStep: step })
        .where(and(eq(users.id, user.id), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
        .returning({ id: users.id })
      return spent.length === 1
    }
    const hash = hashRecovery(code)
    const spent = await this.db
      .update(users)
      .set({ totpRecoveryCodes: sql`${users.totpRecoveryCodes} - ${hash}::text` })
      .where(and(eq(users.id, user.id), sql`${users.totpRecoveryCodes} @> jsonb_build_array(${hash}::text)`))
      .returning({ id: users.id })
    return spent.length === 1
  }
}
