import { asc, eq, inArray, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { chatMessages, supportSessions } from '../db/schema.ts'
import { SessionEventWriter } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import { cleanText } from '../lib/text.ts'
import type { Notifier } from '../lib/notifier.ts'
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
  /** Appends to the session's audit trail (hash-chained, see lib/audit-chain.ts). */
  event(type: string, actor: Actor, data?: Record<string, unknown>): Promise<void>
  /**
   * A system line in the chat: English text, plus the event so a console can word it itself. The
   * text is cleaned of control and bidi characters, whatever values were interpolated into it.
   */
  systemLine(body: string, type: string, data?: Record<string, unknown>): Promise<void>
}

/**
 * Every change that the console or the agent must see goes through here: one transaction, change
 * numbers from the session row (so commit order = number order within a session), the audit
 * event in the same transaction, and a wake-up for the session's listeners after the commit.
 */
export class SessionFeed {
  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly keyring: Keyring,
    /** Webhook deliveries for the events integrators subscribe to, in the event's transaction. */
    private readonly outbox?: WebhookOutbox,
  ) {}

  async change<T>(sessionId: string, fn: (s: SessionTx) => Promise<T>): Promise<T> {
    return this.changeMany([sessionId], (of) => fn(of(sessionId)))
  }

  /**
   * One transaction over several sessions (a script batch on many sessions is all or nothing).
   * Their rows are locked in id order up front, so two such changes cannot deadlock.
   */
  async changeMany<T>(sessionIds: readonly string[], fn: (of: (sessionId: string) => SessionTx) => Promise<T>): Promise<T> {
    const changed = new Set<string>()
    const ids = [...new Set(sessionIds)].sort()
    const result = await this.db.transaction(async (tx) => {
      const txs = new Map<string, SessionTx>()
      for (const sessionId of ids) txs.set(sessionId, this.sessionTx(tx, sessionId, changed))
      if (ids.length > 1) {
        await tx.select({ id: supportSessions.id }).from(supportSessions).where(inArray(supportSessions.id, ids)).orderBy(asc(supportSessions.id)).for('update')
      }
      return fn((sessionId) => {
        const s = txs.get(sessionId)
        if (!s) throw new Error(`session ${sessionId} is not part of this change`)
        return s
      })
    })
    for (const sessionId of changed) this.notifier.publish(sessionId)
    return result
  }

  private sessionTx(tx: Db, sessionId: string, changed: Set<string>): SessionTx {
    const events = new SessionEventWriter(tx, this.keyring, sessionId)
    const next = async () => {
      const [row] = await tx
        .update(supportSessions)
        .set({ feedSeq: sql`${supportSessions.feedSeq} + 1`, updatedAt: new Date() })
        .where(eq(supportSessions.id, sessionId))
        .returning({ seq: supportSessions.feedSeq })
      if (!row) throw new Error(`session ${sessionId} vanished inside its own change`)
      events.markLocked()
      changed.add(sessionId)
      return row.seq
    }
    return {
      tx,
      sessionId,
      next,
      event: async (type, actor, data = {}) => {
        await events.append(type, actor, data)
        await this.outbox?.onSessionEvent(tx, sessionId, type, data)
      },
      systemLine: async (body, type, data = {}) => {
        await tx.insert(chatMessages).values({ sessionId, sender: 'system', body: cleanText(body), systemEvent: { type, data }, seq: await next() })
      },
    }
  }

  /**
   * Long-poll: runs `read` now and again after each wake-up until it returns something, the time
   * is up or the caller goes away. Subscribes before the first read, so a change committed
   * between a read and the wait still wakes it. No timer polls the database.
   */
  async hold<T>(sessionId: string, ms: number, signal: AbortSignal | undefined, read: () => Promise<T | undefined>): Promise<T | undefined> {
    let dirty = false
    let wake: (() => void) | undefined
    const unsubscribe = this.notifier.subscribe(sessionId, () => {
      dirty = true
      wake?.()
    })
    const deadline = Date.now() + ms
    try {
      for (;;) {
        dirty = false
        const found = await read()
        if (found !== undefined) return found
        const left = deadline - Date.now()
        if (left <= 0 || signal?.aborted) return undefined
        if (dirty) continue
        await new Promise<void>((resolve) => {
          const finish = () => {
            clearTimeout(timer)
            signal?.removeEventListener('abort', finish)
            wake = undefined
            resolve()
          }
          const timer = setTimeout(finish, left)
          signal?.addEventListener('abort', finish, { once: true })
          wake = finish
        })
        if (!dirty) return undefined
      }
    } finally {
      unsubscribe()
    }
  }

  subscribe(sessionId: string, listener: () => void): () => void {
    return this.notifier.subscribe(sessionId, listener)
  }
}
