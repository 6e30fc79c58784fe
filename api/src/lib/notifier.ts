import { sql as q, type SQL } from 'drizzle-orm'
import type postgres from 'postgres'
import { randomBytes } from 'node:crypto'
import type { Db } from '../db/client.ts'

/**
 * What a committed session change was, as its commit knows it. Memory may use it to stay valid
 * across a change the agent does not see; anything else re-reads the database. A wake-up without
 * one (a re-listen, an old-style topic) means "anything may have changed".
 */
export interface SessionChange {
  /** The change numbers it took, `from`..`to`: the session's number was `from - 1` before it. */
  from: number
  to: number
  /** False: nothing in the agent's feed changed (a console-only change, SessionTx.consoleOnly). */
  agentSees: boolean
  /**
   * This instance only (never sent to others): the agent's feed items the change produced, when
   * the change declared them complete (SessionTx.offer). Opaque here.
   */
  offer?: unknown
  /**
   * This instance only: the change touched several sessions at once (a batch, a cancel). Holds it
   * wakes give their answers on the next turn, after the request that made the change answered.
   */
  crowd?: boolean
}

/**
 * Wakes whoever waits on a session (held agent polls, console streams) after a change was
 * committed. The listener reads the database, which stays the source of truth; a wake-up may carry
 * what the change was (`SessionChange`), which memory derived from the database may use instead of
 * a read, and a lost or reordered notification only costs a read. A topic is a session id, or
 * `credentials:<userId>` when a user's sign-ins or tokens were revoked (their open streams re-check).
 */
export interface Notifier {
  /** Announces a topic (a session id, or `changeTopic`'s encoding of a change) to every API instance. */
  publish(topic: string): void
  /**
   * The topic announcing `change` of a session to every instance (`publish`, `publishIn`,
   * `notifySql`): small (< 100 bytes), and marked as this instance's, which already had it
   * through `deliver` and skips its echo.
   */
  changeTopic(sessionId: string, change: SessionChange): string
  /**
   * Hands a change this instance has just committed to its own watchers (synchronously) and
   * subscribers (in a microtask), with what only this instance knows (the offer): no round trip
   * through the database, and the announcement's echo is skipped here.
   */
  deliver(sessionId: string, change: SessionChange | undefined): void
  /**
   * Announces topics as part of the transaction `tx`: to every API instance when, and only when,
   * it commits (on PostgreSQL a `pg_notify` in the transaction, delivered at the commit, exactly
   * when the change becomes visible; an instance that dies right after its commit cannot lose the
   * wake-up). The last statement of the transaction. Answers false when this notifier cannot
   * (one process, PGlite): then the caller publishes each topic after the commit.
   */
  publishIn(tx: Db, topics: readonly string[]): Promise<boolean>
  /**
   * `publishIn` as a SELECT to end a statement of the transaction with (after its data-modifying
   * CTEs: the last writes and the announcement in one round trip); undefined when this notifier
   * cannot announce inside a transaction (then `publishIn`'s false applies).
   */
  notifySql(topics: readonly string[]): SQL | undefined
  /**
   * Calls `listener` on each change in the session until the returned function is called, with
   * what the change was when the announcement says (see SessionChange).
   */
  subscribe(sessionId: string, listener: (change?: SessionChange) => void): () => void
  /**
   * Calls `listener` with every topic announced to this instance (before the topic's own
   * subscribers, so memory derived from the database is dropped before they re-read), and with
   * null when announcements may have been lost (a re-listen): then everything may have changed.
   */
  watch(listener: (topic: string | null, change?: SessionChange) => void): () => void
  close(): Promise<void>
}

export const NOTIFY_CHANNEL = 'helpline_session'

type Listener = (change?: SessionChange) => void
type Watcher = (topic: string | null, change?: SessionChange) => void

/**
 * A change's announcement: `<session id> <from> <to> <a|c> <instance>` (a: the agent sees it,
 * c: console only). Anything else is a plain topic.
 */
function encodeChange(sessionId: string, change: SessionChange, origin: string): string {
  return `${sessionId} ${change.from} ${change.to} ${change.agentSees ? 'a' : 'c'} ${origin}`
}

const CHANGE = /^(\S+) (\d{1,15}) (\d{1,15}) ([ac]) (\S+)$/

function decode(payload: string): { topic: string; change?: SessionChange; origin?: string } {
  const m = CHANGE.exec(payload)
  if (!m) return { topic: payload }
  const from = Number(m[2])
  const to = Number(m[3])
  // A malformed range is treated as "anything may have changed in the session" (a read).
  if (!(from <= to)) return { topic: m[1]! }
  return { topic: m[1]!, change: { from, to, agentSees: m[4] === 'a' }, origin: m[5]! }
}

/**
 * Subscribers of this process, by session: the one listener itself while a session has one (a
 * held agent poll, the common case: no Set to make and drop on every re-poll), a Set past that.
 */
class LocalListeners {
  private readonly bySession = new Map<string, Listener | Set<Listener>>()
  private readonly watchers = new Set<Watcher>()
  /** This instance's tag in its announcements. */
  readonly origin = randomBytes(6).toString('base64url')
  /** Announcements of this instance not yet heard back (delivered here already: their echo is skipped). */
  private readonly echoes = new Set<string>()

  watch(listener: Watcher): () => void {
    this.watchers.add(listener)
    return () => this.watchers.delete(listener)
  }

  changeTopic(sessionId: string, change: SessionChange): string {
    const topic = encodeChange(sessionId, change, this.origin)
    // Announcements of rolled-back transactions are never heard: bounded, and forgetting them
    // only costs a duplicate wake-up (a read).
    if (this.echoes.size >= 10_000) this.echoes.clear()
    this.echoes.add(topic)
    return topic
  }

  deliver(sessionId: string, change: SessionChange | undefined) {
    for (const watcher of this.watchers) watcher(sessionId, change)
    queueMicrotask(() => this.wake(sessionId, change))
  }

  /** An announcement heard: this instance's own changes were delivered already (`deliver`). */
  hear(payload: string) {
    const { topic, change, origin } = decode(payload)
    if (origin === this.origin && this.echoes.delete(payload)) return
    this.emit(topic, change)
  }

  subscribe(sessionId: string, listener: Listener): () => void {
    const had = this.bySession.get(sessionId)
    if (had === undefined) this.bySession.set(sessionId, listener)
    else if (had instanceof Set) had.add(listener)
    else if (had !== listener) this.bySession.set(sessionId, new Set([had, listener]))
    let subscribed = true
    return () => {
      // Once: a second call must not end a later subscription of the same listener.
      if (subscribed) this.unsubscribe(sessionId, listener)
      subscribed = false
    }
  }

  private unsubscribe(sessionId: string, listener: Listener) {
    const had = this.bySession.get(sessionId)
    if (had === listener) this.bySession.delete(sessionId)
    else if (had instanceof Set && had.delete(listener) && had.size === 0) this.bySession.delete(sessionId)
  }

  emit(sessionId: string, change?: SessionChange) {
    for (const watcher of this.watchers) watcher(sessionId, change)
    this.wake(sessionId, change)
  }

  private wake(sessionId: string, change?: SessionChange) {
    const had = this.bySession.get(sessionId)
    if (had instanceof Set) for (const listener of [...had]) listener(change)
    else had?.(change)
  }

  /** Wakes every subscriber: each re-reads the database and finds what it missed. */
  emitAll() {
    this.forgetAll()
    this.echoes.clear()
    for (const sessionId of [...this.bySession.keys()]) this.emit(sessionId)
  }

  /** Tells the watchers that anything may have changed (without waking the subscribers). */
  forgetAll() {
    for (const watcher of this.watchers) watcher(null)
  }

  get size() {
    return this.bySession.size
  }
}

/** One statement for any number of topics (PostgreSQL drops duplicates within a transaction). */
function notifySql(topics: readonly string[]): SQL {
  return q`select pg_notify(${NOTIFY_CHANNEL}, t) from jsonb_array_elements_text(${JSON.stringify(topics)}::jsonb) as t`
}

/** One process, one database (PGlite): an in-process fan-out is all it takes. */
export function createLocalNotifier(): Notifier {
  const listeners = new LocalListeners()
  return {
    // Deferred so a publisher never runs listeners inside its own call stack.
    publish: (topic) => queueMicrotask(() => listeners.hear(topic)),
    changeTopic: (sessionId, change) => listeners.changeTopic(sessionId, change),
    deliver: (sessionId, change) => listeners.deliver(sessionId, change),
    // One process: nobody else can miss a wake-up, and the commit's caller publishes right after.
    publishIn: async () => false,
    notifySql: () => undefined,
    subscribe: (sessionId, listener) => listeners.subscribe(sessionId, listener),
    watch: (listener) => listeners.watch(listener),
    close: async () => {},
  }
}

/** How often a PostgreSQL notifier checks that its LISTEN connection still hears (see `deafAfterMs`). */
export interface HeartbeatOptions {
  /** A NOTIFY of its own this often (ms). */
  everyMs: number
  /** Nothing heard for this long (ms): announcements may be lost, memory is no longer trusted. */
  deafAfterMs: number
}

export const HEARTBEAT: HeartbeatOptions = { everyMs: 3_000, deafAfterMs: 7_000 }

/** The topic of a heartbeat: heard by every instance, meant for none (no session, no user). */
export const HEARTBEAT_TOPIC = 'heartbeat:'

/**
 * Several API instances on one PostgreSQL: NOTIFY reaches every instance's LISTEN connection
 * (this one included), and each fans out to its own subscribers. Changes are announced inside
 * their transaction (`publishIn`), so a committed change always reaches every listening
 * instance. Announcements are lost only while a LISTEN connection does not listen:
 * - postgres.js re-listens after a dropped connection by itself (again and again while the
 *   database is down); each re-listen wakes every subscriber here to catch up, and tells the
 *   watchers that everything may have changed;
 * - a connection that died without saying so (a half-open TCP connection, a stalled proxy) is
 *   found by a heartbeat: a NOTIFY of its own every few seconds, and when nothing at all was
 *   heard for `deafAfterMs` the same catch-up happens, and the watchers are told again at every
 *   heartbeat until something is heard, so nothing derived meanwhile is trusted for long.
 */
export async function createPostgresNotifier(
  sql: postgres.Sql,
  onError: (err: unknown) => void,
  onRelisten?: () => void,
  heartbeat: HeartbeatOptions = HEARTBEAT,
  onDeaf?: () => void,
): Promise<Notifier> {
  const listeners = new LocalListeners()
  let listened = false
  let heardAt = Date.now()
  let deaf = false
  const subscription = await sql.listen(
    NOTIFY_CHANNEL,
    (payload) => {
      heardAt = Date.now()
      deaf = false
      if (payload !== HEARTBEAT_TOPIC) listeners.hear(payload)
    },
    () => {
      heardAt = Date.now()
      deaf = false
      if (listened) {
        onRelisten?.()
        listeners.emitAll()
      }
      listened = true
    },
  )
  let tickAt = Date.now()
  const beat = setInterval(() => {
    const now = Date.now()
    // A tick far behind time means this process was too busy to read its socket (what it was
    // sent is still waiting there): not deaf, and the heartbeat starts counting again.
    const late = now - tickAt > 2 * heartbeat.everyMs
    tickAt = now
    if (late) heardAt = now
    if (now - heardAt > heartbeat.deafAfterMs) {
      if (!deaf) {
        deaf = true
        onDeaf?.()
        listeners.emitAll()
      } else {
        listeners.forgetAll()
      }
    }
    sql.notify(NOTIFY_CHANNEL, HEARTBEAT_TOPIC).catch(() => {
      // The database is away: the next re-listen catches up, and the heartbeat stays unheard.
    })
  }, heartbeat.everyMs)
  beat.unref()
  return {
    publish: (topic) => {
      sql.notify(NOTIFY_CHANNEL, topic).catch(onError)
    },
    changeTopic: (sessionId, change) => listeners.changeTopic(sessionId, change),
    deliver: (sessionId, change) => listeners.deliver(sessionId, change),
    publishIn: async (tx, topics) => {
      if (topics.length === 0) return true
      await tx.execute(notifySql(topics))
      return true
    },
    notifySql,
    subscribe: (sessionId, listener) => listeners.subscribe(sessionId, listener),
    watch: (listener) => listeners.watch(listener),
    // The connection may already be gone (database closed first): then there is nothing to unlisten.
    close: () => {
      clearInterval(beat)
      return subscription.unlisten().then(
        () => undefined,
        () => undefined,
      )
    },
  }
}
