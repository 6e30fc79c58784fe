import { and, asc, count, desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { preparedRows } from '../db/raw.ts'
import { systemInfoSnapshots } from '../db/schema.ts'
import { badRequest, conflict, notFound } from '../errors.ts'
import { exportWords, type ExportLang } from '../lib/export-words.ts'
import { renderSystemInfoText } from '../lib/system-info-text.ts'
import type { Paging } from '../schemas/common.ts'
import { SYSTEM_INFO_CATEGORIES, type Snapshot, type SnapshotSummary, type SystemInfoCategory, type SystemInfoUpload } from '../schemas/sessions.ts'
import type { Principal } from './auth.service.ts'
import { toCommand, type CommandQueue } from './commands.service.ts'
import type { ConsentsService } from './consents.service.ts'
import type { SessionFeed } from './feed.ts'
import { noteAdminAction } from './oversight.ts'
import { isUniqueViolation } from '../db/raw.ts'
import { formatNumber, mayAccess, sessionEnded, sessionNotActive, sessionNotFound, type SessionsService } from './sessions.service.ts'

type SnapshotRow = typeof systemInfoSnapshots.$inferSelect

/** The largest snapshot an agent may upload (the route's body limit). */
export const SNAPSHOT_MAX_BYTES = 5 * 1024 * 1024

/** A snapshot's columns without its data, for lists and the live stream. */
export const snapshotSummaryColumns = {
  id: systemInfoSnapshots.id,
  sessionId: systemInfoSnapshots.sessionId,
  commandId: systemInfoSnapshots.commandId,
  collectedAt: systemInfoSnapshots.collectedAt,
  createdAt: systemInfoSnapshots.createdAt,
  sizeBytes: systemInfoSnapshots.sizeBytes,
  hostname: systemInfoSnapshots.hostname,
  os: systemInfoSnapshots.os,
}

export function toSummary(row: Omit<SnapshotRow, 'data' | 'seq'>): SnapshotSummary {
  return {
    id: row.id,
    sessionId: row.sessionId,
    commandId: row.commandId,
    collectedAt: row.collectedAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    sizeBytes: row.sizeBytes,
    hostname: row.hostname,
    os: row.os,
  }
}

/** A field's value from a category, for the snapshot's summary columns. */
function field(categories: SystemInfoCategory[], id: string, label: string): string | null {
  return categories.find((c) => c.id === id)?.fields.find((f) => f.label === label)?.value ?? null
}

/**
 * System information: Refresh asks for consent the first time (it lasts for the session) and
 * queues a collect command; the agent's upload becomes a snapshot; snapshots are listed, read
 * and exported as text.
 */
export class SystemInfoService {
  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
    private readonly sessions: SessionsService,
    private readonly consents: ConsentsService,
    private readonly commands: CommandQueue,
  ) {}

  /**
   * The CSR's Refresh: a collect command, behind the session's consent. With the agent's poll
   * holding on this instance, the command is delivered by this commit (see
   * `CommandQueue.approvedRow`) and the answer says `delivered`. The common case (consent
   * already given) is three statements in the transaction: the session's lock (which also answers
   * access and state); one prepared statement, sent behind the lock without waiting for it, that
   * reads (an open collection? the latest consent? the trail's head) and writes the command
   * released when that consent is approved and nothing is open; its events with the commit's
   * notification. On PostgreSQL, BEGIN goes out with the first two (db/pg-transaction.ts): two
   * round trips and the COMMIT. A refused Refresh rolls back.
   */
  async requestRefresh(principal: Principal, sessionId: string) {
    const { command, consent } = await this.feed.change(sessionId, async (s) => {
      // Written only if the read finds the consent approved and no collection open (its consent
      // and numbers are then the ones the statement saw; checked again below); written delivered
      // when the agent's poll holds on this instance, which this commit then answers.
      const handOver = this.feed.holding(sessionId)
      const fast = this.commands.approvedRow(sessionId, { kind: 'collect_system_info', consentId: '', createdBy: principal.userId }, 0, handOver)
      // The session's lock first (two refreshes at once see each other), and the statement sent
      // behind it without waiting: PostgreSQL runs it after the lock. It writes only for an active
      // session; a refusal below (access, state) rolls back what it wrote.
      const [session, [state]] = await Promise.all([
        s.enter(),
        preparedRows<{ open: boolean; consent_id: string | null; consent_status: string | null; head: string | null; made: number | null }>(
          s.tx,
          sql`with state as (
                select exists (select 1 from commands where session_id = ${sessionId} and kind = 'collect_system_info'
                                 and status in ('awaiting_consent', 'queued', 'delivered', 'running')) as open,
                       c.id as consent_id, c.status as consent_status, ${s.headSql} as head
                from (select 1) as one
                left join lateral (select id, status from consent_requests where session_id = ${sessionId} and kind = 'view_system_info'
                                   order by seq desc limit 1) as c on true),
              made as (
                insert into commands (id, session_id, kind, status, consent_id, payload, created_by, created_at, delivered_at, seq, dispatch_seq)
                select ${fast.id}::uuid, ${sessionId}::uuid, 'collect_system_info', ${fast.status}::command_status, st.consent_id, '{}'::jsonb, ${principal.userId}::uuid,
                       ${fast.createdAt.toISOString()}::timestamptz, ${fast.deliveredAt?.toISOString() ?? null}::timestamptz, ss.feed_seq, ss.feed_seq
                from state st join support_sessions ss on ss.id = ${sessionId}
                where ss.status = 'active' and not st.open and st.consent_status = 'approved'
                returning seq)
              select st.open, st.consent_id::text as consent_id, st.consent_status::text as consent_status, st.head, (select seq from made) as made
              from state st`,
        ),
      ])
      if (!session || !mayAccess(principal, session.csrId)) throw sessionNotFound()
      if (session.status === 'ended') throw sessionEnded()
      if (session.status !== 'active') throw sessionNotActive()
      s.knowHead(state!.head)
      if (state!.open) throw conflict('ALREADY_QUEUED', 'A collection is already waiting or running for this session')
      const adminOnOthers = principal.role === 'admin' && session.csrId !== principal.userId
      if (state!.consent_status === 'approved') {
        if (state!.made === null || Number(state!.made) !== session.seq) throw new Error(`the collection of session ${sessionId} was not written with its change number`)
        const command = await this.commands.recordApproved(s, { ...fast, consentId: state!.consent_id!, seq: session.seq, dispatchSeq: session.seq })
        if (adminOnOthers) await noteAdminAction(s, principal, 'system_info')
        return { command, consent: null }
      }
      let consent = state!.consent_status === 'pending' ? await this.consents.latestInTx(s, 'view_system_info') : undefined
      consent ??= await this.consents.createInTx(s, 'view_system_info', principal.userId)
      const command = await this.commands.enqueue(s, { kind: 'collect_system_info', consentId: consent.id, createdBy: principal.userId }, consent)
      if (adminOnOthers) await noteAdminAction(s, principal, 'system_info')
      return { command, consent }
    })
    return { command: toCommand(command), consent: consent ? (await this.consents.toConsents([consent]))[0]! : null }
  }

  /** Stores an agent's upload for a collect command; a retried upload stores nothing new. */
  async store(agent: { agentId: string; sessionId: string }, commandId: string, upload: SystemInfoUpload, sizeBytes: number) {
    const problems: Record<string, string> = {}
    const seen = new Set<string>()
    upload.categories.forEach((c, i) => {
      if (seen.has(c.id)) problems[`categories.${i}.id`] = `${c.id} appears twice`
      seen.add(c.id)
      if (!c.available && !c.reason) problems[`categories.${i}.reason`] = 'An unavailable category must say why'
      c.tables.forEach((t, j) => {
        if (t.rows.some((r) => r.length !== t.columns.length)) problems[`categories.${i}.tables.${j}.rows`] = 'Every row needs one value per column'
      })
    })
    for (const id of SYSTEM_INFO_CATEGORIES) if (!seen.has(id)) problems.categories ??= `Missing categories: ${SYSTEM_INFO_CATEGORIES.filter((c) => !seen.has(c)).join(', ')}`
    const collectedAt = new Date(upload.collectedAt)
    if (Number.isNaN(collectedAt.getTime())) problems.collectedAt = 'Not a date'
    if (Object.keys(problems).length > 0) throw badRequest('SNAPSHOT_MALFORMED', 'The system information is incomplete or inconsistent', problems)

    return this.feed.change(agent.sessionId, async (s) => {
      await s.next()
      const command = await this.commands.findForAgent(s, commandId)
      if (command.kind !== 'collect_system_info') throw conflict('WRONG_COMMAND_KIND', 'This command does not collect system information')
      const [existing] = await s.tx.select({ id: systemInfoSnapshots.id }).from(systemInfoSnapshots).where(eq(systemInfoSnapshots.commandId, commandId))
      if (existing) return { snapshotId: existing.id, duplicate: true }
      if (command.status === 'cancelled') throw conflict('COMMAND_CANCELLED', 'This collection was cancelled')
      if (command.status === 'succeeded' || command.status === 'failed') throw conflict('COMMAND_FINISHED', `This collection already ${command.status}`)
      const categories = SYSTEM_INFO_CATEGORIES.map((id) => upload.categories.find((c) => c.id === id)!) as SystemInfoCategory[]
      const os = [field(categories, 'system', 'OS'), field(categories, 'system', 'Version')].filter(Boolean).join(' ') || null
      let row: SnapshotRow
      try {
        ;[row] = (await s.tx
          .insert(systemInfoSnapshots)
          .values({
            sessionId: agent.sessionId,
            commandId,
            collectedAt,
            sizeBytes,
            hostname: field(categories, 'system', 'Hostname'),
            os,
            data: { categories },
            seq: await s.next(),
          })
          .returning()) as [SnapshotRow]
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict('DUPLICATE_UPLOAD', 'This snapshot is being stored by another request')
        throw err
      }
      await this.commands.finish(s, command, 'succeeded', null, { snapshotId: row.id })
      await s.event('snapshot.stored', { type: 'agent', id: agent.agentId }, { snapshotId: row.id, commandId, sizeBytes })
      await s.systemLine('System information collected', 'snapshot.stored', { snapshotId: row.id })
      return { snapshotId: row.id, duplicate: false }
    })
  }

  async list(principal: Principal, sessionId: string, query: Paging<'collectedAt'>) {
    await this.sessions.findAccessible(principal, sessionId)
    const where = eq(systemInfoSnapshots.sessionId, sessionId)
    const [rows, [total]] = await Promise.all([
      this.db
        .select(snapshotSummaryColumns)
        .from(systemInfoSnapshots)
        .where(where)
        .orderBy(query.order === 'desc' ? desc(systemInfoSnapshots.collectedAt) : asc(systemInfoSnapshots.collectedAt), asc(systemInfoSnapshots.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(systemInfoSnapshots).where(where),
    ])
    return { data: rows.map(toSummary), total: total?.n ?? 0 }
  }

  private async findRow(principal: Principal, sessionId: string, snapshotId: string) {
    const session = await this.sessions.findAccessible(principal, sessionId)
    const [row] = await this.db
      .select()
      .from(systemInfoSnapshots)
      .where(and(eq(systemInfoSnapshots.id, snapshotId), eq(systemInfoSnapshots.sessionId, sessionId)))
    if (!row) throw notFound('Snapshot', 'SNAPSHOT_NOT_FOUND')
    return { session, row }
  }

  async get(principal: Principal, sessionId: string, snapshotId: string): Promise<Snapshot> {
    const { row } = await this.findRow(principal, sessionId, snapshotId)
    return { ...toSummary(row), categories: row.data.categories as SystemInfoCategory[] }
  }

  async exportText(principal: Principal, sessionId: string, snapshotId: string, lang: ExportLang = 'en'): Promise<{ filename: string; text: string }> {
    const { session, row } = await this.findRow(principal, sessionId, snapshotId)
    const number = formatNumber(session.number)
    const text = renderSystemInfoText({
      sessionNumber: number,
      customerName: session.customerName,
      collectedAt: row.collectedAt,
      hostname: row.hostname,
      categories: row.data.categories as SystemInfoCategory[],
    }, exportWords(lang))
    const stamp = row.collectedAt.toISOString().replace(/[:]/g, '').replace(/\..*$/, 'Z')
    return { filename: `system-info-${number}-${stamp}.txt`, text }
  }
}
