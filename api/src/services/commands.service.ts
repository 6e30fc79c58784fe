import { and, asc, count, desc, eq, gt, inArray, isNotNull, lte, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { commandReports, commands, consentRequests } from '../db/schema.ts'
import { conflict, notFound } from '../errors.ts'
import type { AgentCommand } from '../schemas/agent.ts'
import type { Paging } from '../schemas/common.ts'
import type { Command } from '../schemas/sessions.ts'
import { rows as rowsOf } from '../db/raw.ts'
import type { ConsentKind, ConsentRow } from './consents.service.ts'
import type { SessionFeed, SessionTx } from './feed.ts'

export type CommandRow = typeof commands.$inferSelect
export type CommandStatus = CommandRow['status']

/**
 * Every kind of command an agent can be given, and the consent it needs (null: none). A kind
 * missing here is never handed to an agent. Scripts, logon and reboot add theirs.
 */
export const COMMAND_KINDS = {
  collect_system_info: 'view_system_info',
  run_scripts: 'run_scripts',
  logon_as_user: 'logon_as_user',
  logoff: null,
  reboot: 'reboot',
} as const satisfies Record<string, ConsentKind | null>
export type CommandKind = keyof typeof COMMAND_KINDS

/** Consent kinds that, once approved, cover every later command of the session. */
const LASTS_FOR_SESSION: ReadonlySet<ConsentKind> = new Set(['view_system_info'])

/**
 * What a feature keeps beside its commands (a batch's script runs) follows the command through
 * these: released to the agent, its consent closed without approval, finished.
 */
export interface CommandObserver {
  released?(s: SessionTx, row: CommandRow): Promise<void>
  consentClosed?(s: SessionTx, row: CommandRow, outcome: 'denied' | 'expired' | 'cancelled'): Promise<void>
  finished?(s: SessionTx, row: CommandRow, status: 'succeeded' | 'failed' | 'cancelled', error: string | null): Promise<void>
  /** A new (not repeated) report from the agent, after the command's status followed it. */
  reported?(s: SessionTx, row: CommandRow, report: { status?: string | undefined; message?: string | undefined; data?: Record<string, unknown> | undefined }, agentId: string): Promise<void>
}

/** Kinds whose payload is a secret for the agent alone: emptied once it is handed out. */
const WIPE_ON_DELIVERY: ReadonlySet<string> = new Set(['logon_as_user'])

export const OPEN_COMMAND_STATUSES: CommandStatus[] = ['awaiting_consent', 'queued', 'delivered', 'running']
const OPEN = OPEN_COMMAND_STATUSES
const HANDED_OUT: CommandStatus[] = ['queued', 'delivered', 'running']

export function toCommand(row: CommandRow): Command {
  return {
    id: row.id,
    sessionId: row.sessionId,
    kind: row.kind,
    status: row.status,
    consentId: row.consentId,
    createdAt: row.createdAt.toISOString(),
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    error: row.error,
  }
}

/**
 * The agent's command queue. Commands wait (`awaiting_consent`) until their consent is approved,
 * are then released with a dispatch number the agent's cursor follows, and are handed out only
 * by `takeForAgent`, which checks the consent again in the same query: the one place where a
 * command reaches an agent, and the one place that refuses one without an approved consent.
 */
export class CommandQueue {
  private readonly observers = new Map<string, CommandObserver>()

  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
  ) {}

  observe(kind: CommandKind, observer: CommandObserver) {
    this.observers.set(kind, observer)
  }

  /** Adds a command inside a session change, released at once when its consent allows it. */
  async enqueue(s: SessionTx, input: { kind: CommandKind; consentId: string | null; payload?: Record<string, unknown>; createdBy: string | null }): Promise<CommandRow> {
    const [row] = await s.tx
      .insert(commands)
      .values({
        sessionId: s.sessionId,
        kind: input.kind,
        status: 'awaiting_consent',
        consentId: input.consentId,
        payload: input.payload ?? {},
        createdBy: input.createdBy,
        seq: await s.next(),
      })
      .returning()
    await s.event('command.created', input.createdBy ? { type: 'user', id: input.createdBy } : { type: 'system' }, {
      commandId: row!.id,
      kind: input.kind,
    })
    return (await this.release(s, row!)) ?? row!
  }

  /**
   * Whether the consent a command points at allows it to be handed out now. `known`: that consent
   * as this transaction just wrote it (no need to read it again).
   */
  private async allowed(s: SessionTx, row: CommandRow, known?: ConsentRow): Promise<boolean> {
    const needed = COMMAND_KINDS[row.kind as CommandKind] as ConsentKind | null | undefined
    if (needed === undefined) return false
    if (needed === null) return true
    if (!row.consentId) return false
    const [consent] = known?.id === row.consentId ? [known] : await s.tx.select().from(consentRequests).where(eq(consentRequests.id, row.consentId))
    return consent?.status === 'approved' && consent.kind === needed && consent.sessionId === row.sessionId
  }

  private async release(s: SessionTx, row: CommandRow, consent?: ConsentRow): Promise<CommandRow | undefined> {
    if (row.status !== 'awaiting_consent' || !(await this.allowed(s, row, consent))) return undefined
    const seq = await s.next()
    const [released] = await s.tx
      .update(commands)
      .set({ status: 'queued', dispatchSeq: seq, seq })
      .where(and(eq(commands.id, row.id), eq(commands.status, 'awaiting_consent')))
      .returning()
    if (released) {
      await s.event('command.queued', { type: 'system' }, { commandId: row.id, kind: row.kind })
      await this.observers.get(row.kind)?.released?.(s, released)
    }
    return released
  }

  /** A consent was approved: release what waited on it. */
  async releaseForConsent(s: SessionTx, consent: ConsentRow) {
    const waiting = await s.tx
      .select()
      .from(commands)
      .where(and(eq(commands.consentId, consent.id), eq(commands.status, 'awaiting_consent')))
      .orderBy(asc(commands.seq))
    for (const row of waiting) await this.release(s, row, consent)
  }

  /** A consent was denied, expired or withdrawn: what waited on it will never run. */
  async cancelForConsent(s: SessionTx, consentId: string, outcome: 'denied' | 'expired' | 'cancelled') {
    const waiting = await s.tx
      .select()
      .from(commands)
      .where(and(eq(commands.consentId, consentId), eq(commands.status, 'awaiting_consent')))
    for (const row of waiting) {
      await this.observers.get(row.kind)?.consentClosed?.(s, row, outcome)
      await this.finish(s, row, 'cancelled', `Consent ${outcome}`)
    }
  }

  async cancelOpen(s: SessionTx, reason: string) {
    const open = await s.tx
      .select()
      .from(commands)
      .where(and(eq(commands.sessionId, s.sessionId), inArray(commands.status, OPEN)))
    for (const row of open) await this.finish(s, row, 'cancelled', reason)
  }

  async finish(s: SessionTx, row: CommandRow, status: 'succeeded' | 'failed' | 'cancelled', error: string | null, result?: Record<string, unknown>) {
    const [done] = await s.tx
      .update(commands)
      .set({
        status,
        error,
        finishedAt: new Date(),
        seq: await s.next(),
        ...(result ? { result } : {}),
        // A secret payload never outlives its command, delivered or not.
        ...(WIPE_ON_DELIVERY.has(row.kind) ? { payload: {} } : {}),
      })
      .where(and(eq(commands.id, row.id), inArray(commands.status, OPEN)))
      .returning()
    if (done) {
      await s.event(`command.${status}`, { type: 'system' }, { commandId: row.id, kind: row.kind, ...(error ? { error } : {}) })
      await this.observers.get(row.kind)?.finished?.(s, done, status, error)
    }
    return done
  }

  /**
   * The commands an agent may run, released after `cursor` and up to `upTo`, not finished.
   * The consent check is part of the query: a command whose consent is not approved (for its
   * kind, in its session) is not returned whatever its status says.
   */
  async takeForAgent(sessionId: string, cursor: number, upTo: number): Promise<CommandRow[]> {
    const consentOk = sql.join(
      Object.entries(COMMAND_KINDS).map(([kind, consent]) =>
        consent === null
          ? sql`(${commands.kind} = ${kind})`
          : sql`(${commands.kind} = ${kind} and ${consentRequests.kind} = ${consent} and ${consentRequests.status} = 'approved' and ${consentRequests.sessionId} = ${commands.sessionId})`,
      ),
      sql` or `,
    )
    const rows = await this.db
      .select({ command: commands })
      .from(commands)
      .leftJoin(consentRequests, eq(consentRequests.id, commands.consentId))
      .where(
        and(
          eq(commands.sessionId, sessionId),
          isNotNull(commands.dispatchSeq),
          gt(commands.dispatchSeq, cursor),
          lte(commands.dispatchSeq, upTo),
          inArray(commands.status, HANDED_OUT),
          sql`(${consentOk})`,
        ),
      )
      .orderBy(asc(commands.dispatchSeq))
      .limit(100)
    return rows.map((r) => r.command)
  }

  /** Records that the agent has fetched these commands (first delivery only). */
  async markDelivered(sessionId: string, rows: CommandRow[]) {
    const fresh = rows.filter((r) => r.status === 'queued')
    if (fresh.length === 0) return
    await this.feed.changeMany([sessionId], async (of, bulk) => {
      // A change number per command, in order, as one at a time would take them; one statement
      // for all the commands, and their events written together at the end of the change.
      const first = (await bulk.reserve([sessionId], () => fresh.length)).get(sessionId)!
      const list = fresh.map((row, i) => ({ id: row.id, seq: first + i, wipe: WIPE_ON_DELIVERY.has(row.kind) }))
      const done = new Set(
        (
          await rowsOf<{ id: string }>(
            bulk.tx,
            sql`update commands c set status = 'delivered', delivered_at = ${new Date().toISOString()}::timestamptz, seq = r.seq,
                  payload = case when r.wipe then '{}'::jsonb else c.payload end
                from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as r(id uuid, seq integer, wipe boolean)
                where c.id = r.id and c.status = 'queued'
                returning c.id::text as id`,
          )
        ).map((r) => r.id),
      )
      for (const row of fresh) if (done.has(row.id)) await of(sessionId).event('command.delivered', { type: 'system' }, { commandId: row.id, kind: row.kind })
    })
  }

  toAgentCommand(row: CommandRow): AgentCommand {
    return { id: row.id, kind: row.kind, consentId: row.consentId, payload: row.payload, createdAt: row.createdAt.toISOString() }
  }

  /** A command of this agent's session that was handed out to it (others do not exist for it). */
  async findForAgent(s: SessionTx, commandId: string): Promise<CommandRow> {
    const [row] = await s.tx
      .select()
      .from(commands)
      .where(and(eq(commands.id, commandId), eq(commands.sessionId, s.sessionId), isNotNull(commands.dispatchSeq)))
      .for('update')
    if (!row) throw notFound('Command', 'COMMAND_NOT_FOUND')
    return row
  }

  /** The agent began working on a command (first report or first script started). */
  async markRunning(s: SessionTx, row: CommandRow, agentId: string) {
    if (row.status === 'running') return
    const [running] = await s.tx
      .update(commands)
      .set({ status: 'running', seq: await s.next() })
      .where(and(eq(commands.id, row.id), inArray(commands.status, HANDED_OUT)))
      .returning({ id: commands.id })
    if (running) await s.event('command.running', { type: 'agent', id: agentId }, { commandId: row.id, kind: row.kind })
  }

  /**
   * A progress or result report. (command, sequence) is stored once: a retried post is
   * acknowledged as a duplicate and changes nothing.
   */
  async report(
    agent: { agentId: string; sessionId: string },
    commandId: string,
    input: { sequence: number; status?: 'running' | 'succeeded' | 'failed' | undefined; message?: string | undefined; data?: Record<string, unknown> | undefined },
  ): Promise<{ duplicate: boolean; commandStatus: string }> {
    return this.feed.change(agent.sessionId, async (s) => {
      await s.next()
      const row = await this.findForAgent(s, commandId)
      const [stored] = await s.tx
        .insert(commandReports)
        .values({ commandId, sequence: input.sequence, status: input.status ?? null, message: input.message ?? null, data: input.data ?? null })
        .onConflictDoNothing()
        .returning({ id: commandReports.id })
      if (!stored) return { duplicate: true, commandStatus: row.status }
      if (row.status === 'cancelled') throw conflict('COMMAND_CANCELLED', 'This command was cancelled; stop working on it')
      if (row.status === 'succeeded' || row.status === 'failed') throw conflict('COMMAND_FINISHED', `This command already ${row.status}`)
      const observer = this.observers.get(row.kind)
      if (input.status === 'running' && row.status !== 'running') {
        await this.markRunning(s, row, agent.agentId)
        await observer?.reported?.(s, row, input, agent.agentId)
        return { duplicate: false, commandStatus: 'running' }
      }
      if (input.status === 'succeeded' || input.status === 'failed') {
        const done = await this.finish(s, row, input.status, input.status === 'failed' ? (input.message ?? 'Failed') : null, input.data)
        if (input.status === 'failed' && row.kind === 'collect_system_info') {
          await s.systemLine(`System information could not be collected: ${input.message ?? 'unknown error'}`, 'system_info.failed', { commandId })
        }
        await observer?.reported?.(s, row, input, agent.agentId)
        return { duplicate: false, commandStatus: done?.status ?? row.status }
      }
      await observer?.reported?.(s, row, input, agent.agentId)
      return { duplicate: false, commandStatus: row.status }
    })
  }

  async list(sessionId: string, query: Paging<'createdAt'> & { status?: CommandStatus | undefined }) {
    const where: SQL[] = [eq(commands.sessionId, sessionId)]
    if (query.status) where.push(eq(commands.status, query.status))
    const filter = and(...where)
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(commands)
        .where(filter)
        .orderBy(query.order === 'desc' ? desc(commands.createdAt) : asc(commands.createdAt), asc(commands.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(commands).where(filter),
    ])
    return { data: rows.map(toCommand), total: total?.n ?? 0 }
  }

  /** The open command of a kind in a session (queues hold one of each kind at a time). */
  async openOfKind(s: SessionTx, kind: CommandKind): Promise<CommandRow | undefined> {
    const [row] = await s.tx
      .select()
      .from(commands)
      .where(and(eq(commands.sessionId, s.sessionId), eq(commands.kind, kind), inArray(commands.status, OPEN)))
      .limit(1)
    return row
  }

  /** Whether a consent kind keeps allowing new commands once approved. */
  static lastsForSession(kind: ConsentKind): boolean {
    return LASTS_FOR_SESSION.has(kind)
  }
}
