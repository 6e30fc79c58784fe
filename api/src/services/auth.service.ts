import { and, asc, count, desc, eq, gt, isNull, ne, or } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { accessTokens, users } from '../db/schema.ts'
import { conflict, notFound, unauthorized, unprocessable } from '../errors.ts'
import { dummyPasswordHash, hashPassword, hashToken, newToken, verifyPassword } from '../lib/crypto.ts'
import type { ApiToken } from '../schemas/accounts.ts'
import type { Paging } from '../schemas/common.ts'
import { toUser, type AccountsService, type Role } from './accounts.service.ts'

export interface Principal {
  userId: string
  role: Role
  email: string
  tokenId: string
  tokenKind: 'session' | 'personal'
}

type TokenRow = typeof accessTokens.$inferSelect

function toApiToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  }
}

// Writing last-used on every request would turn every read into a write; a minute is precise enough.
const TOUCH_INTERVAL_MS = 60_000
const MAX_PERSONAL_TOKENS = 50

const invalidCredentials = () => unauthorized('INVALID_CREDENTIALS', 'Wrong email or password')
const invalidToken = () => unauthorized('INVALID_TOKEN', 'The token is missing, invalid, expired or revoked')

export class AuthService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
    private readonly sessionTtlMs: number,
  ) {}

  async login(email: string, password: string) {
    const user = await this.accounts.findByEmail(email)
    // Same work and the same answer for an unknown email as for a wrong password.
    const ok = await verifyPassword(password, user?.passwordHash ?? dummyPasswordHash)
    if (!user || !ok) throw invalidCredentials()
    if (user.disabled) throw unauthorized('ACCOUNT_DISABLED', 'This account is disabled')
    const token = newToken('hls')
    const now = new Date()
    const expiresAt = new Date(now.getTime() + this.sessionTtlMs)
    await this.db.insert(accessTokens).values({
      userId: user.id,
      kind: 'session',
      name: 'console',
      tokenHash: hashToken(token),
      prefix: token.slice(0, 8),
      expiresAt,
      lastUsedAt: now,
    })
    const [row] = await this.db.update(users).set({ lastLoginAt: now }).where(eq(users.id, user.id)).returning()
    return { token, expiresAt: expiresAt.toISOString(), user: toUser(row!) }
  }

  /** Resolves a bearer token to its user, sliding a console login's expiry forward. */
  async authenticate(token: string): Promise<Principal> {
    if (!/^hl[sp]_[A-Za-z0-9_-]{20,}$/.test(token)) throw invalidToken()
    const [found] = await this.db
      .select({ token: accessTokens, user: users })
      .from(accessTokens)
      .innerJoin(users, eq(users.id, accessTokens.userId))
      .where(eq(accessTokens.tokenHash, hashToken(token)))
    if (!found) throw invalidToken()
    const { token: row, user } = found
    const now = new Date()
    if (row.revokedAt || (row.expiresAt && row.expiresAt <= now)) throw invalidToken()
    if (user.disabled) throw unauthorized('ACCOUNT_DISABLED', 'This account is disabled')
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      const changes: Partial<TokenRow> = { lastUsedAt: now }
      if (row.kind === 'session') changes.expiresAt = new Date(now.getTime() + this.sessionTtlMs)
      await this.db.update(accessTokens).set(changes).where(eq(accessTokens.id, row.id))
    }
    return { userId: user.id, role: user.role, email: user.email, tokenId: row.id, tokenKind: row.kind }
  }

  async revoke(tokenId: string) {
    await this.db.update(accessTokens).set({ revokedAt: new Date() }).where(eq(accessTokens.id, tokenId))
  }

  async changePassword(userId: string, currentPassword: string, newPassword: string, keepTokenId: string) {
    const user = await this.accounts.findRow(userId)
    if (!(await verifyPassword(currentPassword, user.passwordHash))) {
      throw unprocessable('WRONG_PASSWORD', 'The current password is wrong', { currentPassword: 'Wrong password' })
    }
    this.accounts.checkPasswordStrength(newPassword, 'newPassword')
    await this.db.update(users).set({ passwordHash: await hashPassword(newPassword), updatedAt: new Date() }).where(eq(users.id, userId))
    // Other console logins end with a password change; the caller's own login and API tokens stay.
    await this.db
      .update(accessTokens)
      .set({ revokedAt: new Date() })
      .where(
        and(
          eq(accessTokens.userId, userId),
          eq(accessTokens.kind, 'session'),
          isNull(accessTokens.revokedAt),
          ne(accessTokens.id, keepTokenId),
        ),
      )
  }

  private activePersonal(userId: string) {
    return and(
      eq(accessTokens.userId, userId),
      eq(accessTokens.kind, 'personal'),
      isNull(accessTokens.revokedAt),
      or(isNull(accessTokens.expiresAt), gt(accessTokens.expiresAt, new Date())),
    )
  }

  async listTokens(userId: string, { limit, offset, order }: Paging<'createdAt'>) {
    const where = this.activePersonal(userId)
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(accessTokens)
        .where(where)
        .orderBy(order === 'asc' ? asc(accessTokens.createdAt) : desc(accessTokens.createdAt), desc(accessTokens.id))
        .limit(limit)
        .offset(offset),
      this.db.select({ n: count() }).from(accessTokens).where(where),
    ])
    return { data: rows.map(toApiToken), total: total?.n ?? 0 }
  }

  async createToken(userId: string, name: string, expiresAt: string | undefined) {
    let expiry: Date | null = null
    if (expiresAt !== undefined) {
      expiry = new Date(expiresAt)
      if (!(expiry.getTime() > Date.now())) {
        throw unprocessable('INVALID_EXPIRY', 'The expiry must be in the future', { expiresAt: 'Must be in the future' })
      }
    }
    const [active] = await this.db.select({ n: count() }).from(accessTokens).where(this.activePersonal(userId))
    if ((active?.n ?? 0) >= MAX_PERSONAL_TOKENS) {
      throw conflict('TOO_MANY_TOKENS', `At most ${MAX_PERSONAL_TOKENS} active API tokens per user; revoke one first`)
    }
    const token = newToken('hlp')
    const [row] = await this.db
      .insert(accessTokens)
      .values({ userId, kind: 'personal', name: name.trim(), tokenHash: hashToken(token), prefix: token.slice(0, 8), expiresAt: expiry })
      .returning()
    return { ...toApiToken(row!), token }
  }

  async revokeToken(userId: string, id: string) {
    const [row] = await this.db
      .update(accessTokens)
      .set({ revokedAt: new Date() })
      .where(and(this.activePersonal(userId), eq(accessTokens.id, id)))
      .returning({ id: accessTokens.id })
    if (!row) throw notFound('API token', 'TOKEN_NOT_FOUND')
  }
}
