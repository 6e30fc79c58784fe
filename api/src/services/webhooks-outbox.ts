import { randomUUID } from 'node:crypto'
import { and, count, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import type { Notifier } from '../lib/notifier.ts'
import { consentRequests, runBatches, scriptRuns, supportSessions, webhookDeliveries, webhookEndpoints } from '../db/schema.ts'
import type { ScriptRunStatus } from '../schemas/runs.ts'
import { formatNumber } from './sessions.service.ts'

/** What an integrator can subscribe to. */
export const webhookEventTypes = ['session.started', 'session.ended', 'consent.answered', 'script_batch.finished', 'agent.rebooted'] as const
export type WebhookEventType = (typeof webhookEventTypes)[number]

/** What an event sends, or undefined when it turns out not to be one (a batch not yet finished). */
type Built = { data: Record<string, unknown>; key?: string } | undefined

/** One event as an endpoint receives it (Standard Webhooks payload: type, timestamp, data). */
export interface WebhookEvent {
  type: WebhookEventType
  /** The same happening is sent once per endpoint (a repeated audit event does not send it again). */
  key: string
  /** Read only when some endpoint subscribes; may name a better key (the batch behind a command). */
  build: () => Promise<Built>
}

const OPEN_RUN: ScriptRunStatus[] = ['awaiting_consent', 'queued', 'running']

/** The notifier topic announcing that webhook endpoints changed: every instance forgets what it knew of them. */
export const WEBHOOK_ENDPOINTS_TOPIC = 'webhooks:endpoints'
/** How long the event types subscribed to are believed from memory without a re-read (a lost announcement costs at most this). */
export const SUBSCRIBED_TYPES_TTL_MS = 10_000

/**
 * Turns the audit events of a session's change into webhook deliveries, inside the change's own
 * transaction: a delivery exists if and only if its event committed. SessionFeed calls it for
 * every event, so no service can write one of these events and forget its webhook.
 */
export class WebhookOutbox {
  /**
   * The event types some enabled endpoint subscribes to, as last read, and when: an event of any
   * other type is no webhook and costs no query. Forgotten when endpoints change (this instance:
   * `forget()` right after the commit; others: WEBHOOK_ENDPOINTS_TOPIC), when announcements may
   * have been lost, and after SUBSCRIBED_TYPES_TTL_MS.
   */
  private subscribed: { types: Set<string>; readAt: number } | undefined
  /** Bumped by every `forget()`: a read that began before it is not kept. */
  private generation = 0

  constructor(
    private readonly publicUrl: string | undefined,
    notifier?: Notifier,
  ) {
    notifier?.watch((topic) => {
      if (topic === null || topic === WEBHOOK_ENDPOINTS_TOPIC) this.forget()
    })
  }

  /** Drops what this instance knows of the endpoints (they changed). */
  forget(): void {
    this.subscribed = undefined
    this.generation += 1
  }

  /** Whether some enabled endpoint may subscribe to `type`: from memory, or one read of the enabled endpoints' types. */
  private async anySubscribes(tx: Db, type: WebhookEventType): Promise<boolean> {
    const known = this.subscribed
    if (known && Date.now() - known.readAt < SUBSCRIBED_TYPES_TTL_MS) return known.types.has(type)
    const generation = this.generation
    const readAt = Date.now()
    const rows = await tx.select({ eventTypes: webhookEndpoints.eventTypes }).from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true))
    const types = new Set(rows.flatMap((r) => r.eventTypes))
    if (generation === this.generation) this.subscribed = { types, readAt }
    return types.has(type)
  }

  async onSessionEvent(tx: Db, sessionId: string, type: string, data: Record<string, unknown>): Promise<void> {
    const event = this.toWebhookEvent(tx, sessionId, type, data)
    if (event) await this.enqueue(tx, event)
  }

  /**
   * The same for many sessions' events written in one statement (a batch cancelled on 100
   * sessions): endpoints are looked up once per event type, and an event whose key was already
   * enqueued in this call is not built again.
   */
  async onSessionEvents(tx: Db, list: readonly { sessionId: string; type: string; data?: Record<string, unknown> }[]): Promise<void> {
    const endpointsOf = new Map<WebhookEventType, { id: string }[]>()
    const seen = new Set<string>()
    for (const e of list) {
      const event = this.toWebhookEvent(tx, e.sessionId, e.type, e.data ?? {})
      if (!event || seen.has(event.key)) continue
      if (event.key.includes(':')) seen.add(event.key)
      let endpoints = endpointsOf.get(event.type)
      if (!endpoints) endpointsOf.set(event.type, (endpoints = await this.subscribers(tx, event.type)))
      await this.enqueue(tx, event, endpoints)
    }
  }

  /** The enabled endpoints subscribed to `type`, read in the event's transaction (when memory says there may be some). */
  private async subscribers(tx: Db, type: WebhookEventType): Promise<{ id: string }[]> {
    if (!(await this.anySubscribes(tx, type))) return []
    return tx
      .select({ id: webhookEndpoints.id })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.enabled, true), sql`${webhookEndpoints.eventTypes} @> ${JSON.stringify([type])}::jsonb`))
  }

  /** Writes one delivery per enabled endpoint subscribed to the event's type; nothing when none is. */
  async enqueue(tx: Db, event: WebhookEvent, subscribed?: { id: string }[]): Promise<void> {
    const endpoints = subscribed ?? (await this.subscribers(tx, event.type))
    if (endpoints.length === 0) return
    const built = await event.build()
    if (!built) return
    const payload = JSON.stringify({ type: event.type, timestamp: new Date().toISOString(), data: built.data })
    const eventKey = built.key ?? event.key
    await tx
      .insert(webhookDeliveries)
      .values(endpoints.map((e) => ({ endpointId: e.id, eventType: event.type, eventKey, payload })))
      .onConflictDoNothing()
  }

  private toWebhookEvent(tx: Db, sessionId: string, type: string, data: Record<string, unknown>): WebhookEvent | undefined {
    switch (type) {
      // Only the first computer's join starts a session; a replacement's join is the same key.
      case 'agent.joined':
        return { type: 'session.started', key: `session.started:${sessionId}`, build: () => this.sessionData(tx, sessionId) }
      case 'session.ended':
      case 'session.expired':
        return { type: 'session.ended', key: `session.ended:${sessionId}`, build: () => this.endedData(tx, sessionId) }
      case 'consent.approved':
      case 'consent.denied':
        return { type: 'consent.answered', key: `consent.answered:${String(data.consentId)}`, build: () => this.consentData(tx, String(data.consentId)) }
      case 'agent.rejoined':
        if (data.afterReboot !== true) return undefined
        return { type: 'agent.rebooted', key: `agent.rebooted:${randomUUID()}`, build: () => this.rebootData(tx, sessionId) }
      // Runs closed with their consent (denied, expired) write no run events of their own: the
      // command's end stands for them. Runs ended one by one have their own events.
      case 'command.succeeded':
      case 'command.failed':
      case 'command.cancelled':
        if (data.kind !== 'run_scripts') return undefined
        return { type: 'script_batch.finished', key: 'script_batch.finished', build: () => this.batchOfCommand(tx, String(data.commandId)) }
      default:
        if (type.startsWith('script_run.') && typeof data.batchId === 'string' && !OPEN_RUN.includes(data.status as ScriptRunStatus)) {
          const batchId = data.batchId
          return { type: 'script_batch.finished', key: `script_batch.finished:${batchId}`, build: () => this.batchData(tx, batchId) }
        }
        return undefined
    }
  }

  private async sessionFacts(tx: Db, sessionId: string) {
    const [s] = await tx.select().from(supportSessions).where(eq(supportSessions.id, sessionId))
    if (!s) return undefined
    const facts = { sessionId: s.id, number: formatNumber(s.number), customerName: s.customerName, csrId: s.csrId, startedAt: s.startedAt?.toISOString() ?? null }
    return { row: s, facts }
  }

  private async sessionData(tx: Db, sessionId: string): Promise<Built> {
    const found = await this.sessionFacts(tx, sessionId)
    return found && { data: found.facts }
  }

  private async endedData(tx: Db, sessionId: string): Promise<Built> {
    const found = await this.sessionFacts(tx, sessionId)
    if (!found) return undefined
    const base = this.publicUrl?.replace(/\/+$/, '')
    const reportPath = `/api/v1/sessions/${sessionId}/report`
    return {
      data: {
        ...found.facts,
        reason: found.row.endedReason,
        endedAt: found.row.endedAt?.toISOString() ?? null,
        // Absolute links need PUBLIC_URL; the path alone is always there.
        report: {
          path: reportPath,
          url: base ? `${base}${reportPath}` : null,
          consoleUrl: base ? `${base}/#/sessions/${sessionId}/report` : null,
        },
      },
    }
  }

  private async consentData(tx: Db, consentId: string): Promise<Built> {
    const [c] = await tx.select().from(consentRequests).where(eq(consentRequests.id, consentId))
    if (!c) return undefined
    return { data: { sessionId: c.sessionId, consentId: c.id, kind: c.kind, approved: c.status === 'approved', answeredAt: c.answeredAt?.toISOString() ?? null } }
  }

  private async rebootData(tx: Db, sessionId: string): Promise<Built> {
    const found = await this.sessionFacts(tx, sessionId)
    return found && { data: { ...found.facts, rebootedAt: new Date().toISOString() } }
  }

  /** The batch a run_scripts command belongs to. */
  private async batchOfCommand(tx: Db, commandId: string): Promise<Built> {
    const [run] = await tx.select({ batchId: scriptRuns.batchId }).from(scriptRuns).where(eq(scriptRuns.commandId, commandId)).limit(1)
    return run ? this.batchData(tx, run.batchId) : undefined
  }

  /**
   * A batch spans sessions that finish concurrently. The batch row's lock orders the sessions'
   * last checks, so whichever commits last sees every run final and sends the event.
   */
  private async batchData(tx: Db, batchId: string): Promise<Built> {
    const [batch] = await tx.select().from(runBatches).where(eq(runBatches.id, batchId)).for('update')
    if (!batch) return undefined
    const rows = await tx.select({ status: scriptRuns.status, n: count() }).from(scriptRuns).where(eq(scriptRuns.batchId, batchId)).groupBy(scriptRuns.status)
    if (rows.some((r) => OPEN_RUN.includes(r.status))) return undefined
    return {
      key: `script_batch.finished:${batchId}`,
      data: {
        batchId,
        createdBy: batch.createdBy,
        sessionIds: batch.sessionIds,
        scripts: batch.scripts.map((s) => ({ name: s.name, version: s.version })),
        runs: Object.fromEntries(rows.map((r) => [r.status, r.n])),
        succeeded: rows.every((r) => r.status === 'succeeded'),
      },
    }
  }
}
