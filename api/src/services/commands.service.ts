import { randomUUID } from 'node:crypto'
import { and, asc, count, desc, eq, inArray, isNotNull, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { commands, consentRequests } from '../db/schema.ts'
import { conflict, notFound } from '../errors.ts'
import type { AgentCommand, AgentConsent } from '../schemas/agent.ts'
import type { Paging } from '../schemas/common.ts'
import type { Command } from '../schemas/sessions.ts'
import { preparedRows, rawDate } from '../db/raw.ts'
import type { ConsentKind, ConsentRow } from './consents.service.ts'
import type { AgentOffer } from './agents.service.ts'
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
  /**
   * What `released` writes, as the body of a data-modifying CTE over `released` (a subquery of
   * the released commands of this kind: `id` uuid, `seq` their change number), so that
   * `releaseForConsent` writes it in its own statement; there `released` is not called.
   */
  releasedSql?(released: SQL): SQL
  consentClosed?(s: SessionTx, row: CommandRow, outcome: 'denied' | 'expired' | 'cancelled'): Promise<void>
  finished?(s: SessionTx, row: CommandRow, status: 'succeeded' | 'failed' | 'cancelled', error: string | null): Promise<void>
  /** A new (not repeated) report from the agent, after the command's status followed it. */
  reported?(s: SessionTx, row: CommandRow, report: { status?: string | undefined; message?: string | undefined; data?: Record<string, unknown> | undefined }, agentId: string): Promise<void>
}

/** A release of commands written by CTEs of another statement: `CommandQueue.planRelease`. */
export interface ReleasePlan {
  /** The change numbers it takes, one per command, in order. */
  count: number
  /**
   * The CTEs that write it (each after a comma), for a statement whose CTE `n` took the change's
   * numbers (`s.take`, giving `base`): the commands take `base + offset + 1` on, and are written
   * only where `guard` (a boolean expression) holds.
   */
  ctes(offset: number, guard: SQL): SQL
  /** A scalar expression for that statement to select: what `done` reads. */
  result: SQL
  /** After the statement, with what it selected for `result`: the events, the observers not written in SQL; the released rows. */
  done(result: unknown): Promise<CommandRow[]>
}

/** Kinds whose payload is a secret for the agent alone: emptied once it is handed out. */
const WIPE_ON_DELIVERY: ReadonlySet<string> = new Set(['logon_as_user'])

export const OPEN_COMMAND_STATUSES: CommandStatus[] = ['awaiting_consent', 'queued', 'delivered', 'running']
const OPEN = OPEN_COMMAND_STATUSES
const HANDED_OUT: CommandStatus[] = ['queued', 'delivered', 'running']
/** `OPEN` as a list of SQL literals (constants of this file, not input). */
const OPEN_LIST = sql.raw(OPEN.map((status) => `'${status}'`).join(', '))

/** The consent rule of `takeForAgent`, per kind (constants of this file, not input). */
const CONSENT_OK = sql.raw(
  Object.entries(COMMAND_KINDS)
    .map(([kind, consent]) =>
      consent === null
        ? `(c.kind = '${kind}')`
        : `(c.kind = '${kind}' and r.kind = '${consent}' and r.status = 'approved' and r.session_id = c.session_id)`,
    )
    .join(' or '),
)

/** A command row as a hand-written select returns it (snake_case; timestamps as Date or text, by driver). */
interface RawCommand extends Record<string, unknown> {
  id: string
  session_id: string
  kind: string
  status: CommandStatus
  consent_id: string | null
  payload: Record<string, unknown>
  created_by: string | null
  created_at: Date | string
  delivered_at: Date | string | null
  finished_at: Date | string | null
  error: string | null
  result: Record<string, unknown> | null
  seq: number
  dispatch_seq: number | null
}

/** The columns of a `RawCommand`, from a table aliased `c`. */
const RAW_COLUMNS = sql.raw(`c.id::text as id, c.session_id::text as session_id, c.kind, c.status::text as status, c.consent_id::text as consent_id,
  c.payload, c.created_by::text as created_by, c.created_at, c.delivered_at, c.finished_at, c.error, c.result, c.seq, c.dispatch_seq`)

/** Whether `consent` (as read or written under the session's lock) allows `row` to be handed out. */
function coveredBy(row: CommandRow, consent: ConsentRow): boolean {
  const needed = COMMAND_KINDS[row.kind as CommandKind] as ConsentKind | null | undefined
  return (
    needed !== undefined && needed !== null && row.consentId === consent.id && consent.status === 'approved' && consent.kind === needed && consent.sessionId === row.sessionId
  )
}

/**
 * The commands waiting on a consent, oldest first, as a scalar subquery (a JSON array of
 * `RawCommand`s; `waitingRows` reads it): for the change that answers the consent to read them
 * with the request itself, under the session's lock, so `releaseForConsent` needs no read.
 */
export function waitingSql(consentId: string): SQL {
  return sql`(select coalesce(json_agg(w order by w.seq), '[]'::json) from (select ${RAW_COLUMNS} from commands c
    where c.consent_id = ${consentId}::uuid and c.status = 'awaiting_consent') w)`
}

/** What `waitingSql` selected, as rows (JSON text or parsed, by driver). */
export function waitingRows(value: unknown): CommandRow[] {
  const list = (typeof value === 'string' ? JSON.parse(value) : value) as RawCommand[] | null
  return (list ?? []).map(fromRaw)
}

function fromRaw(r: RawCommand): CommandRow {
  return {
    id: r.id,
    sessionId: r.session_id,
    kind: r.kind,
    status: r.status,
    consentId: r.consent_id,
    payload: r.payload,
    createdBy: r.created_by,
    createdAt: rawDate(r.created_at),
    deliveredAt: r.delivered_at === null ? null : rawDate(r.delivered_at),
    finishedAt: r.finished_at === null ? null : rawDate(r.finished_at),
    error: r.error,
    result: r.result,
    seq: Number(r.seq),
    dispatchSeq: r.dispatch_seq === null ? null : Number(r.dispatch_seq),
  }
}

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

  /**
   * Adds a command inside a session change, released at once when its consent allows it.
   * `consent`: the command's consent as this change just read or wrote it (not read again).
   */
  async enqueue(
    s: SessionTx,
    input: { kind: CommandKind; consentId: string | null; payload?: Record<string, unknown>; createdBy: string | null },
    consent?: ConsentRow,
  ): Promise<CommandRow> {
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
    return (await this.release(s, row!, consent)) ?? row!
  }

  /**
   * The row of a command released at once, with the change number `seq` (the one its change took
   * with its lock) as its dispatch number: for a change that writes it in a statement of its own
   * (the CSR's Refresh writes it in the statement that reads the consent, only when that consent
   * is approved), then calls `recordApproved`. Only for kinds that need a consent.
   *
   * `handOver`: a poll of the agent holds on this instance (SessionFeed.holding), so the command is
   * written delivered: the change's own commit records the delivery, and the held poll answers
   * with what the commit offered (no transaction of its own), so a cancel cannot fall between the
   * two. If that poll ends before it answers, the agent's next poll (from its old cursor) gets the
   * command again, as it does when an answer is lost after a delivery mark. Never for a kind whose
   * payload is wiped at delivery.
   */
  approvedRow(sessionId: string, input: { kind: CommandKind; consentId: string; createdBy: string }, seq: number, handOver = false): CommandRow {
    if (COMMAND_KINDS[input.kind] === null) throw new Error(`${input.kind} has no consent to be released with`)
    if (handOver && WIPE_ON_DELIVERY.has(input.kind)) throw new Error(`${input.kind} is wiped at delivery: it is never delivered with its release`)
    const createdAt = new Date()
    return {
      id: randomUUID(),
      sessionId,
      kind: input.kind,
      status: handOver ? 'delivered' : 'queued',
      consentId: input.consentId,
      payload: {},
      createdBy: input.createdBy,
      createdAt,
      deliveredAt: handOver ? createdAt : null,
      finishedAt: null,
      error: null,
      result: null,
      seq,
      dispatchSeq: seq,
    }
  }

  /**
   * What `enqueue` does besides writing, for a command written released (`approvedRow`) because
   * this change saw its consent approved (for its kind, in its session, under the session's lock):
   * the same events (created, then queued, and delivered when it was written handed over), its
   * observer, and the agent's feed offered to a held poll. Nothing reads the row back.
   * `takeForAgent` still checks the consent at hand-out.
   */
  async recordApproved(s: SessionTx, row: CommandRow): Promise<CommandRow> {
    if ((row.status !== 'queued' && row.status !== 'delivered') || row.createdBy === null) throw new Error(`command ${row.id} was not written released by a user`)
    await s.event('command.created', { type: 'user', id: row.createdBy }, { commandId: row.id, kind: row.kind })
    await s.event('command.queued', { type: 'system' }, { commandId: row.id, kind: row.kind })
    if (row.status === 'delivered') await s.event('command.delivered', { type: 'system' }, { commandId: row.id, kind: row.kind })
    await this.observers.get(row.kind)?.released?.(s, row)
    // The agent's whole feed from this change, when the change takes no other number (the feed
    // checks that): this command, as `takeForAgent` and `read` would hand it out. Never a secret
    // payload (those are wiped at delivery, which the poll still records before answering). A
    // command written delivered needs no delivery mark: `markDelivered` passes it through.
    if (!WIPE_ON_DELIVERY.has(row.kind)) s.offer({ rows: [row], commands: [this.toAgentCommand(row)] } satisfies AgentOffer, 1)
    return row
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
    return consent !== undefined && coveredBy(row, consent)
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

  /**
   * A consent was approved: release what waited on it, in one statement (numbered in order, as
   * one at a time would be) after the consent's own change numbers. Returns the released rows.
   * `waiting`, `handOver`: see `planRelease`; without `waiting` what waits is read here.
   */
  async releaseForConsent(s: SessionTx, consent: ConsentRow, waiting?: CommandRow[], handOver = false): Promise<CommandRow[]> {
    const rows =
      waiting ??
      (await s.tx
        .select()
        .from(commands)
        .where(and(eq(commands.consentId, consent.id), eq(commands.status, 'awaiting_consent')))
        .orderBy(asc(commands.seq)))
    const plan = this.planRelease(s, consent, rows, handOver)
    if (!plan) return []
    const [found] = await preparedRows<{ released: unknown }>(s.tx, sql`with n as (${s.take(plan.count)})${plan.ctes(0, sql`true`)} select ${plan.result} as released`)
    return plan.done(found?.released)
  }

  /**
   * The release of what waits on an approved consent (`waiting`, as this change read it under the
   * session's lock: `waitingSql`), for a statement of the caller's that also writes the consent's
   * own change (ConsentsService), so that approving and releasing are one statement. Undefined
   * when nothing waits that the consent covers.
   *
   * `handOver`: the answer came from the agent, so when a poll of the agent holds on this instance
   * now (SessionFeed.holding), the commands are written delivered in this same change, as the
   * Refresh's `approvedRow` does and for the same reasons: the change's commit records the
   * delivery and its offer (the caller's, `offerReleased`) is what the held poll answers, so no
   * cancel falls between the two; a poll that ends before it answers leaves the agent's next poll
   * (from its old cursor) to get them again. Never a kind whose payload is wiped at delivery.
   */
  planRelease(s: SessionTx, consent: ConsentRow, waiting: CommandRow[], handOver: boolean): ReleasePlan | undefined {
    const list = waiting.filter((row) => row.status === 'awaiting_consent' && coveredBy(row, consent))
    if (list.length === 0) return undefined
    const held = handOver && this.feed.holding(s.sessionId)
    const steps = list.map((row, i) => ({ id: row.id, i: i + 1, deliver: held && !WIPE_ON_DELIVERY.has(row.kind) }))
    // What the kinds' observers write on release, in the same statement where they can say it in SQL.
    const inSql = new Set<string>()
    const observed: SQL[] = []
    for (const kind of new Set(list.map((row) => row.kind))) {
      const write = this.observers.get(kind)?.releasedSql?.(sql`(select id::uuid as id, seq from done where kind = ${kind})`)
      if (!write) continue
      inSql.add(kind)
      observed.push(sql`, ${sql.raw(`o${observed.length}`)} as (${write})`)
    }
    const at = new Date()
    return {
      count: steps.length,
      ctes: (offset, guard) => sql`, done as (
            update commands c set status = (case when r.deliver then 'delivered' else 'queued' end)::command_status,
              dispatch_seq = n.base + ${offset}::integer + r.i, seq = n.base + ${offset}::integer + r.i,
              delivered_at = case when r.deliver then ${at.toISOString()}::timestamptz else c.delivered_at end
            from n, jsonb_to_recordset(${JSON.stringify(steps)}::jsonb) as r(id uuid, i integer, deliver boolean)
            where c.id = r.id and c.status = 'awaiting_consent' and ${guard}
            returning c.id::text as id, c.kind, c.seq)${sql.join(observed)}`,
      // Only the numbers come back: the rows are known (no payload parsed twice).
      result: sql`(select coalesce(json_agg(json_build_object('id', id, 'seq', seq)), '[]'::json) from done)`,
      done: async (result) => {
        const seqOf = new Map(((typeof result === 'string' ? JSON.parse(result) : result) as { id: string; seq: number }[] | null ?? []).map((r) => [r.id, Number(r.seq)]))
        const released = list.flatMap((row, i): CommandRow[] => {
          const seq = seqOf.get(row.id)
          if (seq === undefined) return []
          const delivered = steps[i]!.deliver
          return [{ ...row, status: delivered ? 'delivered' : 'queued', seq, dispatchSeq: seq, deliveredAt: delivered ? at : row.deliveredAt }]
        })
        for (const row of released) {
          await s.event('command.queued', { type: 'system' }, { commandId: row.id, kind: row.kind })
          if (row.status === 'delivered') await s.event('command.delivered', { type: 'system' }, { commandId: row.id, kind: row.kind })
          if (!inSql.has(row.kind)) await this.observers.get(row.kind)?.released?.(s, row)
        }
        return released
      },
    }
  }

  /**
   * Offers the agent's feed from a change that answered a consent (SessionTx.offer): the request
   * as answered and what its approval released (`releaseForConsent`), written delivered or not
   * (a queued one gets its delivery mark from the held poll before it answers). None when a
   * released command carries a secret: those are never kept in memory, the poll reads them.
   */
  offerReleased(s: SessionTx, consent: AgentConsent, released: CommandRow[], numbers: number) {
    if (released.some((row) => WIPE_ON_DELIVERY.has(row.kind))) return
    s.offer({ rows: released, commands: released.map((row) => this.toAgentCommand(row)), consents: [consent] } satisfies AgentOffer, numbers)
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

  /** `seq`: a change number this change took and left unused (else it takes one). */
  async finish(s: SessionTx, row: CommandRow, status: 'succeeded' | 'failed' | 'cancelled', error: string | null, result?: Record<string, unknown>, seq?: number) {
    const n = seq ?? (await s.next())
    // Hand-written and prepared (one constant text): every agent's final report runs it. A secret
    // payload never outlives its command, delivered or not.
    const [raw] = await preparedRows<RawCommand>(
      s.tx,
      sql`update commands c set status = ${status}::command_status, error = ${error}::text, finished_at = ${new Date().toISOString()}::timestamptz, seq = ${n}::integer,
            result = case when ${result ? true : false}::boolean then ${result ? JSON.stringify(result) : null}::jsonb else c.result end,
            payload = case when ${WIPE_ON_DELIVERY.has(row.kind)}::boolean then '{}'::jsonb else c.payload end
          where c.id = ${row.id}::uuid and c.status in (${OPEN_LIST})
          returning ${RAW_COLUMNS}`,
    )
    const done = raw && fromRaw(raw)
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
    // Hand-written: run by every poll that finds something new (no query building per poll).
    const found = await preparedRows<RawCommand>(
      this.db,
      sql`select ${RAW_COLUMNS}
          from commands c left join consent_requests r on r.id = c.consent_id
          where c.session_id = ${sessionId} and c.dispatch_seq is not null and c.dispatch_seq > ${cursor} and c.dispatch_seq <= ${upTo}
            and c.status in ('queued', 'delivered', 'running') and (${CONSENT_OK})
          order by c.dispatch_seq limit 100`,
    )
    return found.map(fromRaw)
  }

  /**
   * Records that the agent has fetched these commands (first delivery only), before they are
   * handed out. Returns the ids of those the agent may be given now: the ones delivered by this
   * call and the ones already handed out before. A command that was `queued` when read but is no
   * longer when its delivery is recorded (cancelled or finished meanwhile, e.g. the session taken
   * over or ended between the read and this) is left out: the change that closed it won, so the
   * agent never gets a command the CSR saw cancelled.
   *
   * The delivery (with the trail's head) is one prepared statement after the lock: one round trip
   * instead of two (see `preparedRows`).
   */
  async markDelivered(sessionId: string, rows: CommandRow[]): Promise<Set<string>> {
    const fresh = rows.filter((r) => r.status === 'queued')
    const mayHand = new Set(rows.filter((r) => r.status !== 'queued').map((r) => r.id))
    if (fresh.length === 0) return mayHand
    await this.feed.changeMany([sessionId], async (of, bulk) => {
      // A change number per command, in order, as one at a time would take them; one statement
      // for all the commands, which also reads the trail's head (the lock is held by then), and
      // their events written together with the commit's notification at the end of the change.
      const s = of(sessionId)
      // Delivered is a status only the console reads: the agent's feed follows dispatch numbers
      // (unchanged here), so its held polls are not woken for it.
      s.consoleOnly()
      const n = fresh.length
      const first = (await bulk.reserve([sessionId], () => n)).get(sessionId)!
      const list = fresh.map((row, i) => ({ id: row.id, seq: first + i, wipe: WIPE_ON_DELIVERY.has(row.kind) }))
      const [result] = await preparedRows<{ ids: string[] | null; head: string | null }>(
        bulk.tx,
        sql`with done as (
              update commands c set status = 'delivered', delivered_at = ${new Date().toISOString()}::timestamptz, seq = r.seq,
                payload = case when r.wipe then '{}'::jsonb else c.payload end
              from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as r(id uuid, seq integer, wipe boolean)
              where c.id = r.id and c.status = 'queued'
              returning c.id::text as id)
            select (select json_agg(id) from done) as ids, ${s.headSql} as head`,
      )
      const done = new Set(result?.ids ?? [])
      s.knowHead(result?.head ?? null)
      for (const row of fresh) {
        if (!done.has(row.id)) continue
        mayHand.add(row.id)
        await s.event('command.delivered', { type: 'system' }, { commandId: row.id, kind: row.kind })
      }
    })
    return mayHand
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

  /**
   * The agent began working on a command (first report or first script started). `seq`: a change
   * number this change took and left unused (else it takes one).
   */
  async markRunning(s: SessionTx, row: CommandRow, agentId: string, seq?: number) {
    if (row.status === 'running') return
    const [running] = await s.tx
      .update(commands)
      .set({ status: 'running', seq: seq ?? (await s.next()) })
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
      // The session's lock, with the change number the command's new status takes (if any); and,
      // sent behind it without waiting for its answer (PostgreSQL runs them in order, so the lock
      // is held by then), one prepared statement: the command (as `findForAgent`, locked), the
      // report stored once per (command, sequence), and the trail's head for the events. Stored
      // first and checked after: a refusal below rolls the report back with the rest.
      const [seq, [found]] = await Promise.all([
        s.next(),
        preparedRows<RawCommand & { stored: string | null; head: string | null }>(
          s.tx,
          sql`with c as (
                select ${RAW_COLUMNS} from commands c
                where c.id = ${commandId}::uuid and c.session_id = ${s.sessionId}::uuid and c.dispatch_seq is not null
                for update),
              stored as (
                insert into command_reports (command_id, sequence, status, message, data)
                select ${commandId}::uuid, ${input.sequence}::integer, ${input.status ?? null}::text, ${input.message ?? null}::text,
                       ${input.data === undefined ? null : JSON.stringify(input.data)}::jsonb
                from c
                on conflict do nothing
                returning id)
              select c.*, (select id::text from stored) as stored, ${s.headSql} as head from c`,
        ),
      ])
      if (!found) throw notFound('Command', 'COMMAND_NOT_FOUND')
      s.knowHead(found.head)
      const row = fromRaw(found)
      const observer = this.observers.get(row.kind)
      // Without an observer, a report writes only what the console reads (the report, the
      // command's status, events, a system line): the agent's held poll and its tokens stand, so
      // its re-poll after the report needs no query. Observers may write what the agent sees.
      if (!observer) s.consoleOnly()
      if (found.stored === null) return { duplicate: true, commandStatus: row.status }
      if (row.status === 'cancelled') throw conflict('COMMAND_CANCELLED', 'This command was cancelled; stop working on it')
      if (row.status === 'succeeded' || row.status === 'failed') throw conflict('COMMAND_FINISHED', `This command already ${row.status}`)
      if (input.status === 'running' && row.status !== 'running') {
        await this.markRunning(s, row, agent.agentId, seq)
        await observer?.reported?.(s, row, input, agent.agentId)
        return { duplicate: false, commandStatus: 'running' }
      }
      if (input.status === 'succeeded' || input.status === 'failed') {
        const done = await this.finish(s, row, input.status, input.status === 'failed' ? (input.message ?? 'Failed') : null, input.data, seq)
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
