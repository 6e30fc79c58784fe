import { asc, inArray, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { preparedRows, rows } from '../db/raw.ts'
import { lastStatement } from '../db/pg-transaction.ts'
import { chatMessages, supportSessions } from '../db/schema.ts'
import { SessionEventWriter } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import { cleanText } from '../lib/text.ts'
import { CoarseTimers, type Expiring } from '../lib/coarse-timers.ts'
import type { Notifier, SessionChange } from '../lib/notifier.ts'
import type { WebhookOutbox } from './webhooks-outbox.ts'

/** Who did something: a user (CSR, admin), the session's agent, or the server itself. */
export type Actor = { type: 'user'; id: string } | { type: 'agent'; id: string } | { type: 'system' }

export const systemActor: Actor = { type: 'system' }

/** What a change inside a session transaction can do besides its own writes. */
export interface SessionTx {
  tx: Db
  sessionId: string
  /** The session's next change number; takes the session row's lock until commit. */
  next(): Promise<number>
  /**
   * Like `next()` (the lock and a change number, one statement), and what that statement saw of
   * the session: its status and CSR, so a change can check access and state under the lock without
   * a read of its own. Undefined when the session does not exist (nothing was locked).
   */
  enter(): Promise<EnteredSession | undefined>
  /**
   * A scalar subquery giving the last hash of the session's audit trail (null when empty), for a
   * change to select together with its own reads in a statement run after `next()`/`enter()` (the
   * lock must be held when it runs, or a concurrent change's events could be missed), and to pass
   * to `knowHead`: then the change's events need no read of their own.
   */
  readonly headSql: SQL
  knowHead(hash: string | null): void
  /** Appends to the session's audit trail (hash-chained, see lib/audit-chain.ts). */
  event(type: string, actor: Actor, data?: Record<string, unknown>): Promise<void>
  /**
   * A system line in the chat: English text, plus the event so a console can word it itself. The
   * text is cleaned of control and bidi characters, whatever values were interpolated into it.
   */
  systemLine(body: string, type: string, data?: Record<string, unknown>): Promise<void>
  /**
   * Declares that nothing this change writes in the session is in the agent's feed (consents,
   * released commands, the CSR's chat, cancelled commands, the session's info, the agent's own
   * row and tokens): run output, system lines, reports and statuses only the console reads. Its
   * wake-up then tells held agent polls so, and they keep holding without a query. Undeclared, a
   * change is visible to the agent (the safe default): a wrong declaration could hide an item from
   * the agent until its next visible change, so declare only where the writes are known.
   */
  consoleOnly(): void
  /**
   * Declares the complete agent feed this change produces (every item, as `read` would build it):
   * a held poll of this instance whose cursor is the session's number before the change answers
   * with it without a read. Ignored unless the change took exactly `numbers` change numbers (so
   * nothing else it wrote can be in the feed unseen); other instances read as usual.
   */
  offer(items: unknown, numbers: number): void
  /**
   * Takes `count` more change numbers in a statement of the caller's own, for writes that number
   * their rows in that same statement: the body of a CTE (`with n as (${s.take(k)}) …`) that moves
   * the session's number up by `count` and gives `base`, the number before the first taken (the
   * rows take `(select base from n) + 1` … `+ count`). Only after `next()`/`enter()` (the lock is
   * held, so the numbers are known here): the change's range is recorded as it is built, and its
   * wake-up covers them. The statement must run in this change, whatever it finds (the numbers are
   * taken unconditionally; a row it does not write leaves a number unused, as a `next()` does).
   */
  take(count: number): SQL
  /**
   * The commit's announcement to every instance (on PostgreSQL its `pg_notify`s) as a scalar
   * expression for the change's last statement to select, so that it needs no statement of its
   * own; undefined where the notifier cannot announce inside a transaction (PGlite). It announces
   * the change as it stands (its numbers and declarations so far). Hand the value the statement
   * returned for it to `announced`: the commit then sends nothing more, unless the change moved on
   * since (then it announces again; a second wake-up only costs a listener a read). Unconfirmed
   * (not evaluated, or never handed back), the commit announces as usual.
   */
  announceSql(): SQL | undefined
  announced(value: unknown): void
}

/** What `SessionTx.enter()` saw of the session, under its lock. */
export interface EnteredSession {
  seq: number
  status: 'waiting' | 'active' | 'ended'
  csrId: string
}

/** One event of a set-based change: which session's trail, what, by whom. */
export interface BulkEvent {
  sessionId: string
  type: string
  actor: Actor
  data?: Record<string, unknown>
}

/**
 * Set-based writes over the sessions of one `changeMany`: a constant number of statements
 * whatever the number of sessions (a batch on 100 sessions is not 100 times the work of one).
 */
export interface BulkTx {
  tx: Db
  /**
   * Takes `count(sessionId)` change numbers of each session in one statement (taking their row
   * locks); returns each session's first. Numbers are handed out as `next()` would, in a row.
   */
  reserve(sessionIds: readonly string[], count: (sessionId: string) => number): Promise<Map<string, number>>
  /** Appends events to several sessions' trails in one statement, each trail in the list's order. */
  events(list: readonly BulkEvent[]): Promise<void>
  /**
   * `SessionTx.offer` for one session of this change: the complete agent feed the change produces
   * there, answered to a held poll of this instance without a read; ignored unless the change took
   * exactly `numbers` of that session's change numbers.
   */
  offer(sessionId: string, items: unknown, numbers: number): void
}

/** Rows per multi-row statement: well under PostgreSQL's 65,535 parameters for any of our tables. */
export const BULK_ROWS = 2000

/** Splits rows for multi-row inserts (see BULK_ROWS). */
export function chunks<T>(rows: readonly T[], size = BULK_ROWS): T[][] {
  const out: T[][] = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}

function writerIn(writers: Map<string, SessionEventWriter>, sessionId: string): SessionEventWriter {
  const writer = writers.get(sessionId)
  if (!writer) throw new Error(`session ${sessionId} is not part of this change`)
  return writer
}

/**
 * The audit events of one change, written together at its end (and before any set-based write of
 * events, which continues the same trails): one statement for the trails' heads, one insert, instead
 * of a read and an insert per event. Nothing in a change reads its own events back.
 */
class PendingEvents {
  private list: BulkEvent[] = []

  constructor(
    private readonly tx: Db,
    private readonly writers: Map<string, SessionEventWriter>,
  ) {}

  add(event: BulkEvent) {
    writerIn(this.writers, event.sessionId)
    this.list.push(event)
  }

  /**
   * Writes the pending events; `then`: a SELECT to run in the same statement after the insert (the
   * commit's notification). False when there was nothing to write (and `then` was not run).
   * `last`: nothing follows in the transaction, so the COMMIT may go along (`lastStatement`).
   */
  async flush(then?: SQL, last = false): Promise<boolean> {
    if (this.list.length === 0) return false
    const list = this.list
    this.list = []
    await this.write(list, then, last)
    return true
  }

  /** Links `list` onto its trails (their heads read once per transaction, under the rows' locks) and inserts it. */
  async write(list: readonly BulkEvent[], then?: SQL, last = false) {
    if (list.length === 0) return
    const ids = [...new Set(list.map((e) => e.sessionId))]
    const unlocked = ids.filter((id) => !writerIn(this.writers, id).isLocked).sort()
    if (unlocked.length > 0) {
      // A change that wrote events without taking a change number: the trail's lock, as append takes it.
      await this.tx.execute(sql`select 1 from support_sessions where id in (${sql.join(unlocked.map((id) => sql`${id}::uuid`), sql`, `)}) order by id for update`)
      for (const id of unlocked) writerIn(this.writers, id).markLocked()
    }
    const unknown = ids.filter((id) => !writerIn(this.writers, id).headKnown)
    if (unknown.length > 0) {
      const heads = await rows<{ session_id: string; hash: string | null }>(this.tx, sql`
        select distinct on (session_id) session_id::text as session_id, hash from session_events
        where session_id in (${sql.join(unknown.map((id) => sql`${id}::uuid`), sql`, `)})
        order by session_id, id desc`)
      const found = new Map(heads.map((r) => [r.session_id, r.hash ?? '']))
      for (const id of unknown) writerIn(this.writers, id).knowHead(found.get(id) ?? '')
    }
    const links = list.map((e) => writerIn(this.writers, e.sessionId).link(e.type, e.actor, e.data ?? {}))
    // Hand-written, all rows as one JSON parameter: nothing to build per row, no parameter limit.
    // The rows are inserted in the list's order (a function scan), so ids follow each chain's order.
    const json = JSON.stringify(
      links.map((l) => ({
        session_id: l.sessionId,
        type: l.type,
        actor_type: l.actorType,
        actor_id: l.actorId ?? null,
        data: l.data ?? {},
        created_at: (l.createdAt as Date).toISOString(),
        prev_hash: l.prevHash,
        hash: l.hash,
        key_id: l.keyId,
      })),
    )
    const insert = sql`insert into session_events (session_id, type, actor_type, actor_id, data, created_at, prev_hash, hash, key_id)
      select session_id, type, actor_type, actor_id, data, created_at, prev_hash, hash, key_id
      from jsonb_to_recordset(${json}::jsonb) as r(session_id uuid, type text, actor_type actor_type, actor_id uuid, data jsonb, created_at timestamptz, prev_hash text, hash text, key_id text)`
    // Prepared (one round trip, not two): its text varies only with the commit's number of topics.
    const statement = then ? sql`with inserted as (${insert}) ${then}` : insert
    await (last ? lastStatement(this.tx, statement) : preparedRows(this.tx, statement))
  }
}

/**
 * Ends a held poll early (its agent hung up, the server closes): `stop` may be called any time,
 * more than once. One plain object per held poll instead of an AbortController, its AbortSignal
 * (an EventTarget) and their listeners, which a fleet kept by the thousand for the whole hold and
 * paid for on every re-poll (docs/notes/issue-13-idle-4.md).
 */
export class HoldStop {
  stopped = false
  /** The hold's wake-up (set by SessionFeed.hold while it holds). */
  wake: (() => void) | undefined = undefined
  readonly stop = (): void => {
    this.stopped = true
    this.wake?.()
  }
  /** Called once when the hold has ended, however it ended: whoever registered `stop` lets go of it here. */
  ended(): void {}
}

/** How finely held polls' deadlines are kept (CoarseTimers): a hold ends less than two ticks late, never early. */
const HOLD_TICK_MS = 100

/**
 * Answers of holds woken by a change of several sessions at once (SessionChange.crowd), given on
 * the event loop's next turn, all of one turn together. The hold has taken its answer already
 * (from memory, as the change left it) and let go of its session; only the answering waits, so
 * the request that made the change answers first: a batch on 100 sessions answers its CSR before
 * the 100 polls it woke, not after them (PostgreSQL: p50 225 -> 168 ms). A change of one session
 * (a Refresh, a consent answer) wakes its one hold at once, as before.
 */
let wokenAnswers: (() => void)[] = []
function answerWoken() {
  const list = wokenAnswers
  wokenAnswers = []
  for (const answer of list) answer()
}

/**
 * Every change that the console or the agent must see goes through here: one transaction, change
 * numbers from the session row (so commit order = number order within a session), the audit
 * event in the same transaction, and a wake-up for the session's listeners on every instance:
 * sent inside the transaction on PostgreSQL (delivered by the commit itself, so an instance that
 * dies right after committing loses no wake-up), after the commit in one process (PGlite).
 */
export class SessionFeed {
  /** Long-polls of this instance holding now, per session (`hold`). */
  private readonly holds = new Map<string, number>()
  /** The held polls' deadlines. */
  private readonly deadlines = new CoarseTimers<Hold<unknown>>(HOLD_TICK_MS)

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly keyring: Keyring,
    /** Webhook deliveries for the events integrators subscribe to, in the event's transaction. */
    private readonly outbox?: WebhookOutbox,
  ) {}

  /**
   * Calls `listener` with the id of every session changed, by this instance (synchronously, right
   * after the commit) or another (when its notification arrives), with what the change was when
   * known, and with null when notifications may have been lost. For memory derived from the
   * database (agent tokens, the sessions known to be quiet): every change of a session's rows, its
   * agents' included, is a change through this feed, so dropping what was derived from a session
   * on its changes is exact (a console-only change declares that it touched nothing the agent sees).
   */
  onChange(listener: (sessionId: string | null, change?: SessionChange) => void): () => void {
    return this.notifier.watch((topic, change) => {
      if (topic === null || !topic.includes(':')) listener(topic, change)
    })
  }

  async change<T>(sessionId: string, fn: (s: SessionTx) => Promise<T>): Promise<T> {
    return this.changeMany([sessionId], (of) => fn(of(sessionId)))
  }

  /**
   * One transaction over several sessions (a script batch on many sessions is all or nothing).
   * Their rows are locked in id order up front, so two such changes cannot deadlock.
   */
  async changeMany<T>(sessionIds: readonly string[], fn: (of: (sessionId: string) => SessionTx, bulk: BulkTx) => Promise<T>): Promise<T> {
    const changed = new Map<string, ChangeRange>()
    let published = false
    let topics: string[] = []
    const declared = new Map<string, Declared>()
    const early: Announcement = { confirmed: false }
    let committing = false
    const ids = [...new Set(sessionIds)].sort()
    let result: T
    try {
      result = await this.db.transaction(async (tx) => {
        const writers = new Map<string, SessionEventWriter>()
        const txs = new Map<string, SessionTx>()
        for (const sessionId of ids) {
          writers.set(sessionId, new SessionEventWriter(tx, this.keyring, sessionId))
        }
        if (ids.length > 1) {
          await tx.select({ id: supportSessions.id }).from(supportSessions).where(inArray(supportSessions.id, ids)).orderBy(asc(supportSessions.id)).for('update')
          for (const writer of writers.values()) writer.markLocked()
        }
        const of = (sessionId: string) => {
          const s = txs.get(sessionId)
          if (!s) throw new Error(`session ${sessionId} is not part of this change`)
          return s
        }
        const trail = new PendingEvents(tx, writers)
        const topicsNow = () => [...changed].map(([sessionId, range]) => this.notifier.changeTopic(sessionId, describe(range, declared.get(sessionId))))
        for (const sessionId of ids) txs.set(sessionId, this.sessionTx(tx, sessionId, changed, declared, writers.get(sessionId)!, trail, early, topicsNow))
        const result = await fn(of, this.bulkTx(tx, writers, changed, declared, trail))
        topics = topicsNow()
        committing = true
        // Announced already by the change's last statement (SessionTx.announceSql), as it ends.
        const already = early.confirmed && early.topics !== undefined && sameTopics(early.topics, topics)
        // Else the events and the commit's notification in one statement where the notifier can.
        const notify = !already && topics.length > 0 ? this.notifier.notifySql(topics) : undefined
        // The last statement when the notification needs no statement of its own after it.
        const sent = await trail.flush(notify, already || notify !== undefined)
        published = already || (sent && notify !== undefined) ? true : await this.notifier.publishIn(tx, topics)
        return result
      })
    } catch (err) {
      // Failed while committing (a connection lost during COMMIT): committed or not, nobody can
      // tell from here, so what this instance derived from these sessions is dropped, and their
      // listeners read. A change refused earlier was rolled back: nothing to tell.
      if (committing) for (const sessionId of changed.keys()) this.notifier.deliver(sessionId, undefined)
      throw err
    }
    const crowd = changed.size > 1
    for (const [sessionId, range] of changed) this.notifier.deliver(sessionId, describe(range, declared.get(sessionId), true, crowd))
    if (!published) for (const topic of topics) this.notifier.publish(topic)
    return result
  }

  private bulkTx(tx: Db, writers: Map<string, SessionEventWriter>, changed: Map<string, ChangeRange>, declarations: Map<string, Declared>, trail: PendingEvents): BulkTx {
    const writerOf = (sessionId: string) => writerIn(writers, sessionId)
    return {
      tx,
      reserve: async (sessionIds, count) => {
        if (sessionIds.length === 0) return new Map()
        const steps = sessionIds.map((id) => ({ id, n: count(id) }))
        // One UPDATE … FROM a JSON list of (id, n): one statement, whatever the number of sessions.
        const updated = await preparedRows<{ id: string; seq: number }>(tx, sql`
          update support_sessions s set feed_seq = s.feed_seq + r.n, updated_at = now()
          from jsonb_to_recordset(${JSON.stringify(steps)}::jsonb) as r(id uuid, n integer)
          where s.id = r.id
          returning s.id::text as id, s.feed_seq as seq`)
        const first = new Map<string, number>()
        const byId = new Map(steps.map((s) => [s.id, s.n]))
        for (const row of updated) {
          first.set(row.id, Number(row.seq) - byId.get(row.id)! + 1)
          writerOf(row.id).markLocked()
          took(changed, row.id, Number(row.seq) - byId.get(row.id)! + 1, Number(row.seq))
        }
        for (const id of sessionIds) if (!first.has(id)) throw new Error(`session ${id} vanished inside its own change`)
        return first
      },
      events: async (list) => {
        // The single events appended so far come first in their trails.
        await trail.flush()
        await trail.write(list)
        await this.outbox?.onSessionEvents(tx, list)
      },
      offer: (sessionId, items, numbers) => {
        writerOf(sessionId)
        declaredOf(declarations, sessionId).offer = { items, numbers }
      },
    }
  }

  private sessionTx(
    tx: Db,
    sessionId: string,
    changed: Map<string, ChangeRange>,
    declarations: Map<string, Declared>,
    events: SessionEventWriter,
    trail: PendingEvents,
    early: Announcement,
    topicsNow: () => string[],
  ): SessionTx {
    const declare = () => declaredOf(declarations, sessionId)
    // Hand-written and prepared: every change runs it first (it is the session's lock).
    const enter = async (): Promise<EnteredSession | undefined> => {
      const [row] = await preparedRows<{ seq: number; status: EnteredSession['status']; csr_id: string }>(
        tx,
        sql`update support_sessions set feed_seq = feed_seq + 1, updated_at = now() where id = ${sessionId}
            returning feed_seq as seq, status::text as status, csr_id::text as csr_id`,
      )
      if (!row) return undefined
      events.markLocked()
      took(changed, sessionId, Number(row.seq), Number(row.seq))
      return { seq: Number(row.seq), status: row.status, csrId: row.csr_id }
    }
    const next = async () => {
      const row = await enter()
      if (!row) throw new Error(`session ${sessionId} vanished inside its own change`)
      return row.seq
    }
    return {
      tx,
      sessionId,
      next,
      enter,
      headSql: sql`(select hash from session_events where session_id = ${sessionId} order by id desc limit 1)`,
      knowHead: (hash) => {
        if (!events.isLocked) throw new Error(`the head of session ${sessionId}'s trail was read without its lock`)
        events.knowHead(hash ?? '')
      },
      event: async (type, actor, data = {}) => {
        trail.add({ sessionId, type, actor, data })
        await this.outbox?.onSessionEvent(tx, sessionId, type, data)
      },
      systemLine: async (body, type, data = {}) => {
        await tx.insert(chatMessages).values({ sessionId, sender: 'system', body: cleanText(body), systemEvent: { type, data }, seq: await next() })
      },
      consoleOnly: () => {
        declare().consoleOnly = true
      },
      offer: (items, numbers) => {
        declare().offer = { items, numbers }
      },
      announceSql: () => {
        const topics = topicsNow()
        const notify = topics.length > 0 ? this.notifier.notifySql(topics) : undefined
        if (!notify) return undefined
        early.topics = topics
        early.confirmed = false
        return sql`(select count(*) from (${notify}) as announced)::integer`
      },
      announced: (value) => {
        early.confirmed = early.topics !== undefined && Number(value) === early.topics.length
      },
      take: (count) => {
        const range = changed.get(sessionId)
        if (!range) throw new Error(`session ${sessionId} took change numbers without its lock`)
        if (!Number.isInteger(count) || count < 1) throw new Error(`cannot take ${count} change numbers`)
        took(changed, sessionId, range.from, range.to + count)
        return sql`update support_sessions set feed_seq = feed_seq + ${count}::integer, updated_at = now() where id = ${sessionId}::uuid
          returning feed_seq - ${count}::integer as base`
      },
    }
  }

  /**
   * Long-poll: runs `read` now and again after each wake-up until what it returns is not to be
   * held on (`holding` says), the time is up or `stop` is called (the caller went away); answers
   * what `read` returned last. Subscribes before the first read, so a change committed between a
   * read and the wait still wakes it. No timer polls the database.
   */
  hold<T>(sessionId: string, ms: number, stop: HoldStop | undefined, read: () => T | Promise<T>, holding: (found: T) => boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      new Hold(this.notifier, this.deadlines, this.holds, sessionId, Date.now() + ms, stop, read, holding, resolve, reject).next()
    })
  }

  /**
   * Whether a long-poll of this instance holds on the session now: what a change commits for it
   * reaches it through this instance's own wake-up, without a round trip through the database.
   */
  holding(sessionId: string): boolean {
    return this.holds.has(sessionId)
  }

  subscribe(sessionId: string, listener: (change?: SessionChange) => void): () => void {
    return this.notifier.subscribe(sessionId, listener)
  }
}

/**
 * One held poll: its subscription, its deadline and its promise's settling in one object, the only
 * thing of ours a waiting poll keeps alive (with its subscription's and its `read`'s closures)
 * instead of three suspended async functions, a promise and a timer per wait and their closures.
 * A fleet keeps one per agent for the whole hold and makes one per re-poll, so their number and
 * size are what garbage collection marks and copies (docs/notes/issue-13-idle-5.md). The common
 * read (nothing new, known from memory) is synchronous: no promise at all.
 */
class Hold<T> implements Expiring {
  /** A change came while a read ran: read again before waiting. */
  private dirty = false
  /** Waiting in `deadlines`, at this tick; undefined while reading or done. */
  private tick: number | undefined = undefined
  private done = false
  private last: T | undefined = undefined
  /** Woken by a change of several sessions: its answer goes out on the next turn (`wokenAnswers`). */
  private woken = false
  private readonly unsubscribe: () => void

  constructor(
    notifier: Notifier,
    private readonly deadlines: CoarseTimers<Hold<unknown>>,
    /** Held polls per session (SessionFeed.holding): counted from here until `end`. */
    private readonly holds: Map<string, number>,
    private readonly sessionId: string,
    private readonly deadline: number,
    private readonly stop: HoldStop | undefined,
    private readonly read: () => T | Promise<T>,
    private readonly holding: (found: T) => boolean,
    private readonly resolve: (found: T) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    // What the change was is already in the memory `read` consults (the watchers ran first).
    this.unsubscribe = notifier.subscribe(sessionId, this.changed)
    if (stop) stop.wake = this.changed
    holds.set(sessionId, (holds.get(sessionId) ?? 0) + 1)
  }

  /**
   * A change in the session, or the stop: while waiting, read again at once (or answer, stopped);
   * while a read runs, its end does (`found`).
   */
  private readonly changed = (change?: SessionChange): void => {
    if (this.done) return
    if (this.tick === undefined) {
      this.dirty = true
      return
    }
    this.deadlines.delete(this as Hold<unknown>, this.tick)
    this.tick = undefined
    this.woken = change?.crowd === true
    if (this.stop?.stopped) this.settle()
    else this.next()
  }

  expire() {
    this.tick = undefined
    this.settle()
  }

  next() {
    this.dirty = false
    let found: T | Promise<T>
    try {
      found = this.read()
    } catch (err) {
      return this.fail(err)
    }
    if (found instanceof Promise) found.then((value) => this.found(value), (err: unknown) => this.fail(err))
    else this.found(found)
  }

  private found(value: T) {
    if (this.done) return
    this.last = value
    if (!this.holding(value) || this.stop?.stopped || Date.now() >= this.deadline) return this.settle()
    if (this.dirty) return this.next()
    // Waiting again: whatever wakes or ends it next decides when it answers.
    this.woken = false
    this.tick = this.deadlines.add(this as Hold<unknown>, this.deadline)
  }

  private settle() {
    if (!this.end()) return
    if (!this.woken) return this.resolve(this.last as T)
    if (wokenAnswers.length === 0) setImmediate(answerWoken)
    const last = this.last as T
    wokenAnswers.push(() => this.resolve(last))
  }

  private fail(err: unknown) {
    if (this.end()) this.reject(err)
  }

  /** Lets go of the subscription, the deadline and the stop; false when it had ended already. */
  private end(): boolean {
    if (this.done) return false
    this.done = true
    if (this.tick !== undefined) this.deadlines.delete(this as Hold<unknown>, this.tick)
    this.tick = undefined
    this.unsubscribe()
    const held = this.holds.get(this.sessionId)! - 1
    if (held === 0) this.holds.delete(this.sessionId)
    else this.holds.set(this.sessionId, held)
    if (this.stop) {
      this.stop.wake = undefined
      this.stop.ended()
    }
    return true
  }
}

/** The change numbers a change took in one session. */
interface ChangeRange {
  from: number
  to: number
}

/** What a change announced in a statement of its own (SessionTx.announceSql), and whether that statement ran. */
interface Announcement {
  topics?: string[]
  confirmed: boolean
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((topic, i) => topic === b[i])
}

/** What a change declared about one session (SessionTx.consoleOnly, SessionTx.offer). */
interface Declared {
  consoleOnly: boolean
  offer?: { items: unknown; numbers: number }
}

function declaredOf(declarations: Map<string, Declared>, sessionId: string): Declared {
  let d = declarations.get(sessionId)
  if (!d) declarations.set(sessionId, (d = { consoleOnly: false }))
  return d
}

function took(changed: Map<string, ChangeRange>, sessionId: string, from: number, to: number) {
  const range = changed.get(sessionId)
  if (!range) changed.set(sessionId, { from, to })
  else {
    range.from = Math.min(range.from, from)
    range.to = Math.max(range.to, to)
  }
}

/**
 * What a change was, for its wake-up. `local`: for this instance, with the offer when the change
 * took exactly the numbers its offer accounts for (any other number could be an item unseen).
 */
function describe(range: ChangeRange, d: Declared | undefined, local = false, crowd = false): SessionChange {
  const change: SessionChange = { from: range.from, to: range.to, agentSees: !d?.consoleOnly }
  if (local && d?.offer && !d.consoleOnly && d.offer.numbers === range.to - range.from + 1) change.offer = d.offer.items
  if (local && crowd) change.crowd = true
  return change
}
