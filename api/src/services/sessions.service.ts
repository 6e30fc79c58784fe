import { randomInt } from 'node:crypto'
import { and, asc, count, desc, eq, gte, ilike, inArray, isNotNull, lt, ne, or, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { isUniqueViolation } from '../db/raw.ts'
import { SessionEventWriter } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import { refuseControlCharacters } from '../lib/text.ts'
import { agents, consentRequests, sessionEvents, supportSessions, users, type JoinAttempt } from '../db/schema.ts'
import { conflict, notFound } from '../errors.ts'
import type { Paging } from '../schemas/common.ts'
import type { AgentInfo, Session } from '../schemas/sessions.ts'
import { likePattern } from './accounts.service.ts'
import type { Principal } from './auth.service.ts'
import type { CommandQueue } from './commands.service.ts'
import type { ConsentsService } from './consents.service.ts'
import { systemActor, type Actor, type SessionFeed, type SessionTx } from './feed.ts'
import { noteAdminAction } from './oversight.ts'

export type SessionRow = typeof supportSessions.$inferSelect
export type AgentRow = typeof agents.$inferSelect
type SessionSort = 'createdAt' | 'status' | 'customerName' | 'endedAt'

export interface SessionListQuery extends Paging<SessionSort> {
  status?: 'waiting' | 'active' | 'ended' | undefined
  q?: string | undefined
  csrId?: string | undefined
  mine?: boolean | undefined
  from?: string | undefined
  to?: string | undefined
}

/** 123456789 → 123-456-789 */
export function formatNumber(digits: string): string {
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6, 9)}`
}

/** Strips the separators a customer may type. */
export function normalizeNumber(text: string): string {
  return text.replace(/[^0-9]/g, '')
}

/**
 * The agent's status as the console shows it. The sweeper marks silent agents offline, but a
 * read does not wait for it: an online agent not seen within the threshold is offline now.
 */
export function agentStatus(row: AgentRow, offlineAfterMs: number, now = Date.now(), sessionEnded = false): AgentInfo['status'] {
  // An ended session has no agent working in it, whether or not the agent has said goodbye yet.
  if (row.state === 'left' || row.state === 'replaced' || sessionEnded) return 'left'
  if (row.state === 'offline' || now - row.lastSeenAt.getTime() > offlineAfterMs) return 'offline'
  return 'online'
}

/** `sessionEndedAt`: when the agent's session ended (it is `left` from then on), null while open. */
export function toAgentInfo(row: AgentRow, offlineAfterMs: number, sessionEndedAt: Date | null = null): AgentInfo {
  const status = agentStatus(row, offlineAfterMs, Date.now(), sessionEndedAt !== null)
  return {
    id: row.id,
    status,
    agentVersion: row.agentVersion,
    platform: row.platform,
    joinedAt: row.joinedAt.toISOString(),
    lastSeenAt: row.lastSeenAt.toISOString(),
    leftAt: (row.leftAt ?? sessionEndedAt)?.toISOString() ?? null,
    workingAs: row.workingAs,
    rebooting: row.rebootingAt !== null && status !== 'left',
  }
}

export interface SessionTimings {
  waitingExpiryMs: number
  offlineAfterMs: number
  /** How long “let a new computer in” stays open. */
  admissionMs: number
}

/** Support sessions: numbers, ownership (CSRs their own, admins all), ending and expiry. */
export class SessionsService {
  consents!: ConsentsService
  commands!: CommandQueue

  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
    private readonly timings: SessionTimings,
    private readonly keyring: Keyring,
  ) {}

  /** The session if this user may see it; someone else's is as unknown as a missing one. */
  async findAccessible(principal: Principal, id: string): Promise<SessionRow> {
    const [row] = await this.db.select().from(supportSessions).where(eq(supportSessions.id, id))
    if (!row || !mayAccess(principal, row.csrId)) throw sessionNotFound()
    return row
  }

  /**
   * The session a customer may join with this number (open, and not a waiting one past its
   * expiry). A wrong, ended and expired number all answer the same 404, so a guesser learns nothing.
   */
  async findJoinable(number: string): Promise<SessionRow> {
    const [row] = await this.db
      .select()
      .from(supportSessions)
      .where(and(eq(supportSessions.number, normalizeNumber(number)), ne(supportSessions.status, 'ended')))
    if (!row || (row.status === 'waiting' && row.expiresAt <= new Date())) throw notFound('Session', 'SESSION_NOT_FOUND')
    return row
  }

  async findRow(id: string): Promise<SessionRow> {
    const [row] = await this.db.select().from(supportSessions).where(eq(supportSessions.id, id))
    if (!row) throw notFound('Session', 'SESSION_NOT_FOUND')
    return row
  }

  async create(principal: Principal, input: { customerName: string; customerEmail?: string | undefined; description?: string | undefined }): Promise<Session> {
    // The customer's agent shows both; notes may have several lines.
    refuseControlCharacters({ customerName: input.customerName, description: input.description }, ['description'])
    const expiresAt = new Date(Date.now() + this.timings.waitingExpiryMs)
    // 10^9 numbers and a handful open at once: a collision is rare, and the unique index catches it.
    for (let attempt = 0; ; attempt++) {
      const number = String(randomInt(0, 1_000_000_000)).padStart(9, '0')
      try {
        const row = await this.db.transaction(async (tx) => {
          const [created] = await tx
            .insert(supportSessions)
            .values({
              number,
              customerName: input.customerName.trim(),
              customerEmail: input.customerEmail?.trim() || null,
              description: input.description?.trim() || null,
              csrId: principal.userId,
              expiresAt,
            })
            .returning()
          await new SessionEventWriter(tx, this.keyring, created!.id).append('session.created', { type: 'user', id: principal.userId }, {
            customerName: created!.customerName,
          })
          return created!
        })
        return (await this.present([row]))[0]!
      } catch (err) {
        if (attempt < 10 && isUniqueViolation(err)) continue
        throw err
      }
    }
  }

  async get(principal: Principal, id: string): Promise<Session> {
    return (await this.present([await this.findAccessible(principal, id)]))[0]!
  }

  async getRow(row: SessionRow): Promise<Session> {
    return (await this.present([row]))[0]!
  }

  async list(principal: Principal, query: SessionListQuery): Promise<{ data: Session[]; total: number }> {
    const where: SQL[] = []
    if (principal.role !== 'admin' || query.mine) where.push(eq(supportSessions.csrId, principal.userId))
    if (query.csrId) where.push(eq(supportSessions.csrId, query.csrId))
    if (query.status) where.push(eq(supportSessions.status, query.status))
    if (query.from) where.push(gte(supportSessions.createdAt, new Date(query.from)))
    if (query.to) where.push(lt(supportSessions.createdAt, new Date(query.to)))
    if (query.q) {
      const digits = normalizeNumber(query.q)
      const pattern = likePattern(query.q.trim())
      const text = [ilike(supportSessions.customerName, pattern), ilike(supportSessions.customerEmail, pattern)]
      if (digits.length >= 3) text.push(ilike(supportSessions.number, likePattern(digits)))
      where.push(or(...text) as SQL)
    }
    const filter = where.length ? and(...where) : undefined
    const direction = query.order === 'desc' ? desc : asc
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(supportSessions)
        .where(filter)
        .orderBy(direction(supportSessions[query.sort]), desc(supportSessions.createdAt), asc(supportSessions.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(supportSessions).where(filter),
    ])
    return { data: await this.present(rows), total: total?.n ?? 0 }
  }

  /** Sessions as the API shows them, with their CSR, latest agent and system-info consent in three queries. */
  async present(rows: SessionRow[]): Promise<Session[]> {
    if (rows.length === 0) return []
    const ids = rows.map((r) => r.id)
    const now = new Date()
    const admitted = (r: SessionRow) => (r.admitUntil && r.admittedBy && r.admitUntil > now ? { until: r.admitUntil, by: r.admittedBy } : undefined)
    const csrIds = [...new Set(rows.flatMap((r) => [r.csrId, ...(admitted(r) ? [admitted(r)!.by] : [])]))]
    const [csrs, latestAgents, latestConsents] = await Promise.all([
      this.db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, csrIds)),
      this.db
        .selectDistinctOn([agents.sessionId])
        .from(agents)
        .where(inArray(agents.sessionId, ids))
        .orderBy(agents.sessionId, desc(agents.joinedAt)),
      this.db
        .selectDistinctOn([consentRequests.sessionId], { sessionId: consentRequests.sessionId, status: consentRequests.status })
        .from(consentRequests)
        .where(and(inArray(consentRequests.sessionId, ids), eq(consentRequests.kind, 'view_system_info')))
        .orderBy(consentRequests.sessionId, desc(consentRequests.seq)),
    ])
    const csrName = new Map(csrs.map((c) => [c.id, c.name]))
    const agentOf = new Map(latestAgents.map((a) => [a.sessionId, a]))
    const consentOf = new Map(latestConsents.map((c) => [c.sessionId, c.status]))
    return rows.map((row) => {
      const agent = agentOf.get(row.id)
      const admission = admitted(row)
      return {
        id: row.id,
        number: formatNumber(row.number),
        status: row.status,
        customerName: row.customerName,
        customerEmail: row.customerEmail,
        description: row.description,
        csr: { id: row.csrId, name: csrName.get(row.csrId) ?? '' },
        createdAt: row.createdAt.toISOString(),
        startedAt: row.startedAt?.toISOString() ?? null,
        endedAt: row.endedAt?.toISOString() ?? null,
        endedReason: row.endedReason === 'expired' ? 'expired' : row.endedReason ? 'ended' : null,
        expiresAt: row.status === 'waiting' ? row.expiresAt.toISOString() : null,
        agent: agent ? toAgentInfo(agent, this.timings.offlineAfterMs, row.status === 'ended' ? (row.endedAt ?? now) : null) : null,
        joinAttempt: row.joinAttempt ? toJoinAttempt(row.joinAttempt) : null,
        admission: admission ? { until: admission.until.toISOString(), admittedBy: { id: admission.by, name: csrName.get(admission.by) ?? '' } } : null,
        systemInfoConsent: consentOf.get(row.id) ?? null,
        cursor: row.feedSeq,
      }
    })
  }

  async end(principal: Principal, id: string): Promise<Session> {
    const found = await this.findAccessible(principal, id)
    if (found.status === 'ended') throw sessionEnded()
    await this.feed.change(id, async (s) => {
      const ended = await this.endInTx(s, 'ended', { type: 'user', id: principal.userId })
      if (!ended) throw sessionEnded()
      await noteAdminAction(s, principal, 'end')
    })
    return this.get(principal, id)
  }

  /**
   * Lets one new computer join with the number (a session that had an agent refuses the number
   * alone): open for `admissionMs`, used up by the first join, which replaces the current agent.
   */
  async admitAgent(principal: Principal, id: string): Promise<{ until: string; admittedBy: { id: string; name: string } }> {
    const found = await this.findAccessible(principal, id)
    if (found.status === 'ended') throw sessionEnded()
    const until = new Date(Date.now() + this.timings.admissionMs)
    await this.feed.change(id, async (s) => {
      const seq = await s.next()
      const [row] = await s.tx.select().from(supportSessions).where(eq(supportSessions.id, id))
      if (!row || row.status === 'ended') throw sessionEnded()
      // No computer yet: the number alone lets the first one in.
      if (row.status !== 'active') throw sessionNotActive()
      await s.tx.update(supportSessions).set({ admitUntil: until, admittedBy: principal.userId, statusSeq: seq }).where(eq(supportSessions.id, id))
      const minutes = Math.round(this.timings.admissionMs / 60_000)
      await s.event('agent.admission_granted', { type: 'user', id: principal.userId }, { until: until.toISOString(), joinAttempt: row.joinAttempt })
      await s.systemLine(
        `A new computer may join this session with its number until ${until.toISOString().slice(11, 16)} UTC (${minutes} min, once); it will replace the current one`,
        'agent.admission_granted',
        { until: until.toISOString(), admittedBy: principal.userId },
      )
      await noteAdminAction(s, principal, 'admit_agent')
    })
    return { until: until.toISOString(), admittedBy: { id: principal.userId, name: await this.csrName(principal.userId) } }
  }

  /**
   * Ends the session inside a change: the status, the audit event, a chat line, and everything
   * still open (pending consents, unfinished commands) cancelled. False when already ended.
   */
  private async endInTx(s: SessionTx, reason: 'ended' | 'expired', actor: Actor): Promise<boolean> {
    const seq = await s.next()
    const now = new Date()
    const [row] = await s.tx
      .update(supportSessions)
      .set({ status: 'ended', endedAt: now, endedReason: reason, statusSeq: seq, updatedAt: now })
      .where(and(eq(supportSessions.id, s.sessionId), ne(supportSessions.status, 'ended')))
      .returning()
    if (!row) return false
    await this.consents.cancelOpen(s, reason === 'expired' ? 'session_expired' : 'session_ended')
    await this.commands.cancelOpen(s, reason === 'expired' ? 'The session expired' : 'The session ended')
    // The agent logs off by itself when it sees the end; the record says so.
    const loggedOn = await s.tx
      .select({ id: agents.id, workingAs: agents.workingAs })
      .from(agents)
      .where(and(eq(agents.sessionId, s.sessionId), isNotNull(agents.workingAs)))
    for (const agent of loggedOn) {
      await s.tx.update(agents).set({ workingAs: null, seq: await s.next() }).where(eq(agents.id, agent.id))
      await s.event('agent.logged_off', actor, { username: agent.workingAs, reason: 'session_ended' })
    }
    // The stream sends the agent again, now `left`.
    await s.tx
      .update(agents)
      .set({ seq: await s.next() })
      .where(and(eq(agents.sessionId, s.sessionId), inArray(agents.state, ['online', 'offline'])))
    await s.event(reason === 'expired' ? 'session.expired' : 'session.ended', actor)
    await s.systemLine(reason === 'expired' ? 'The session expired before anyone joined' : 'The session was ended', `session.${reason}`)
    return true
  }

  /** Ends waiting sessions that nobody joined in time. Returns how many. */
  async expireWaiting(now = new Date()): Promise<number> {
    const due = await this.db
      .select({ id: supportSessions.id })
      .from(supportSessions)
      .where(and(eq(supportSessions.status, 'waiting'), lt(supportSessions.expiresAt, now)))
      .limit(200)
    let n = 0
    for (const { id } of due) {
      const expired = await this.feed.change(id, async (s) => {
        // Re-checked under the session's lock: an agent may have joined a moment ago.
        const [row] = await s.tx.select().from(supportSessions).where(eq(supportSessions.id, id)).for('update')
        if (!row || row.status !== 'waiting' || row.expiresAt >= now) return false
        return this.endInTx(s, 'expired', systemActor)
      })
      if (expired) n++
    }
    return n
  }

  async listEvents(principal: Principal, id: string, page: Paging<'id'>) {
    await this.findAccessible(principal, id)
    const where = eq(sessionEvents.sessionId, id)
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(sessionEvents)
        .where(where)
        .orderBy(page.order === 'desc' ? desc(sessionEvents.id) : asc(sessionEvents.id))
        .limit(page.limit)
        .offset(page.offset),
      this.db.select({ n: count() }).from(sessionEvents).where(where),
    ])
    return {
      data: rows.map(toSessionEvent),
      total: total?.n ?? 0,
    }
  }

  /** Latest agent of a session (the one whose status the console shows). */
  async latestAgent(sessionId: string): Promise<AgentRow | undefined> {
    const [row] = await this.db.select().from(agents).where(eq(agents.sessionId, sessionId)).orderBy(desc(agents.joinedAt)).limit(1)
    return row
  }

  async csrName(csrId: string): Promise<string> {
    const [row] = await this.db.select({ name: users.name }).from(users).where(eq(users.id, csrId))
    return row?.name ?? ''
  }
}

export function toSessionEvent(r: typeof sessionEvents.$inferSelect) {
  return {
    id: r.id,
    type: r.type,
    actorType: r.actorType,
    actorId: r.actorId,
    data: r.data,
    createdAt: r.createdAt.toISOString(),
    prevHash: r.prevHash,
    hash: r.hash,
  }
}

/** What the API shows of a refused join (not when its chat line was written). */
export function toJoinAttempt(a: JoinAttempt) {
  return { firstAt: a.firstAt, lastAt: a.lastAt, attempts: a.attempts, hostname: a.hostname, os: a.os, osVersion: a.osVersion, address: a.address }
}

/** Whether this user may see a session of this CSR (CSRs their own, admins all). */
export function mayAccess(principal: Principal, csrId: string): boolean {
  return principal.role === 'admin' || csrId === principal.userId
}

/** Someone else's session is as unknown as a missing one. */
export const sessionNotFound = () => notFound('Session', 'SESSION_NOT_FOUND')

export const sessionEnded = () => conflict('SESSION_ENDED', 'The session has ended')
export const sessionNotActive = () => conflict('SESSION_NOT_ACTIVE', 'No agent has joined this session yet')

