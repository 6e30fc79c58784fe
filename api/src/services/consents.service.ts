import { and, asc, count, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm'
import { preparedRows, rawDate } from '../db/raw.ts'
import type { Db } from '../db/client.ts'
import { consentRequests, users } from '../db/schema.ts'
import { conflict, notFound, unprocessable } from '../errors.ts'
import { cleanText } from '../lib/text.ts'
import type { Paging } from '../schemas/common.ts'
import type { Consent } from '../schemas/sessions.ts'
import type { Principal } from './auth.service.ts'
import type { AgentConsent } from '../schemas/agent.ts'
import { waitingRows, waitingSql, type CommandQueue, type CommandRow } from './commands.service.ts'
import { systemActor, type Actor, type SessionFeed, type SessionTx } from './feed.ts'
import { noteAdminAction } from './oversight.ts'
import { sessionEnded, sessionNotActive, type SessionsService } from './sessions.service.ts'

export type ConsentKind = 'view_system_info' | 'run_scripts' | 'logon_as_user' | 'reboot'
export type ConsentRow = typeof consentRequests.$inferSelect

/** Wording for chat lines and the customer's prompt: what is asked, what it will do. */
export const consentTitles: Record<ConsentKind, string> = {
  view_system_info: 'View system information',
  run_scripts: 'Run scripts',
  logon_as_user: 'Log on as another user',
  reboot: 'Restart the computer',
}

/** What the customer is told for each kind (their agent shows it in their language from the kind). */
export function defaultDetails(kind: ConsentKind): Record<string, unknown> {
  if (kind === 'view_system_info') {
    return {
      categories: ['system', 'hardware', 'storage', 'network', 'software', 'processes', 'services', 'users', 'environment'],
      effect: 'Reads information about this computer and sends it to your support representative. Nothing is changed. Environment variables whose names suggest secrets are left out. Lasts until the session ends.',
    }
  }
  return {}
}

/** A consent request as a hand-written select returns it (snake_case; timestamps as Date or text, by driver). */
interface RawConsent extends Record<string, unknown> {
  id: string
  session_id: string
  kind: ConsentKind
  status: ConsentRow['status']
  requested_by: string
  details: Record<string, unknown>
  created_at: Date | string
  expires_at: Date | string
  answered_at: Date | string | null
  seq: number
}

/** The columns of a `RawConsent`, from a table aliased `r`. */
const RAW_CONSENT = sql.raw(`r.id::text as id, r.session_id::text as session_id, r.kind::text as kind, r.status::text as status,
  r.requested_by::text as requested_by, r.details, r.created_at, r.expires_at, r.answered_at, r.seq`)

function consentFromRaw(r: RawConsent): ConsentRow {
  return {
    id: r.id,
    sessionId: r.session_id,
    kind: r.kind,
    status: r.status,
    requestedBy: r.requested_by,
    details: r.details,
    createdAt: rawDate(r.created_at),
    expiresAt: rawDate(r.expires_at),
    answeredAt: r.answered_at === null ? null : rawDate(r.answered_at),
    seq: Number(r.seq),
  }
}

/** Kinds requested through their own features (scripts, logon, reboot), not directly. */
const RESERVED: ReadonlySet<ConsentKind> = new Set(['run_scripts', 'logon_as_user', 'reboot'])

export class ConsentsService {
  sessions!: SessionsService
  commands!: CommandQueue

  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
    /** How long the customer has to answer (batches write their requests set-based with it). */
    readonly expiryMs: number,
  ) {}

  async toConsents(rows: ConsentRow[]): Promise<Consent[]> {
    if (rows.length === 0) return []
    const names = await this.db
      .select({ id: users.id, name: users.name })
      .from(users)
      .where(inArray(users.id, [...new Set(rows.map((r) => r.requestedBy))]))
    const nameOf = new Map(names.map((n) => [n.id, n.name]))
    return rows.map((r) => ({
      id: r.id,
      sessionId: r.sessionId,
      kind: r.kind,
      status: r.status,
      requestedBy: { id: r.requestedBy, name: nameOf.get(r.requestedBy) ?? '' },
      details: r.details,
      createdAt: r.createdAt.toISOString(),
      expiresAt: r.expiresAt.toISOString(),
      answeredAt: r.answeredAt?.toISOString() ?? null,
    }))
  }

  async list(principal: Principal, sessionId: string, query: Paging<'createdAt'> & { status?: Consent['status'] | undefined; kind?: ConsentKind | undefined }) {
    await this.sessions.findAccessible(principal, sessionId)
    const where: SQL[] = [eq(consentRequests.sessionId, sessionId)]
    if (query.status) where.push(eq(consentRequests.status, query.status))
    if (query.kind) where.push(eq(consentRequests.kind, query.kind))
    const filter = and(...where)
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(consentRequests)
        .where(filter)
        .orderBy(query.order === 'desc' ? desc(consentRequests.seq) : asc(consentRequests.seq))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(consentRequests).where(filter),
    ])
    return { data: await this.toConsents(rows), total: total?.n ?? 0 }
  }

  /** A CSR asks the customer directly. Only view_system_info today; the rest belong to their features. */
  async request(principal: Principal, sessionId: string, kind: ConsentKind): Promise<Consent> {
    if (RESERVED.has(kind)) {
      throw unprocessable('CONSENT_KIND_RESERVED', `${kind} consent is requested by its own feature, not directly`, {
        kind: 'Not available for direct requests',
      })
    }
    const session = await this.sessions.findAccessible(principal, sessionId)
    if (session.status === 'ended') throw sessionEnded()
    if (session.status !== 'active') throw sessionNotActive()
    const row = await this.feed.change(sessionId, async (s) => {
      await s.next() // the session's lock first: two requests at once see each other
      const [latest] = await s.tx
        .select()
        .from(consentRequests)
        .where(and(eq(consentRequests.sessionId, sessionId), eq(consentRequests.kind, kind)))
        .orderBy(desc(consentRequests.seq))
        .limit(1)
      if (latest?.status === 'pending') throw conflict('CONSENT_PENDING', 'The customer has not answered the previous request yet')
      if (latest?.status === 'approved' && kind === 'view_system_info') {
        throw conflict('CONSENT_ALREADY_GRANTED', 'The customer already allowed this for the whole session')
      }
      return this.createInTx(s, kind, principal.userId)
    })
    return (await this.toConsents([row]))[0]!
  }

  /** Creates a pending request inside a session change (also used by features that need consent). */
  async createInTx(s: SessionTx, kind: ConsentKind, requestedBy: string, details = defaultDetails(kind)): Promise<ConsentRow> {
    const [row] = await s.tx
      .insert(consentRequests)
      .values({ sessionId: s.sessionId, kind, requestedBy, details, expiresAt: new Date(Date.now() + this.expiryMs), seq: await s.next() })
      .returning()
    await s.event('consent.requested', { type: 'user', id: requestedBy }, { consentId: row!.id, kind })
    await s.systemLine(`Asked the customer: ${consentTitles[kind]}`, 'consent.requested', { consentId: row!.id, kind })
    return row!
  }

  /** The latest request of a kind in a session, read inside a change. */
  async latestInTx(s: SessionTx, kind: ConsentKind): Promise<ConsentRow | undefined> {
    const [row] = await s.tx
      .select()
      .from(consentRequests)
      .where(and(eq(consentRequests.sessionId, s.sessionId), eq(consentRequests.kind, kind)))
      .orderBy(desc(consentRequests.seq))
      .limit(1)
    return row
  }

  /** The customer's answer, through their agent. Answering twice, or too late, is a 409. */
  async answer(agent: { agentId: string; sessionId: string }, consentId: string, approved: boolean): Promise<void> {
    await this.feed.change(agent.sessionId, async (s) => {
      // The session's lock, whose change number becomes the answered request's own.
      const seq = await s.next()
      // One prepared read under the lock: the request, its requester's name (the agent's feed
      // names them), the commands waiting on it and the head of the session's trail (the answer's
      // events and its release then need no read of their own). Another session's request is not
      // found.
      const [found] = await preparedRows<RawConsent & { requester: string | null; waiting: unknown; head: string | null }>(
        s.tx,
        sql`select ${RAW_CONSENT}, u.name as requester, ${waitingSql(consentId)} as waiting, ${s.headSql} as head
            from consent_requests r left join users u on u.id = r.requested_by
            where r.id = ${consentId}::uuid and r.session_id = ${agent.sessionId}::uuid`,
      )
      if (!found) throw notFound('Consent request', 'CONSENT_NOT_FOUND')
      s.knowHead(found.head)
      const row = consentFromRaw(found)
      if (row.status === 'expired' || (row.status === 'pending' && row.expiresAt <= new Date())) {
        throw conflict('CONSENT_EXPIRED', 'This request expired before it was answered')
      }
      if (row.status === 'cancelled') throw conflict('CONSENT_CANCELLED', 'The support representative withdrew this request')
      if (row.status !== 'pending') throw conflict('CONSENT_ALREADY_ANSWERED', `This request was already ${row.status}`)
      const status = approved ? 'approved' : 'denied'
      const closed = await this.close(s, row, status, { type: 'agent', id: agent.agentId }, undefined, seq, { waiting: waitingRows(found.waiting), handOver: true })
      // The agent's whole feed from an approval: the request as answered (its chat line is a
      // system line) and what it released, offered to the agent's held poll here (its lock, the
      // chat line and one number per command: any other number taken voids the offer).
      if (status === 'approved') {
        const answered: AgentConsent = { id: row.id, kind: row.kind, status, requestedBy: found.requester ?? '', details: row.details, expiresAt: row.expiresAt.toISOString() }
        this.commands.offerReleased(s, answered, closed.released, 2 + closed.released.length)
      }
    })
  }

  async cancel(principal: Principal, sessionId: string, consentId: string): Promise<Consent> {
    await this.sessions.findAccessible(principal, sessionId)
    const row = await this.feed.change(sessionId, async (s) => {
      await s.next()
      const [found] = await s.tx
        .select()
        .from(consentRequests)
        .where(and(eq(consentRequests.id, consentId), eq(consentRequests.sessionId, sessionId)))
      if (!found) throw notFound('Consent request', 'CONSENT_NOT_FOUND')
      if (found.status !== 'pending') throw conflict('CONSENT_NOT_PENDING', `This request is already ${found.status}`)
      await noteAdminAction(s, principal, 'cancel_consent')
      return (await this.close(s, found, 'cancelled', { type: 'user', id: principal.userId })).row
    })
    return (await this.toConsents([row]))[0]!
  }

  /**
   * Moves a pending request to its final status and lets the command queue release or cancel
   * what waited on it (returned: what it released). `seq`: a change number the caller already took
   * under the lock and has no other use for (else one is taken here). `release`: for an approval,
   * what waits on the request as the caller read it, and whether the agent's held poll may be
   * handed the commands in this change (CommandQueue.releaseForConsent).
   */
  private async close(
    s: SessionTx,
    row: ConsentRow,
    status: 'approved' | 'denied' | 'expired' | 'cancelled',
    actor: Actor,
    reason?: string,
    seq?: number,
    release?: { waiting: CommandRow[]; handOver: boolean },
  ): Promise<{ row: ConsentRow; released: CommandRow[] }> {
    const number = seq ?? (await s.next())
    const answeredAt = status === 'approved' || status === 'denied' ? new Date() : null
    const data = { consentId: row.id, kind: row.kind, ...(reason ? { reason } : {}) }
    const title = consentTitles[row.kind]
    const line = {
      approved: `The customer approved: ${title}`,
      denied: `The customer denied: ${title}`,
      expired: `The request expired unanswered: ${title}`,
      cancelled: `Request withdrawn: ${title}`,
    }[status]
    const updated: ConsentRow = { ...row, status, answeredAt, seq: number }
    // An approval releases what waited on it in the same statement, after the chat line's number
    // (CommandQueue.planRelease), when the caller read what waits.
    const plan = status === 'approved' && release ? this.commands.planRelease(s, updated, release.waiting, release.handOver) : undefined
    // One statement: the request's new status, and its system line in the chat with the next
    // change number (as SessionTx.systemLine writes it), only when the request was still pending
    // (every caller read it pending under the session's lock, so the number is always used).
    const [closed] = await preparedRows<{ id: string; released: unknown }>(
      s.tx,
      sql`with c as (
            update consent_requests set status = ${status}::consent_status, answered_at = ${answeredAt?.toISOString() ?? null}::timestamptz,
              seq = ${number}
            where id = ${row.id}::uuid and status = 'pending' returning id
          ), n as (${s.take(1 + (plan?.count ?? 0))}), m as (
            insert into chat_messages (session_id, sender, body, system_event, seq)
            select ${s.sessionId}::uuid, 'system', ${cleanText(line)}, ${JSON.stringify({ type: `consent.${status}`, data })}::jsonb, n.base + 1 from n
            where exists (select 1 from c)
          )${plan ? plan.ctes(1, sql`exists (select 1 from c)`) : sql``}
          select id::text as id, ${plan ? plan.result : sql`null`} as released from c`,
    )
    if (!closed) return { row, released: [] }
    await s.event(`consent.${status}`, actor, data)
    if (plan) return { row: updated, released: await plan.done(closed.released) }
    if (status === 'approved') return { row: updated, released: await this.commands.releaseForConsent(s, updated, release?.waiting, release?.handOver) }
    await this.commands.cancelForConsent(s, row.id, status)
    return { row: updated, released: [] }
  }

  /** Withdraws a pending request inside a change (a cancelled batch's consent); false when it was no longer pending. */
  async withdrawInTx(s: SessionTx, consentId: string, actor: Actor, reason: string): Promise<boolean> {
    const [row] = await s.tx
      .select()
      .from(consentRequests)
      .where(and(eq(consentRequests.id, consentId), eq(consentRequests.sessionId, s.sessionId)))
    if (row?.status !== 'pending') return false
    await this.close(s, row, 'cancelled', actor, reason)
    return true
  }

  /** Cancels every pending request of a session that ends. */
  async cancelOpen(s: SessionTx, reason: string) {
    const open = await s.tx
      .select()
      .from(consentRequests)
      .where(and(eq(consentRequests.sessionId, s.sessionId), eq(consentRequests.status, 'pending')))
    for (const row of open) await this.close(s, row, 'cancelled', systemActor, reason)
  }

  /**
   * Consents that last for the session were given on one computer: when another computer takes
   * the session over they end, so its customer is asked again.
   */
  async expireLasting(s: SessionTx, reason: string) {
    const ended = await s.tx
      .update(consentRequests)
      .set({ status: 'expired', seq: await s.next() })
      .where(and(eq(consentRequests.sessionId, s.sessionId), eq(consentRequests.kind, 'view_system_info'), eq(consentRequests.status, 'approved')))
      .returning()
    for (const row of ended) await s.event('consent.expired', systemActor, { consentId: row.id, kind: row.kind, reason })
  }

  /** Expires unanswered requests whose time is up. Returns how many. */
  async expireDue(now = new Date()): Promise<number> {
    const due = await this.db
      .select({ id: consentRequests.id, sessionId: consentRequests.sessionId })
      .from(consentRequests)
      .where(and(eq(consentRequests.status, 'pending'), lt(consentRequests.expiresAt, now)))
      .limit(200)
    let n = 0
    for (const { id, sessionId } of due) {
      await this.feed.change(sessionId, async (s) => {
        await s.next()
        const [row] = await s.tx.select().from(consentRequests).where(eq(consentRequests.id, id))
        if (row?.status !== 'pending' || row.expiresAt >= now) return
        await this.close(s, row, 'expired', systemActor)
        n++
      })
    }
    return n
  }
}
