import { Type, type Static } from 'typebox'
import { DateTime, listQuery, page, Uuid } from './common.ts'
import { webhookEventTypes } from '../services/webhooks-outbox.ts'

export const WebhookEventType = Type.Enum([...webhookEventTypes], {
  $id: 'WebhookEventType',
  description:
    'session.started: the customer joined; session.ended: ended or expired (with the report link); consent.answered: the customer approved or denied; script_batch.finished: every run of a batch is final; agent.rebooted: the computer came back after a reboot',
})

const EventTypes = Type.Array(WebhookEventType, { minItems: 1, maxItems: webhookEventTypes.length, uniqueItems: true })
const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'http:// or https:// only; redirects are never followed' })
const Description = Type.String({ maxLength: 500 })

export const WebhookEndpoint = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    description: Type.String(),
    eventTypes: Type.Array(WebhookEventType),
    enabled: Type.Boolean(),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'WebhookEndpoint', additionalProperties: false },
)
export type WebhookEndpoint = Static<typeof WebhookEndpoint>

export const WebhookEndpointCreated = Type.Object(
  {
    ...WebhookEndpoint.properties,
    secret: Type.String({ description: 'The signing secret (whsec_…). Shown this once; keep it with the receiver.' }),
  },
  { $id: 'WebhookEndpointCreated', additionalProperties: false },
)
export const WebhookEndpointList = page(WebhookEndpoint, 'WebhookEndpointList')
export const WebhookEndpointCreate = Type.Object(
  { url: Url, description: Type.Optional(Description), eventTypes: EventTypes, enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
)
export const WebhookEndpointUpdate = Type.Object(
  { url: Type.Optional(Url), description: Type.Optional(Description), eventTypes: Type.Optional(EventTypes), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
)
export const WebhookEndpointListQuery = listQuery(['createdAt', 'url'])

export const WebhookAttempt = Type.Object(
  {
    at: DateTime,
    durationMs: Type.Integer({ minimum: 0 }),
    statusCode: Type.Union([Type.Integer(), Type.Null()], { description: 'The endpoint’s HTTP status; null when it never answered' }),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'WebhookAttempt', additionalProperties: false },
)

export const WebhookDelivery = Type.Object(
  {
    id: Uuid,
    endpointId: Uuid,
    webhookId: Type.String({ description: 'The webhook-id header: the same on every retry and replay' }),
    eventType: WebhookEventType,
    status: Type.Enum(['pending', 'succeeded', 'failed'], { description: 'failed: the retries gave up (about a day)' }),
    attemptCount: Type.Integer({ minimum: 0 }),
    nextAttemptAt: Type.Union([DateTime, Type.Null()], { description: 'When a pending delivery is tried next' }),
    lastAttemptAt: Type.Union([DateTime, Type.Null()]),
    createdAt: DateTime,
    payload: Type.String({ description: 'The exact body sent (JSON)' }),
    attempts: Type.Array(WebhookAttempt, { description: 'The latest attempts (at most 10), oldest first' }),
  },
  { $id: 'WebhookDelivery', additionalProperties: false },
)
export type WebhookDelivery = Static<typeof WebhookDelivery>
export const WebhookDeliveryList = page(WebhookDelivery, 'WebhookDeliveryList')
export const WebhookDeliveryListQuery = listQuery(['createdAt'], {
  status: Type.Optional(Type.Enum(['pending', 'succeeded', 'failed'])),
})
export const WebhookDeliveryParams = Type.Object({ id: Uuid, deliveryId: Uuid }, { additionalProperties: false })

export const webhookSchemas = [WebhookEventType, WebhookEndpoint, WebhookEndpointCreated, WebhookEndpointList, WebhookAttempt, WebhookDelivery, WebhookDeliveryList]
