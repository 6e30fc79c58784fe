import { createHmac } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { and, asc, eq, lte, sql } from 'drizzle-orm'
import { timeoutSignal } from '@helpline/sdk'
import type { Db } from '../db/client.ts'
import { webhookDeliveries, webhookEndpoints, type WebhookAttemptRecord } from '../db/schema.ts'
import { unavailableCause } from '../db/unavailable.ts'
import type { Keyring } from '../lib/keyring.ts'
import { version } from '../version.ts'

/**
 * The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`,
 * keyed with the base64 part of the `whsec_` secret.
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64')}`
}

/** The `webhook-id` of a delivery: the same on every retry and replay, so receivers can drop repeats. */
export const webhookMessageId = (deliveryId: string) => `msg_${deliveryId.replaceAll('-', '')}`

export interface WebhookWorkerOptions {
  timeoutMs: number
  /** Wait before each retry; after the last the delivery is failed. */
  retryDelaysMs: number[]
  intervalMs: number
  /** Deliveries one instance sends at once. */
  batchSize?: number
}

type Claimed = { id: string; url: string; secretSealed: string; payload: string; attemptCount: number; attempts: WebhookAttemptRecord[] }

/** How many attempts a delivery keeps for the console. */
const KEPT_ATTEMPTS = 10

/**
 * Sends the outbox. Each instance runs one; a due delivery is claimed with FOR UPDATE SKIP LOCKED
 * and its next attempt pushed past the send's timeout (a lease) in a short transaction, then sent
 * outside any transaction, so several instances never send one delivery at once and a receiver
 * that hangs holds nothing but its own lease. An instance that dies mid-send leaves the lease to
 * run out, and another instance retries.
 */
export class WebhookWorker {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> | undefined
  private readonly stopping = new AbortController()
  private databaseDown = false

  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly options: WebhookWorkerOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  start() {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = undefined))
    }, this.options.intervalMs)
    this.timer.unref()
  }

  /** Stops claiming and abandons sends in flight; their leases run out and another instance retries. */
  async stop() {
    clearInterval(this.timer)
    this.stopping.abort()
    await this.running
  }

  private async tick() {
    try {
      await this.runOnce()
      if (this.databaseDown) this.log.info('database available again; sending webhooks')
      this.databaseDown = false
    } catch (err) {
      const down = unavailableCause(err)
      if (down && !this.databaseDown) this.log.warn({ database: down }, 'database unavailable; webhooks resume when it is back')
      else if (!down) this.log.warn({ err }, 'webhook worker failed; tried again shortly')
      this.databaseDown = Boolean(down)
    }
  }

  /** Claims what is due and sends it; returns how many were sent (successfully or not). */
  async runOnce(): Promise<number> {
    const claimed = await this.claim()
    await Promise.all(claimed.map((d) => this.send(d)))
    return claimed.length
  }

  private async claim(): Promise<Claimed[]> {
    const leaseMs = this.options.timeoutMs + 30_000
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select({ id: webhookDeliveries.id, url: webhookEndpoints.url, secretSealed: webhookEndpoints.secretSealed, payload: webhookDeliveries.payload, attemptCount: webhookDeliveries.attemptCount, attempts: webhookDeliveries.attempts })
        .from(webhookDeliveries)
        .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
        .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, sql`now()`), eq(webhookEndpoints.enabled, true)))
        .orderBy(asc(webhookDeliveries.nextAttemptAt))
        .limit(this.options.batchSize ?? 20)
        .for('update', { of: webhookDeliveries, skipLocked: true })
      for (const d of due) {
        await tx
          .update(webhookDeliveries)
          .set({ attemptCount: d.attemptCount + 1, nextAttemptAt: sql`now() + ${leaseMs} * interval '1 millisecond'` })
          .where(eq(webhookDeliveries.id, d.id))
      }
      return due.map((d) => ({ ...d, attemptCount: d.attemptCount + 1 }))
    })
  }

  private async send(d: Claimed) {
    const started = Date.now()
    const outcome = await this.post(d)
    if (this.stopping.signal.aborted && outcome.aborted) return
    const attempt: WebhookAttemptRecord = { at: new Date(started).toISOString(), durationMs: Date.now() - started, statusCode: outcome.statusCode, error: outcome.error }
    const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300 && outcome.error === null
    const delay = this.options.retryDelaysMs[d.attemptCount - 1]
    const status = ok ? 'succeeded' : delay === undefined ? 'failed' : 'pending'
    await this.db
      .update(webhookDeliveries)
      .set({
        status,
        lastAttemptAt: new Date(started),
        nextAttemptAt: status === 'pending' ? sql`now() + ${delay ?? 0} * interval '1 millisecond'` : sql`now()`,
        attempts: [...d.attempts, attempt].slice(-KEPT_ATTEMPTS),
      })
      // A replay in between started a new round: this result no longer decides the state.
      .where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.attemptCount, d.attemptCount)))
    if (!ok) this.log.info({ delivery: d.id, statusCode: outcome.statusCode, error: outcome.error, status }, 'webhook delivery failed')
  }

  /** One POST: no redirects followed (a 3xx is a failure), the body read no further than its status. */
  private async post(d: Claimed): Promise<{ statusCode: number | null; error: string | null; aborted?: boolean }> {
    const id = webhookMessageId(d.id)
    const timestamp = Math.floor(Date.now() / 1000)
    let signature: string
    try {
      signature = signWebhook(this.keyring.open(d.secretSealed), id, timestamp, d.payload)
    } catch {
      // Sealed with another server secret (instances that do not share SERVER_SECRET): an attempt that failed, not a stuck row.
      return { statusCode: null, error: 'The signing secret cannot be opened with this server secret' }
    }
    // Not AbortSignal.timeout inside AbortSignal.any: a garbage collection could take its timer's
    // signal, and a receiver that never answers would then hold this worker for ever.
    const { signal, clear } = timeoutSignal(this.options.timeoutMs, this.stopping.signal)
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `Helpline-Webhooks/${version}`,
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signature,
        },
        body: d.payload,
        redirect: 'manual',
        signal,
      })
      await res.body?.cancel().catch(() => undefined)
      if (res.status >= 300 && res.status < 400) return { statusCode: res.status, error: `Redirect to ${res.headers.get('location') ?? '(no location)'} not followed` }
      return { statusCode: res.status, error: res.ok ? null : `The endpoint answered ${res.status}` }
    } catch (err) {
      if (this.stopping.signal.aborted) return { statusCode: null, error: 'The server stopped during the attempt', aborted: true }
      if (signal.aborted) return { statusCode: null, error: `No answer within ${this.options.timeoutMs} ms` }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      return { statusCode: null, error: cause?.code ?? cause?.message ?? (err as Error).message }
    } finally {
      clear()
    }
  }
}
