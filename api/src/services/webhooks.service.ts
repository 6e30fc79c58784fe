import { randomBytes } from 'node:crypto'
import { and, asc, count, desc, eq, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { webhookDeliveries, webhookEndpoints } from '../db/schema.ts'
import { notFound, unprocessable } from '../errors.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import { refuseControlCharacters } from '../lib/text.ts'
import type { Paging } from '../schemas/common.ts'
import type { WebhookDelivery, WebhookEndpoint } from '../schemas/webhooks.ts'
import type { Principal } from './auth.service.ts'
import type { WebhookEventType } from './webhooks-outbox.ts'
import { webhookMessageId } from './webhooks-worker.ts'

type EndpointRow = typeof webhookEndpoints.$inferSelect
type DeliveryRow = typeof webhookDeliveries.$inferSelect

export interface EndpointWrite {
  url?: string | undefined
  description?: string | undefined
  eventTypes?: WebhookEventType[] | undefined
  enabled?: boolean | undefined
}

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes as WebhookEventType[],
    enabled: row.enabled,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    endpointId: row.endpointId,
    webhookId: webhookMessageId(row.id),
    eventType: row.eventType as WebhookEventType,
    status: row.status,
    attemptCount: row.attemptCount,
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    lastAttemptAt: row.lastAttemptAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    payload: row.payload,
    attempts: row.attempts,
  }
}

/**
 * Only http(s) URLs are endpoints: anything else (file:, ftp:, javascript:, a bare host) is a 422
 * that names the URL. Redirects are refused at send time (webhooks-worker.ts), so an http(s) URL
 * cannot lead a delivery anywhere else.
 */
export function checkEndpointUrl(url: string): string {
  const trimmed = url.trim()
  refuseControlCharacters({ url: trimmed })
  let parsed: URL | undefined
  try {
    parsed = new URL(trimmed)
  } catch {
    parsed = undefined
  }
  const shown = JSON.stringify(trimmed.slice(0, 200))
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw unprocessable('WEBHOOK_URL_INVALID', `The webhook URL ${shown} is not an http:// or https:// URL`, { url: 'must be an http:// or https:// URL' })
  }
  if (parsed.username || parsed.password) {
    throw unprocessable('WEBHOOK_URL_INVALID', `The webhook URL ${shown} carries a user name or password; put credentials in the receiver, not the URL`, {
      url: 'must not contain a user name or password',
    })
  }
  return parsed.toString()
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`

const endpointNotFound = () => notFound('Webhook endpoint', 'WEBHOOK_NOT_FOUND')

/**
 * Integrators' webhook endpoints and their deliveries, managed by site admins (the routes enforce
 * the role). The signing secret is generated here, returned once, and kept sealed; every change is
 * in the site's audit trail.
 */
export class WebhooksService {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    /** Called after each committed change of an endpoint (the outboxes' memory of who subscribes). */
    private readonly onEndpointsChanged: () => void = () => {},
  ) {}

  async list(query: Paging<'createdAt' | 'url'>): Promise<{ data: WebhookEndpoint[]; total: number }> {
    const direction = query.order === 'desc' ? desc : asc
    const column = query.sort === 'url' ? webhookEndpoints.url : webhookEndpoints.createdAt
    const [rows, [total]] = await Promise.all([
      this.db.select().from(webhookEndpoints).orderBy(direction(column), asc(webhookEndpoints.id)).limit(query.limit).offset(query.offset),
      this.db.select({ n: count() }).from(webhookEndpoints),
    ])
    return { data: rows.map(toEndpoint), total: total?.n ?? 0 }
  }

  async get(id: string): Promise<WebhookEndpoint> {
    return toEndpoint(await this.row(id))
  }

  private async row(id: string): Promise<EndpointRow> {
    const [row] = await this.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id))
    if (!row) throw endpointNotFound()
    return row
  }

  async create(actor: Principal, input: Required<Pick<EndpointWrite, 'url' | 'eventTypes'>> & EndpointWrite): Promise<WebhookEndpoint & { secret: string }> {
    const url = checkEndpointUrl(input.url)
    const description = input.description?.trim() ?? ''
    refuseControlCharacters({ description })
    const secret = newWebhookSecret()
    const row = await this.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(webhookEndpoints)
        .values({ url, description, eventTypes: input.eventTypes, enabled: input.enabled ?? true, secretSealed: this.keyring.seal(secret), createdBy: actor.userId })
        .returning()
      await appendSiteEvent(tx, this.keyring, { type: 'webhook.created', actor: { type: 'user', id: actor.userId }, targetType: 'webhook', targetId: created!.id, data: { url, eventTypes: input.eventTypes } })
      return created!
    })
    this.onEndpointsChanged()
    return { ...toEndpoint(row), secret }
  }

  async update(actor: Principal, id: string, input: EndpointWrite): Promise<WebhookEndpoint> {
    const changes: Partial<EndpointRow> = {}
    if (input.url !== undefined) changes.url = checkEndpointUrl(input.url)
    if (input.description !== undefined) {
      changes.description = input.description.trim()
      refuseControlCharacters({ description: changes.description })
    }
    if (input.eventTypes !== undefined) changes.eventTypes = input.eventTypes
    if (input.enabled !== undefined) changes.enabled = input.enabled
    const row = await this.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(webhookEndpoints)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(webhookEndpoints.id, id))
        .returning()
      if (!updated) throw endpointNotFound()
      await appendSiteEvent(tx, this.keyring, { type: 'webhook.updated', actor: { type: 'user', id: actor.userId }, targetType: 'webhook', targetId: id, data: { ...changes } })
      return updated
    })
    this.onEndpointsChanged()
    return toEndpoint(row)
  }

  /** Deletes the endpoint and its deliveries (pending ones are not sent). */
  async delete(actor: Principal, id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [gone] = await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ url: webhookEndpoints.url })
      if (!gone) throw endpointNotFound()
      await appendSiteEvent(tx, this.keyring, { type: 'webhook.deleted', actor: { type: 'user', id: actor.userId }, targetType: 'webhook', targetId: id, data: { url: gone.url } })
    })
    this.onEndpointsChanged()
  }

  async deliveries(endpointId: string, query: Paging<'createdAt'> & { status?: DeliveryRow['status'] | undefined }): Promise<{ data: WebhookDelivery[]; total: number }> {
    await this.row(endpointId)
    const where: SQL[] = [eq(webhookDeliveries.endpointId, endpointId)]
    if (query.status) where.push(eq(webhookDeliveries.status, query.status))
    const filter = and(...where)
    const direction = query.order === 'desc' ? desc : asc
    const [rows, [total]] = await Promise.all([
      this.db.select().from(webhookDeliveries).where(filter).orderBy(direction(webhookDeliveries.createdAt), asc(webhookDeliveries.id)).limit(query.limit).offset(query.offset),
      this.db.select({ n: count() }).from(webhookDeliveries).where(filter),
    ])
    return { data: rows.map(toDelivery), total: total?.n ?? 0 }
  }

  /**
   * Sends a delivery again as soon as a worker is free: same webhook-id and body, a fresh round
   * of retries. Works on any status (a receiver that lost what it got, or one fixed after a day).
   */
  async replay(actor: Principal, endpointId: string, deliveryId: string): Promise<WebhookDelivery> {
    const row = await this.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(webhookDeliveries)
        // attempt_count restarts the retry schedule and tells a send in flight its result is stale.
        .set({ status: 'pending', nextAttemptAt: sql`now()`, attemptCount: 0 })
        .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpointId)))
        .returning()
      if (!updated) throw notFound('Webhook delivery', 'WEBHOOK_DELIVERY_NOT_FOUND')
      await appendSiteEvent(tx, this.keyring, { type: 'webhook.replayed', actor: { type: 'user', id: actor.userId }, targetType: 'webhook', targetId: endpointId, data: { deliveryId } })
      return updated
    })
    return toDelivery(row)
  }
}
