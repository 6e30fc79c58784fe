import type { Schemas } from '@helpline/sdk'
import { changedFields, type ResourceAdapter } from '../data-provider.ts'
import { call } from '../errors.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type WebhookEndpoint = Schemas['WebhookEndpoint']
/** Only the answer to a create carries the signing secret, and only that once. */
export type CreatedWebhookEndpoint = Schemas['WebhookEndpointCreated']
export type WebhookDelivery = Schemas['WebhookDelivery']
export type WebhookEventType = Schemas['WebhookEventType']

/** Every event, in the order the console offers them. */
export const allWebhookEvents: WebhookEventType[] = ['session.started', 'session.ended', 'consent.answered', 'script_batch.finished', 'agent.rebooted']

function toEvents(value: unknown): WebhookEventType[] {
  return Array.isArray(value) ? allWebhookEvents.filter((e) => value.includes(e)) : []
}

/** Webhook endpoints: site admins only (the API refuses anyone else). */
export function webhooksAdapter(client: HelplineClient): ResourceAdapter<WebhookEndpoint> {
  const path = (id: unknown) => ({ path: { id: String(id) } })
  return {
    async getList({ page, perPage, sort, order }) {
      const query = { page, perPage, sort: sort === 'url' ? ('url' as const) : ('createdAt' as const), order: order ?? 'desc' }
      return dataOf(await client.GET('/api/v1/webhooks', { params: { query } }))
    },
    async getOne(id) {
      return dataOf(await client.GET('/api/v1/webhooks/{id}', { params: path(id) }))
    },
    async create(data) {
      const body = { url: String(data.url ?? ''), description: String(data.description ?? ''), eventTypes: toEvents(data.eventTypes), enabled: data.enabled !== false }
      return dataOf(await client.POST('/api/v1/webhooks', { body }))
    },
    async update(id, data, previous) {
      const changed = changedFields(data, previous, ['url', 'description'])
      const body = { ...changed, eventTypes: toEvents(data.eventTypes), ...(typeof data.enabled === 'boolean' ? { enabled: data.enabled } : {}) }
      return dataOf(await client.PATCH('/api/v1/webhooks/{id}', { params: path(id), body }))
    },
    async delete(id) {
      await client.DELETE('/api/v1/webhooks/{id}', { params: path(id) })
    },
  }
}

/** An endpoint's deliveries and their replay, exposed on the data provider. */
export function webhookActions(client: HelplineClient) {
  return {
    listWebhookDeliveries: (endpointId: string): Promise<{ data: WebhookDelivery[]; total: number }> =>
      call(async () => dataOf(await client.GET('/api/v1/webhooks/{id}/deliveries', { params: { path: { id: endpointId }, query: { perPage: 50, order: 'desc' } } }))),
    replayWebhookDelivery: (endpointId: string, deliveryId: string): Promise<WebhookDelivery> =>
      call(async () => dataOf(await client.POST('/api/v1/webhooks/{id}/deliveries/{deliveryId}/replay', { params: { path: { id: endpointId, deliveryId } } }))),
  }
}
