import { eq, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { accessTokens, users } from '../db/schema.ts'
import { forbidden, unauthorized, unprocessable } from '../errors.ts'
import { dummyPasswordHash, hashPassword, hashToken, newToken, verifyPassword } from '../lib/crypto.ts'
import { scopesForRole, type Scope } from '../lib/scopes.ts'
import { toUser, type AccountsService, type Role } from './accounts.service.ts'
import { requireTwoFactorSql } from './settings.service.ts'
import { effectiveScopes, type RevokedReason, type TokensService } from './tokens.service.ts'
import type { TwoFactorService } from './two-factor.service.ts'

export interface Principal {
  userId: string
  /**
   * What this request acts as: a site admin only when the user is one AND the credential carries
   * the admin scope, so an admin's token without it reaches no more than a CSR's.
   */
  role: Role
  /** The user's own role (admin routes check it before the scope). */
  accountRole: Role
  email: string
  tokenId: string
  tokenKind: 'session' | 'personal'
  scopes: Scope[]
  /** When the credential stops working unless used again (a sign-in slides); null: never. */
  expiresAt: Date | null
  /** The site requires two-factor sign-in and this user has not set it up: only that is open to them. */
  mustEnrolTwoFactor: boolean
}

/**
 * Some things are too strong for an API token whatever its scopes: a stolen token must not mint
 * admins, take over accounts by password, turn off two-factor or make itself more tokens.
 */
export function requireSignIn(principal: Principal, what = 'do this') {
  if (principal.tokenKind !== 'session') throw forbidden('SIGN_IN_REQUIRED', `Only a console sign-in may ${what}; API tokens cannot, whatever their scopes`)
}

/** Why a credential that was valid no longer is, in the words of a 401 (and of a stream's last event). */
export interface CredentialProblem {
  code: 'INVALID_TOKEN' | 'ACCOUNT_DISABLED'
  message: string
}

/** What a holder of an ended credential is told (it was theirs, so the reason is no secret). */
const endedBecause: Record<RevokedReason, string> = {
  revoked: 'This API token was revoked',
  revoked_by_admin: 'A site admin ended this sign-in or API token',
  user_disabled: 'The account was disabled',
  password_reset: 'A site admin set a new password for this account; sign in again',
  password_changed: 'The account’s password was changed; sign in again',
  signed_out: 'Signed out',
}

// Last use is written when the client address changes, otherwise at most once a minute: writing
// it on every request would turn every read into a write.
const TOUCH_INTERVAL_MS = 60_000

const invalidCredentials = () => unauthorized('INVALID_CREDENTIALS', 'Wrong email or password')
const invalidTokenProblem: CredentialProblem = { code: 'INVALID_TOKEN', message: 'The token is missing, invalid, expired or revoked' }
const disabledProblem: CredentialProblem = { code: 'ACCOUNT_DISABLED', message: 'This account is disabled' }

export class AuthService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
    private readonly tokens: TokensService,
    private readonly twoFactor: TwoFactorService,
    private readonly sessionTtlMs: number,
    /** LOCAL_PASSWORDS=off: only this email (BREAK_GLASS_ADMIN, if any) may use a password. */
    private readonly localPasswords: { on: boolean; breakGlass?: string | undefined } = { on: true },
  ) {}

  /** Whether this account may sign in with, or change, a password (LOCAL_PASSWORDS, docs/sso.md). */
  passwordAllowed(email: string): boolean {
    return this.localPasswords.on || (this.localPasswords.breakGlass !== undefined && this.localPasswords.breakGlass.toLowerCase() === email.trim().toLowerCase())
  }

  private refuseWithoutPasswords(email: string) {
    if (!this.passwordAllowed(email)) throw forbidden('LOCAL_PASSWORDS_OFF', 'Password sign-in is turned off on this server: sign in with single sign-on')
  }

  /** Signs in with the password and, when the user has two-factor on, a code (TOTP_REQUIRED without one). */
  async login(email: string, password: string, ip: string, code?: string) {
    this.refuseWithoutPasswords(email)
    const user = await this.accounts.findByEmail(email)
    // Same work and the same answer for an unknown email, a wrong password, or an SSO-only account.
    const ok = await verifyPassword(password, user?.passwordHash.startsWith('scrypt$') ? user.passwordHash : dummyPasswordHash)
    if (!user || !ok || !user.passwordHash.startsWith('scrypt$')) throw invalidCredentials()
    if (user.disabled) throw unauthorized(disabledProblem.code, disabledProblem.message)
    await this.twoFactor.checkSignIn(user, code)
    return this.issueSession(user.id, ip, 'password')
  }

  /**
   * A new console sign-in for a user who has proved who they are (password, or single sign-on);
   * `audit` runs in the same transaction. A disabled account is refused.
   */
  async issueSession(userId: string, ip: string, method: 'password' | 'oidc', audit?: (tx: Db, userId: string) => Promise<void>) {
    const token = newToken('hls')
    const now = new Date()
    const expiresAt = new Date(now.getTime() + this.sessionTtlMs)
    const row = await this.db.transaction(async (tx) => {
      const [user] = await tx.update(users).set({ lastLoginAt: now }).where(eq(users.id, userId)).returning()
      if (!user || user.disabled) throw unauthorized(disabledProblem.code, disabledProblem.message)
      await tx.insert(accessTokens).values({
        userId,
        kind: 'session',
        name: 'console',
        tokenHash: hashToken(token),
        prefix: token.slice(0, 8),
        expiresAt,
        lastUsedAt: now,
        lastUsedIp: ip,
        // Informational: a sign-in's scopes follow its user's role at each request.
        scopes: scopesForRole(user.role),
        signInMethod: method,
      })
      await audit?.(tx, userId)
      return user
    })
    return { token, expiresAt: expiresAt.toISOString(), user: toUser(row) }
  }

  private async load(where: SQL) {
    const [found] = await this.db
      .select({ token: accessTokens, user: users, requireTwoFactor: requireTwoFactorSql })
      .from(accessTokens)
      .innerJoin(users, eq(users.id, accessTokens.userId))
      .where(where)
    return found
  }

  private problemOf(found: Awaited<ReturnType<AuthService['load']>>, now: Date): CredentialProblem | undefined {
    if (!found) return invalidTokenProblem
    const { token: row, user } = found
    if (user.disabled) return disabledProblem
    if (row.revokedAt) return { code: 'INVALID_TOKEN', message: endedBecause[row.revokedReason as RevokedReason] ?? invalidTokenProblem.message }
    if (row.expiresAt && row.expiresAt <= now) return { code: 'INVALID_TOKEN', message: 'This sign-in or token has expired' }
    return undefined
  }

  /**
   * Resolves a bearer token to its user and scopes, sliding a console sign-in's expiry forward and
   * keeping last use and the client address current.
   */
  async authenticate(token: string, ip: string): Promise<Principal> {
    if (!/^hl[sp]_[A-Za-z0-9_-]{20,}$/.test(token)) throw unauthorized(invalidTokenProblem.code, invalidTokenProblem.message)
    const found = await this.load(eq(accessTokens.tokenHash, hashToken(token)))
    const now = new Date()
    const problem = this.problemOf(found, now)
    if (problem || !found) throw unauthorized((problem ?? invalidTokenProblem).code, (problem ?? invalidTokenProblem).message)
    const { token: row, user } = found
    let expiresAt = row.expiresAt
    if (row.lastUsedIp !== ip || !row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      const changes: Partial<typeof accessTokens.$inferInsert> = { lastUsedAt: now, lastUsedIp: ip }
      if (row.kind === 'session') changes.expiresAt = expiresAt = new Date(now.getTime() + this.sessionTtlMs)
      await this.db.update(accessTokens).set(changes).where(eq(accessTokens.id, row.id))
    }
    const scopes = effectiveScopes(row.kind, row.scopes, user.role)
    return {
      userId: user.id,
      role: user.role === 'admin' && scopes.includes('admin') ? 'admin' : 'csr',
      accountRole: user.role,
      email: user.email,
      tokenId: row.id,
      tokenKind: row.kind,
      scopes,
      expiresAt,
      // A single sign-on is exempt: the identity provider does the second factor (docs/sso.md).
      mustEnrolTwoFactor: found.requireTwoFactor && user.totpEnabledAt === null && row.signInMethod !== 'oidc',
    }
  }

  /**
   * Whether the credential behind an open stream still works, and when it will expire by itself:
   * read again on each revocation announcement and on a timer.
   */
  async recheck(tokenId: string): Promise<{ problem?: CredentialProblem; expiresAt: Date | null }> {
    const found = await this.load(eq(accessTokens.id, tokenId))
    const problem = this.problemOf(found, new Date())
    return { ...(problem ? { problem } : {}), expiresAt: found?.token.expiresAt ?? null }
  }

  /**
   * Changes the caller's own password. Every other sign-in and every API token of the user ends
   * (whoever knew the old password may have made them); the sign-in used for this stays.
   */
  async changePassword(principal: Principal, currentPassword: string, newPassword: string) {
    this.refuseWithoutPasswords(principal.email)
    const user = await this.accounts.findRow(principal.userId)
    if (!user.passwordHash.startsWith('scrypt$')) throw forbidden('NO_LOCAL_PASSWORD', 'This account signs in with single sign-on and has no password here')
    if (!(await verifyPassword(currentPassword, user.passwordHash))) {
      throw unprocessable('WRONG_PASSWORD', 'The current password is wrong', { currentPassword: 'Wrong password' })
    }
    this.accounts.checkPasswordStrength(newPassword, 'newPassword')
    const passwordHash = await hashPassword(newPassword)
    await this.tokens.revoking(async (r) => {
      await r.tx.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, principal.userId))
      await r.all(principal.userId, 'password_changed', principal.tokenId)
    })
  }
}
