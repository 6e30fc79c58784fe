import { and, asc, count, desc, eq, ilike, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { isUniqueViolation } from '../db/raw.ts'
import { users } from '../db/schema.ts'
import { conflict, notFound, unprocessable } from '../errors.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import { hashPassword } from '../lib/crypto.ts'
import { refuseControlCharacters } from '../lib/text.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { PasswordPolicy, User } from '../schemas/accounts.ts'
import type { Paging } from '../schemas/common.ts'
import { requireSignIn, type Principal } from './auth.service.ts'
import type { TokensService } from './tokens.service.ts'

export type Role = 'admin' | 'csr'
type UserRow = typeof users.$inferSelect

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: row.disabled,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    lastLoginAt: row.lastLoginAt?.toISOString() ?? null,
    twoFactorEnabled: row.totpEnabledAt !== null,
  }
}

export interface UserListQuery extends Paging<'email' | 'name' | 'role' | 'createdAt' | 'lastLoginAt'> {
  q?: string | undefined
  role?: Role | undefined
  disabled?: boolean | undefined
}

/** Escapes LIKE wildcards so user text is matched literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

const MIN_DISTINCT_CHARACTERS = 4

export class AccountsService {
  constructor(
    private readonly db: Db,
    private readonly passwordMinLength: number,
    private readonly keyring: Keyring,
    private readonly tokens: TokensService,
  ) {}

  /** What checkPasswordStrength checks, for forms to check the same. */
  get passwordPolicy(): PasswordPolicy {
    return { minLength: this.passwordMinLength, minDistinct: MIN_DISTINCT_CHARACTERS }
  }

  /** 422 WEAK_PASSWORD; the message always names the rule, so a reader knows what would pass. */
  checkPasswordStrength(password: string, field = 'password') {
    const { minLength, minDistinct } = this.passwordPolicy
    const rule = `at least ${minLength} characters, at least ${minDistinct} of them different`
    const problem =
      [...password].length < minLength
        ? `is too short (${[...password].length} characters): use ${rule}`
        : new Set(password).size < minDistinct
          ? `is too repetitive: use ${rule}`
          : undefined
    if (problem) throw unprocessable('WEAK_PASSWORD', `Password ${problem}`, { [field]: `Password ${problem}` })
  }

  async list(query: UserListQuery): Promise<{ data: User[]; total: number }> {
    const where: SQL[] = []
    if (query.q) {
      const pattern = likePattern(query.q)
      where.push(or(ilike(users.email, pattern), ilike(users.name, pattern)) as SQL)
    }
    if (query.role) where.push(eq(users.role, query.role))
    if (query.disabled !== undefined) where.push(eq(users.disabled, query.disabled))
    const filter = where.length ? and(...where) : undefined
    const column = users[query.sort]
    const direction = query.order === 'desc' ? desc : asc
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(users)
        .where(filter)
        .orderBy(direction(column), asc(users.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(users).where(filter),
    ])
    return { data: rows.map(toUser), total: total?.n ?? 0 }
  }

  /**
   * A transaction that changes what the user's credentials are derived from (two-factor
   * enrolment): every instance forgets the credentials of this user it knows, with the commit.
   */
  changing<T>(userId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.tokens.revoking((r) => {
      r.changed(userId)
      return fn(r.tx)
    })
  }

  async findRow(id: string, db: Db = this.db): Promise<UserRow> {
    const [row] = await db.select().from(users).where(eq(users.id, id))
    if (!row) throw notFound('User', 'USER_NOT_FOUND')
    return row
  }

  async findByEmail(email: string): Promise<UserRow | undefined> {
    const [row] = await this.db
      .select()
      .from(users)
      .where(sql`lower(${users.email}) = ${email.trim().toLowerCase()}`)
    return row
  }

  /** `actor` is who asks; none when the server itself creates (set-up, tools). */
  async create(input: { email: string; name: string; role: Role; password: string }, actor?: Principal): Promise<User> {
    refuseControlCharacters({ name: input.name })
    if (input.role === 'admin' && actor) requireSignIn(actor, 'create a site admin')
    this.checkPasswordStrength(input.password)
    const email = input.email.trim()
    if (await this.findByEmail(email)) throw emailTaken()
    try {
      const [row] = await this.db
        .insert(users)
        .values({ email, name: input.name.trim(), role: input.role, passwordHash: await hashPassword(input.password) })
        .returning()
      return toUser(row!)
    } catch (err) {
      if (isUniqueViolation(err)) throw emailTaken()
      throw err
    }
  }

  /**
   * Changes a user. Setting their password ends every sign-in and token they have (but the
   * caller's own, when they change themself); removing the admin role is refused for the last
   * active admin, decided under lock (see lockOtherActiveAdmins).
   */
  async update(
    actor: Principal,
    id: string,
    input: { email?: string | undefined; name?: string | undefined; role?: Role | undefined; password?: string | undefined },
  ): Promise<User> {
    if (input.password !== undefined) requireSignIn(actor, 'set a password')
    const current = await this.findRow(id)
    refuseControlCharacters({ name: input.name })
    if (input.role === 'admin' && current.role !== 'admin') requireSignIn(actor, 'give a user the admin role')
    if (input.password !== undefined) this.checkPasswordStrength(input.password)
    if (input.email !== undefined) {
      const other = await this.findByEmail(input.email)
      if (other && other.id !== id) throw emailTaken()
    }
    const changes: Partial<typeof users.$inferInsert> = { updatedAt: new Date() }
    if (input.email !== undefined) changes.email = input.email.trim()
    if (input.name !== undefined) changes.name = input.name.trim()
    if (input.role !== undefined) changes.role = input.role
    if (input.password !== undefined) changes.passwordHash = await hashPassword(input.password)
    const by = { type: 'user' as const, id: actor.userId }
    try {
      return await this.tokens.revoking(async (r) => {
        // Role and email are part of every credential of the user: all instances forget them.
        r.changed(id)
        if (input.role === 'csr' && current.role === 'admin') {
          if (!current.disabled) await this.lockOtherActiveAdmins(r.tx, id)
          if (id === actor.userId) throw conflict('CANNOT_DEMOTE_SELF', 'You cannot remove your own admin role')
        }
        const [row] = await r.tx.update(users).set(changes).where(eq(users.id, id)).returning()
        if (!row) throw notFound('User', 'USER_NOT_FOUND')
        if (input.role !== undefined && input.role !== current.role) {
          await appendSiteEvent(r.tx, this.keyring, { type: 'user.role_changed', actor: by, targetType: 'user', targetId: id, data: { from: current.role, to: input.role } })
        }
        if (input.password !== undefined) {
          const ended = await r.all(id, 'password_reset', id === actor.userId ? actor.tokenId : undefined)
          await appendSiteEvent(r.tx, this.keyring, { type: 'user.password_reset', actor: by, targetType: 'user', targetId: id, data: { credentialsEnded: ended } })
        }
        return toUser(row)
      })
    } catch (err) {
      if (isUniqueViolation(err)) throw emailTaken()
      throw err
    }
  }

  /** Disables (ending every sign-in and token at once) or re-enables a user; recorded in the site's audit trail. */
  async setDisabled(actor: Principal, id: string, disabled: boolean): Promise<User> {
    return this.tokens.revoking(async (r) => {
      r.changed(id)
      const current = await this.findRow(id, r.tx)
      // The last active admin is named as such first: that is the rule that matters most.
      if (disabled && current.role === 'admin' && !current.disabled) await this.lockOtherActiveAdmins(r.tx, id)
      if (disabled && id === actor.userId) throw conflict('CANNOT_DISABLE_SELF', 'You cannot disable your own account')
      const [row] = await r.tx.update(users).set({ disabled, updatedAt: new Date() }).where(eq(users.id, id)).returning()
      const ended = disabled ? await r.all(id, 'user_disabled') : 0
      if (disabled !== current.disabled) {
        await appendSiteEvent(r.tx, this.keyring, {
          type: disabled ? 'user.disabled' : 'user.enabled',
          actor: { type: 'user', id: actor.userId },
          targetType: 'user',
          targetId: id,
          data: disabled ? { credentialsEnded: ended } : {},
        })
      }
      return toUser(row!)
    })
  }

  /**
   * Refuses (409 LAST_ADMIN) unless an active admin other than `exceptId` remains, holding every
   * active admin row locked until the transaction ends. Two admins disabling or demoting each
   * other at once queue on these locks; the second then re-reads the rows the first changed
   * (READ COMMITTED re-checks a locked row's condition) and finds no other admin left. A plain
   * count would let both pass and leave the site without an admin.
   */
  private async lockOtherActiveAdmins(tx: Db, exceptId: string) {
    const admins = await tx
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.role, 'admin'), eq(users.disabled, false)))
      .orderBy(asc(users.id))
      .for('update')
    if (!admins.some((a) => a.id !== exceptId)) throw conflict('LAST_ADMIN', 'This is the last active site admin')
  }

  /**
   * Creates the first site admin when there is no admin at all. Returns the generated password
   * when none was configured, so the caller can print it once.
   */
  async ensureFirstAdmin(email: string, password: string | undefined, generate: () => string): Promise<{ created: boolean; generatedPassword?: string }> {
    const [admins] = await this.db.select({ n: count() }).from(users).where(eq(users.role, 'admin'))
    if (admins && admins.n > 0) return { created: false }
    const chosen = password ?? generate()
    await this.db
      .insert(users)
      .values({ email, name: 'Site admin', role: 'admin', passwordHash: await hashPassword(chosen) })
      .onConflictDoNothing()
    return password ? { created: true } : { created: true, generatedPassword: chosen }
  }
}

function emailTaken() {
  return conflict('EMAIL_TAKEN', 'A user with this email already exists', { email: 'This email is already in use' })
}
