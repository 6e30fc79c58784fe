import { eq, sql, type SQL } from 'drizzle-orm'
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
  private readonly memory = new CredentialMemory()

  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
    private readonly tokens: TokensService,
    private readonly twoFactor: TwoFactorService,
    private readonly sessionTtlMs: number,
    /** LOCAL_PASSWORDS=off: only this email (BREAK_GLASS_ADMIN, if any) may use a password. */
    private readonly localPasswords: { on: boolean; breakGlass?: string | undefined } = { on: true },
  ) {
    tokens.onCredentialsChange((userId) => this.memory.forget(userId))
  }

  /**
   * A transaction that may change what users' credentials are derived from (single sign-on maps
   * a role): each user passed to `changed` is forgotten by every instance with the commit.
   */
  changingUsers<T>(fn: (tx: Db, changed: (userId: string) => void) => Promise<T>): Promise<T> {
    return this.tokens.revoking((r) => fn(r.tx, r.changed))
  }

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
   * keeping last use and the client address current. From memory after the first lookup: what the
   * principal is derived from (the token's row, its user's, the site's two-factor requirement)
   * changes only through `TokensService.revoking`, whose commit makes every instance forget the
   * user's credentials (see CredentialMemory). Expiry is checked against the clock on every use.
   */
  async authenticate(token: string, ip: string): Promise<Principal> {
    if (!/^hl[sp]_[A-Za-z0-9_-]{20,}$/.test(token)) throw unauthorized(invalidTokenProblem.code, invalidTokenProblem.message)
    const hash = hashToken(token)
    const now = Date.now()
    let known = this.memory.get(hash)
    // Past its expiry as this instance knows it: another instance may have slid it since, so the
    // database decides (and a sign-in that did expire is refused from there, with its reason).
    // Read again after a while in any case: that bounds what never goes through the app (a hand
    // edit in the database).
    if (known && ((known.expiresAt !== null && known.expiresAt <= now) || now - known.readAt > CREDENTIAL_MEMORY_TTL_MS)) {
      this.memory.drop(hash)
      known = undefined
    }
    if (!known) {
      const since = this.memory.epoch
      const found = await this.load(eq(accessTokens.tokenHash, hash))
      const problem = this.problemOf(found, new Date(now))
      if (problem || !found) throw unauthorized((problem ?? invalidTokenProblem).code, (problem ?? invalidTokenProblem).message)
      const { token: row, user } = found
      const scopes = effectiveScopes(row.kind, row.scopes, user.role)
      known = {
        principal: {
          userId: user.id,
          role: user.role === 'admin' && scopes.includes('admin') ? 'admin' : 'csr',
          accountRole: user.role,
          email: user.email,
          tokenId: row.id,
          tokenKind: row.kind,
          scopes,
          // A single sign-on is exempt: the identity provider does the second factor (docs/sso.md).
          mustEnrolTwoFactor: found.requireTwoFactor && user.totpEnabledAt === null && row.signInMethod !== 'oidc',
        },
        readAt: now,
        expiresAt: row.expiresAt?.getTime() ?? null,
        lastUsedAt: row.lastUsedAt?.getTime() ?? null,
        lastUsedIp: row.lastUsedIp,
      }
      this.memory.remember(hash, known, since)
    }
    if (known.lastUsedIp !== ip || known.lastUsedAt === null || now - known.lastUsedAt > TOUCH_INTERVAL_MS) {
      // Written before the answer, as before the memory: at most once a minute per credential
      // (or on an address change), so a write that could be lost is not worth batching.
      const at = new Date(now).toISOString()
      const expiresAt = known.principal.tokenKind === 'session' ? now + this.sessionTtlMs : null
      await this.db.execute(
        expiresAt === null
          ? sql`update access_tokens set last_used_at = ${at}::timestamptz, last_used_ip = ${ip} where id = ${known.principal.tokenId}::uuid`
          : sql`update access_tokens set last_used_at = ${at}::timestamptz, last_used_ip = ${ip}, expires_at = ${new Date(expiresAt).toISOString()}::timestamptz where id = ${known.principal.tokenId}::uuid`,
      )
      known.lastUsedAt = now
      known.lastUsedIp = ip
      if (expiresAt !== null) known.expiresAt = expiresAt
    }
    return { ...known.principal, scopes: [...known.principal.scopes], expiresAt: known.expiresAt === null ? null : new Date(known.expiresAt) }
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

/** What this instance knows of one credential: the principal it gives, and its use as last written. */
interface KnownCredential {
  principal: Omit<Principal, 'expiresAt'>
  /** When the database was read for it (ms). */
  readAt: number
  /** When it expires (ms), as this instance last read or slid it; null: never. */
  expiresAt: number | null
  lastUsedAt: number | null
  lastUsedIp: string | null
}

/** Credentials kept at most; past it memory starts over (a lookup each is all a miss costs). */
const CREDENTIAL_MEMORY_LIMIT = 50_000
/**
 * How long a credential is believed without a lookup. Not for changes made through the app (each
 * is announced with its commit, see CredentialMemory): for what is not, a hand edit in the database.
 */
const CREDENTIAL_MEMORY_TTL_MS = 5 * 60_000

/**
 * The credentials this instance has resolved, by token hash. A user's are dropped on every
 * announcement of a change of their credentials (TokensService.onCredentialsChange: revocation,
 * sign-out, disabled, password, role, email, two-factor), all of them when a site setting changed
 * or announcements may have been lost (a re-listen, a LISTEN connection that hears nothing).
 * `epoch` guards against remembering what a lookup found when a change came in while it ran.
 */
class CredentialMemory {
  epoch = 0
  private readonly byHash = new Map<string, KnownCredential>()
  private readonly hashesOf = new Map<string, Set<string>>()
  /** The epoch of each user's last change, and of the last change of everyone. */
  private readonly changedAt = new Map<string, number>()
  private allChangedAt = 0

  forget(userId: string | null) {
    this.epoch++
    if (userId === null) {
      this.allChangedAt = this.epoch
      this.byHash.clear()
      this.hashesOf.clear()
      this.changedAt.clear()
      return
    }
    this.changedAt.set(userId, this.epoch)
    for (const hash of this.hashesOf.get(userId) ?? []) this.byHash.delete(hash)
    this.hashesOf.delete(userId)
    if (this.changedAt.size > CREDENTIAL_MEMORY_LIMIT) {
      this.changedAt.clear()
      this.allChangedAt = this.epoch
    }
  }

  get(hash: string): KnownCredential | undefined {
    return this.byHash.get(hash)
  }

  drop(hash: string) {
    const known = this.byHash.get(hash)
    if (!known) return
    this.byHash.delete(hash)
    this.hashesOf.get(known.principal.userId)?.delete(hash)
  }

  /** Keeps what a lookup begun at `since` found, unless the user (or everyone) changed since. */
  remember(hash: string, known: KnownCredential, since: number) {
    const userId = known.principal.userId
    if (this.allChangedAt > since || (this.changedAt.get(userId) ?? 0) > since) return
    if (this.byHash.size >= CREDENTIAL_MEMORY_LIMIT) this.forget(null)
    this.byHash.set(hash, known)
    let set = this.hashesOf.get(userId)
    if (!set) this.hashesOf.set(userId, (set = new Set()))
    set.add(hash)
  }
}
