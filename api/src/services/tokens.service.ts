import { and, asc, count, desc, eq, gt, isNull, ne, or, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { accessTokens, users } from '../db/schema.ts'
import { conflict, notFound, unprocessable } from '../errors.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import { hashToken, newToken } from '../lib/crypto.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { Notifier } from '../lib/notifier.ts'
import { isScope, scopesForRole, type Scope } from '../lib/scopes.ts'
import type { ApiToken } from '../schemas/accounts.ts'
import type { Paging } from '../schemas/common.ts'
import type { Principal } from './auth.service.ts'

type TokenRow = typeof accessTokens.$inferSelect
type Role = 'admin' | 'csr'

/** Why a credential stopped working (access_tokens.revoked_reason). */
export type RevokedReason = 'revoked' | 'revoked_by_admin' | 'user_disabled' | 'password_reset' | 'password_changed' | 'signed_out'

/** The notifier topic on which a user's revocations are announced (every instance's streams listen). */
export const credentialsTopic = (userId: string) => `credentials:${userId}`
/**
 * Announced when something every credential is derived from changed (the site's two-factor
 * requirement): each instance forgets every credential it knows. No stream listens to it (a
 * stream's credential check does not depend on it).
 */
const EVERY_CREDENTIAL_TOPIC = 'credentials:*'

/** A console sign-in carries what its user's role allows now; a personal token what it was given. */
export function effectiveScopes(kind: TokenRow['kind'], stored: readonly string[], role: Role): Scope[] {
  const allowed = scopesForRole(role)
  return kind === 'session' ? allowed : stored.filter(isScope).filter((s) => allowed.includes(s))
}

function toApiToken(row: TokenRow, role: Role): ApiToken {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    prefix: row.prefix,
    scopes: row.kind === 'session' ? scopesForRole(role) : row.scopes.filter(isScope),
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    lastUsedIp: row.lastUsedIp,
  }
}

const MAX_PERSONAL_TOKENS = 50

function topicsOf(users: ReadonlySet<string>, everyone: boolean): string[] {
  return [...[...users].map(credentialsTopic), ...(everyone ? [EVERY_CREDENTIAL_TOPIC] : [])]
}

/** Revocations inside one transaction (TokensService.revoking); each is announced by its commit. */
export interface Revoker {
  tx: Db
  /** Ends every live credential of a user but `keepTokenId`; returns how many. */
  all(userId: string, reason: RevokedReason, keepTokenId?: string): Promise<number>
  /** Ends one live credential of a user; undefined when there is no such live one. */
  one(userId: string, id: string, reason: RevokedReason, kind?: TokenRow['kind']): Promise<{ id: string; kind: TokenRow['kind'] } | undefined>
  /**
   * Announces that what the user's credentials are derived from changed (role, email, disabled,
   * password, two-factor enrolment), without ending any: every instance forgets the credentials of
   * this user it knows from memory, with the commit.
   */
  changed(userId: string): void
  /** The same for every user (a site setting every credential is derived from changed). */
  changedForEveryone(): void
}

/**
 * Sign-ins and personal API tokens: made, listed and revoked here. Every revocation is announced
 * on the user's credentials topic with its commit (see Notifier.publishIn), so an open live stream of that user on any
 * instance re-checks its credential at once instead of delivering until it next asks.
 */
export class TokensService {
  /** Listeners of `onCredentialsChange`, called in this process right after its own commits. */
  private readonly local = new Set<(userId: string | null) => void>()

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly keyring: Keyring,
  ) {}

  /**
   * Calls `listener` with the id of every user whose credentials (or what they are derived from)
   * changed — by this instance synchronously right after the commit, by another when its
   * announcement arrives — and with null when every credential may have changed (a site setting,
   * or announcements may have been lost). For memory derived from the database: every such change
   * goes through `revoking`, so dropping what was derived from a user on its announcement is exact.
   */
  onCredentialsChange(listener: (userId: string | null) => void): () => void {
    this.local.add(listener)
    const unwatch = this.notifier.watch((topic) => {
      if (topic === null || topic === EVERY_CREDENTIAL_TOPIC) listener(null)
      else if (topic.startsWith('credentials:')) listener(topic.slice('credentials:'.length))
    })
    return () => {
      this.local.delete(listener)
      unwatch()
    }
  }

  /**
   * One transaction whose revocations (and other changes of what credentials are derived from,
   * `changed`) are announced to every instance by its commit.
   */
  async revoking<T>(fn: (r: Revoker) => Promise<T>): Promise<T> {
    const touched = new Set<string>()
    let everyone = false
    let published = false
    const result = await this.db.transaction(async (tx) => {
      const result = await fn({
        tx,
        changed: (userId) => void touched.add(userId),
        changedForEveryone: () => void (everyone = true),
        all: async (userId, reason, keepTokenId) => {
          touched.add(userId)
          const rows = await tx
            .update(accessTokens)
            .set({ revokedAt: new Date(), revokedReason: reason })
            .where(and(this.live(userId), keepTokenId ? ne(accessTokens.id, keepTokenId) : undefined))
            .returning({ id: accessTokens.id })
          return rows.length
        },
        one: async (userId, id, reason, kind) => {
          touched.add(userId)
          const [row] = await tx
            .update(accessTokens)
            .set({ revokedAt: new Date(), revokedReason: reason })
            .where(and(this.live(userId, kind), eq(accessTokens.id, id)))
            .returning({ id: accessTokens.id, kind: accessTokens.kind })
          return row
        },
      })
      // In the transaction on PostgreSQL: every instance hears of the revocation with its commit.
      published = await this.notifier.publishIn(tx, topicsOf(touched, everyone))
      return result
    })
    // This instance forgets at once: its own announcement reaches it only later, and the caller's
    // very next request must already be refused.
    for (const listener of this.local) {
      if (everyone) listener(null)
      else for (const userId of touched) listener(userId)
    }
    if (!published) for (const topic of topicsOf(touched, everyone)) this.notifier.publish(topic)
    return result
  }

  private live(userId: string, kind?: TokenRow['kind']): SQL {
    return and(
      eq(accessTokens.userId, userId),
      kind ? eq(accessTokens.kind, kind) : undefined,
      isNull(accessTokens.revokedAt),
      or(isNull(accessTokens.expiresAt), gt(accessTokens.expiresAt, new Date())),
    ) as SQL
  }

  private async page(where: SQL, role: Role, { limit, offset, order }: Paging<'createdAt'>) {
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
    return { data: rows.map((r) => toApiToken(r, role)), total: total?.n ?? 0 }
  }

  /** The caller's own live personal API tokens. */
  async listOwn(principal: Principal, paging: Paging<'createdAt'>) {
    return this.page(this.live(principal.userId, 'personal'), principal.accountRole, paging)
  }

  /** Every live credential of a user, console sign-ins and API tokens (admins). */
  async listOf(userId: string, paging: Paging<'createdAt'>) {
    const [user] = await this.db.select({ role: users.role }).from(users).where(eq(users.id, userId))
    if (!user) throw notFound('User', 'USER_NOT_FOUND')
    return this.page(this.live(userId), user.role, paging)
  }

  async create(principal: Principal, input: { name: string; expiresAt?: string | undefined; scopes?: string[] | undefined }) {
    const chosen = [...new Set(input.scopes ?? ['read'])].filter(isScope)
    if (chosen.includes('admin') && principal.accountRole !== 'admin') {
      throw unprocessable('SCOPE_NOT_ALLOWED', 'Only site admins can give a token the admin scope', { scopes: 'The admin scope needs a site admin' })
    }
    let expiry: Date | null = null
    if (input.expiresAt !== undefined) {
      expiry = new Date(input.expiresAt)
      if (!(expiry.getTime() > Date.now())) {
        throw unprocessable('INVALID_EXPIRY', 'The expiry must be in the future', { expiresAt: 'Must be in the future' })
      }
    }
    const [active] = await this.db.select({ n: count() }).from(accessTokens).where(this.live(principal.userId, 'personal'))
    if ((active?.n ?? 0) >= MAX_PERSONAL_TOKENS) {
      throw conflict('TOO_MANY_TOKENS', `At most ${MAX_PERSONAL_TOKENS} active API tokens per user; revoke one first`)
    }
    const token = newToken('hlp')
    const [row] = await this.db
      .insert(accessTokens)
      .values({
        userId: principal.userId,
        kind: 'personal',
        name: input.name.trim(),
        tokenHash: hashToken(token),
        prefix: token.slice(0, 8),
        expiresAt: expiry,
        scopes: chosen,
      })
      .returning()
    return { ...toApiToken(row!, principal.accountRole), token }
  }

  /** The caller revokes one of their own API tokens. */
  async revokeOwn(userId: string, id: string) {
    const row = await this.revoking((r) => r.one(userId, id, 'revoked', 'personal'))
    if (!row) throw notFound('API token', 'TOKEN_NOT_FOUND')
  }

  /** The credential of this request ends (sign out). */
  async signOut(principal: Principal) {
    await this.revoking((r) => r.one(principal.userId, principal.tokenId, 'signed_out'))
  }

  /** An admin ends any user's sign-in or API token; recorded in the site's audit trail. */
  async revokeByAdmin(actor: Principal, userId: string, id: string) {
    const row = await this.revoking(async (r) => {
      const revoked = await r.one(userId, id, 'revoked_by_admin')
      if (revoked) {
        await appendSiteEvent(r.tx, this.keyring, {
          type: 'token.revoked',
          actor: { type: 'user', id: actor.userId },
          targetType: 'token',
          targetId: id,
          data: { userId, kind: revoked.kind },
        })
      }
      return revoked
    })
    if (!row) throw notFound('Sign-in or API token', 'TOKEN_NOT_FOUND')
  }
}
