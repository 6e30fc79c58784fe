import { and, asc, desc, eq, gt, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { auditEvents, sessionEvents } from '../db/schema.ts'
import type { Keyring } from './keyring.ts'

/**
 * The audit trails' hash chains. Each row holds the previous row's hash and an HMAC (keyed with
 * the server secret, which is not in the database) over that hash and the row's own content:
 * editing, removing or inserting a row breaks the chain at that row, and someone who can write to
 * the database but does not hold the server secret cannot forge a valid continuation.
 *
 * Rows of one chain are written one at a time (a session's rows under its row lock, site rows
 * under an advisory lock), so the chain never forks. Content is hashed as canonical JSON (keys
 * sorted), with the instant at millisecond precision as written by the application.
 */

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as Record<string, unknown>).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  )
}

export interface ChainedContent {
  /** The session id, or 'site' for the site-wide trail. */
  chain: string
  type: string
  actorType: string
  actorId: string | null
  targetType?: string | null
  targetId?: string | null
  data: Record<string, unknown>
  createdAt: Date
}

export function contentText(c: ChainedContent): string {
  return canonicalJson([c.chain, c.type, c.actorType, c.actorId, c.targetType ?? null, c.targetId ?? null, c.data, c.createdAt.toISOString()])
}

export function linkHash(keyring: Keyring, prevHash: string, content: ChainedContent): string {
  return keyring.mac(`${prevHash}\n${contentText(content)}`)
}

/** The outcome of checking one chain. */
export interface ChainReport {
  /** True when every chained row verifies. */
  ok: boolean
  /** Rows in the trail. */
  events: number
  /** Rows whose link verified. */
  verified: number
  /** Rows written before the chain existed (upgraded installations), not verifiable. */
  unchained: number
  /** The first row at fault, when not ok. */
  firstBroken: { id: number; reason: string } | null
}

interface StoredRow extends ChainedContent {
  id: number
  prevHash: string | null
  hash: string | null
  keyId: string | null
}

/** Recomputes a chain row by row; stops at the first broken link. */
export async function verifyRows(keyring: Keyring, pages: AsyncIterable<StoredRow[]>): Promise<ChainReport> {
  const report: ChainReport = { ok: true, events: 0, verified: 0, unchained: 0, firstBroken: null }
  let prev: string | undefined
  for await (const rows of pages) {
    for (const row of rows) {
      report.events++
      if (report.firstBroken) continue
      const fail = (reason: string) => {
        report.ok = false
        report.firstBroken = { id: row.id, reason }
      }
      if (row.hash === null) {
        // Before chaining began: allowed only ahead of every chained row.
        if (prev === undefined) report.unchained++
        else fail('an unchained row after the chain began (inserted later)')
        continue
      }
      const expectedPrev = prev ?? ''
      if (row.keyId !== keyring.auditKeyId) fail(`written with another audit key (${row.keyId ?? 'none'}); this server has ${keyring.auditKeyId}`)
      else if (row.prevHash !== expectedPrev) fail('does not follow the row before it (a row was removed, inserted or reordered)')
      else if (linkHash(keyring, expectedPrev, row) !== row.hash) fail('its content or hash was changed')
      else report.verified++
      prev = row.hash
    }
  }
  return report
}

const PAGE = 1000

/** Every row of a session's trail, in order, a page at a time. */
export async function* sessionEventPages(db: Db, sessionId: string): AsyncIterable<StoredRow[]> {
  let after = 0
  for (;;) {
    const rows = await db
      .select()
      .from(sessionEvents)
      .where(and(eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.id, after)))
      .orderBy(asc(sessionEvents.id))
      .limit(PAGE)
    if (rows.length === 0) return
    yield rows.map((r) => ({ ...r, chain: r.sessionId }))
    after = rows[rows.length - 1]!.id
  }
}

/** Every row of the site-wide trail, in order, a page at a time. */
export async function* siteEventPages(db: Db): AsyncIterable<StoredRow[]> {
  let after = 0
  for (;;) {
    const rows = await db.select().from(auditEvents).where(gt(auditEvents.id, after)).orderBy(asc(auditEvents.id)).limit(PAGE)
    if (rows.length === 0) return
    yield rows.map((r) => ({ ...r, chain: 'site' }))
    after = rows[rows.length - 1]!.id
  }
}

export type EventActor = { type: 'user'; id: string } | { type: 'agent'; id: string } | { type: 'system' }

/**
 * Appends to one session's trail inside the caller's transaction. The caller holds the session
 * row's lock (SessionFeed does) or passes `lock: true`; `head` carries the last hash within the
 * transaction so a change with several events reads it once.
 */
export class SessionEventWriter {
  private head: string | undefined
  private locked = false

  constructor(
    private readonly tx: Db,
    private readonly keyring: Keyring,
    readonly sessionId: string,
  ) {}

  /** Call once the session row is locked by this transaction (e.g. after an UPDATE of it). */
  markLocked() {
    this.locked = true
  }

  async append(type: string, actor: EventActor, data: Record<string, unknown> = {}): Promise<void> {
    if (!this.locked) {
      await this.tx.execute(sql`select 1 from support_sessions where id = ${this.sessionId} for update`)
      this.locked = true
    }
    if (this.head === undefined) {
      const [last] = await this.tx
        .select({ hash: sessionEvents.hash })
        .from(sessionEvents)
        .where(eq(sessionEvents.sessionId, this.sessionId))
        .orderBy(desc(sessionEvents.id))
        .limit(1)
      this.head = last?.hash ?? ''
    }
    await this.tx.insert(sessionEvents).values(this.link(type, actor, data))
  }

  /** Whether this transaction holds the session row's lock (see `markLocked`). */
  get isLocked(): boolean {
    return this.locked
  }

  /** Whether the chain's last hash is known in this transaction (else `knowHead` must be called first). */
  get headKnown(): boolean {
    return this.head !== undefined
  }

  /** The chain's last hash, read by the caller (several chains in one query); the row lock must be held. */
  knowHead(hash: string) {
    this.locked = true
    this.head = hash
  }

  /**
   * The next row of the chain, for the caller to insert (several rows, of several chains, in one
   * statement); rows of one chain must be inserted in the order they were linked.
   */
  link(type: string, actor: EventActor, data: Record<string, unknown> = {}): typeof sessionEvents.$inferInsert {
    if (this.head === undefined) throw new Error(`the head of session ${this.sessionId}'s trail is not known`)
    const content: ChainedContent = {
      chain: this.sessionId,
      type,
      actorType: actor.type,
      actorId: 'id' in actor ? actor.id : null,
      data,
      createdAt: new Date(),
    }
    const hash = linkHash(this.keyring, this.head, content)
    const row = {
      sessionId: this.sessionId,
      type,
      actorType: actor.type,
      actorId: content.actorId,
      data,
      createdAt: content.createdAt,
      prevHash: this.head,
      hash,
      keyId: this.keyring.auditKeyId,
    }
    this.head = hash
    return row
  }
}

/** Appends to the site-wide trail inside the caller's transaction (serialised by an advisory lock). */
export async function appendSiteEvent(
  tx: Db,
  keyring: Keyring,
  event: { type: string; actor: EventActor; targetType?: string; targetId?: string; data?: Record<string, unknown> },
): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(String(SITE_CHAIN_LOCK))})`)
  const [last] = await tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1)
  const prevHash = last?.hash ?? ''
  const content: ChainedContent = {
    chain: 'site',
    type: event.type,
    actorType: event.actor.type,
    actorId: 'id' in event.actor ? event.actor.id : null,
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    data: event.data ?? {},
    createdAt: new Date(),
  }
  await tx.insert(auditEvents).values({
    type: content.type,
    actorType: event.actor.type,
    actorId: content.actorId,
    targetType: content.targetType,
    targetId: content.targetId,
    data: content.data,
    createdAt: content.createdAt,
    prevHash,
    hash: linkHash(keyring, prevHash, content),
    keyId: keyring.auditKeyId,
  })
}

/** An arbitrary constant naming the site trail's advisory lock. */
const SITE_CHAIN_LOCK = 0x6865_6c70 // "help"
