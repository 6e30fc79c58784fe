import { and, asc, count, desc, eq, gt, gte, lt, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { auditEvents, supportSessions } from '../db/schema.ts'
import { notFound } from '../errors.ts'
import { sessionEventPages, siteEventPages, verifyRows, type ChainReport } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { Paging } from '../schemas/common.ts'
import { formatNumber } from './sessions.service.ts'

export interface AuditEventQuery extends Paging<'id'> {
  type?: string | undefined
  actorId?: string | undefined
  targetType?: string | undefined
  targetId?: string | undefined
  from?: string | undefined
  to?: string | undefined
}

/** A chain found broken by `verifyAll`. */
export interface BrokenChain {
  /** 'site', or 'session <number> (<id>)'. */
  chain: string
  report: ChainReport
}

const SESSION_PAGE = 500

/**
 * Reading and checking the audit trails: the site-wide trail as a list, and any chain (one
 * session's, the site's, or all of them) recomputed link by link. Admins only; the checks need
 * the server secret, so they run in the server or in a tool started with its configuration.
 */
export class AuditService {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
  ) {}

  async verifySession(sessionId: string): Promise<ChainReport> {
    const [session] = await this.db.select({ id: supportSessions.id }).from(supportSessions).where(eq(supportSessions.id, sessionId))
    if (!session) throw notFound('Session', 'SESSION_NOT_FOUND')
    return verifyRows(this.keyring, sessionEventPages(this.db, sessionId))
  }

  async verifySite(): Promise<ChainReport> {
    return verifyRows(this.keyring, siteEventPages(this.db))
  }

  /**
   * Every session's chain and the site chain. Calls `broken` for each broken chain as it is
   * found (a long check shows progress); returns what was checked.
   */
  async verifyAll(broken: (chain: BrokenChain) => void): Promise<{ sessions: number; events: number; broken: number }> {
    const totals = { sessions: 0, events: 0, broken: 0 }
    let after: string | undefined
    for (;;) {
      const page = await this.db
        .select({ id: supportSessions.id, number: supportSessions.number })
        .from(supportSessions)
        .where(after ? gt(supportSessions.id, after) : undefined)
        .orderBy(asc(supportSessions.id))
        .limit(SESSION_PAGE)
      if (page.length === 0) break
      for (const session of page) {
        const report = await verifyRows(this.keyring, sessionEventPages(this.db, session.id))
        totals.sessions++
        totals.events += report.events
        if (!report.ok) {
          totals.broken++
          broken({ chain: `session ${formatNumber(session.number)} (${session.id})`, report })
        }
      }
      after = page[page.length - 1]!.id
    }
    const site = await this.verifySite()
    totals.events += site.events
    if (!site.ok) {
      totals.broken++
      broken({ chain: 'site', report: site })
    }
    return totals
  }

  async list(query: AuditEventQuery) {
    const where: SQL[] = []
    if (query.type) where.push(eq(auditEvents.type, query.type))
    if (query.actorId) where.push(eq(auditEvents.actorId, query.actorId))
    if (query.targetType) where.push(eq(auditEvents.targetType, query.targetType))
    if (query.targetId) where.push(eq(auditEvents.targetId, query.targetId))
    if (query.from) where.push(gte(auditEvents.createdAt, new Date(query.from)))
    if (query.to) where.push(lt(auditEvents.createdAt, new Date(query.to)))
    const filter = where.length ? and(...where) : undefined
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(auditEvents)
        .where(filter)
        .orderBy(query.order === 'desc' ? desc(auditEvents.id) : asc(auditEvents.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(auditEvents).where(filter),
    ])
    return {
      data: rows.map((r) => ({
        id: r.id,
        type: r.type,
        actorType: r.actorType,
        actorId: r.actorId,
        targetType: r.targetType,
        targetId: r.targetId,
        data: r.data,
        createdAt: r.createdAt.toISOString(),
        prevHash: r.prevHash,
        hash: r.hash,
      })),
      total: total?.n ?? 0,
    }
  }
}
