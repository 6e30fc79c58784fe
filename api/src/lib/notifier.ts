import { sql as q, type SQL } from 'drizzle-orm'
import type postgres from 'postgres'
import type { Db } from '../db/client.ts'

/**
 * Wakes whoever waits on a session (held agent polls, console streams) after a change was
 * committed. A wake-up carries no data: the listener reads the database, which stays the source
 * of truth, so a lost notification only delays until the next poll. A topic is a session id, or
 * `credentials:<userId>` when a user's sign-ins or tokens were revoked (their open streams re-check).
 */
export interface Notifier {
  /** Announces a committed change in a session, to every API instance. */
  publish(sessionId: string): void
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
  /** Calls `listener` on each change in the session until the returned function is called. */
  subscribe(sessionId: string, listener: () => void): () => void
  /**
   * Calls `listener` with every topic announced to this instance (before the topic's own
   * subscribers, so memory derived from the database is dropped before they re-read), and with
   * null when announcements may have been lost (a re-listen): then everything may have changed.
   */
  watch(listener: (topic: string | null) => void): () => void
  close(): Promise<void>
}

export const NOTIFY_CHANNEL = 'helpline_session'

/** Subscribers of this process, by session. */
class LocalListeners {
  private readonly bySession = new Map<string, Set<() => void>>()
  private readonly watchers = new Set<(topic: string | null) => void>()

  watch(listener: (topic: string | null) => void): () => void {
    this.watchers.add(listener)
    return () => this.watchers.delete(listener)
  }

  subscribe(sessionId: string, listener: () => void): () => void {
    let set = this.bySession.get(sessionId)
    if (!set) {
      set = new Set()
      this.bySession.set(sessionId, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.bySession.get(sessionId) === set) this.bySession.delete(sessionId)
    }
  }

  emit(sessionId: string) {
    for (const watcher of this.watchers) watcher(sessionId)
    const set = this.bySession.get(sessionId)
    if (!set) return
    for (const listener of [...set]) listener()
  }

  /** Wakes every subscriber: each re-reads the database and finds what it missed. */
  emitAll() {
    this.forgetAll()
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
    publish: (sessionId) => queueMicrotask(() => listeners.emit(sessionId)),
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
const HEARTBEAT_TOPIC = 'heartbeat:'

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
      if (payload !== HEARTBEAT_TOPIC) listeners.emit(payload)
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
    publish: (sessionId) => {
      sql.notify(NOTIFY_CHANNEL, sessionId).catch(onError)
    },
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
