import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { principalOf } from '../../plugins/app/auth.ts'
import { errors, IdParams, paging, ref } from '../../schemas/common.ts'
import {
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookDeliveryListQuery,
  WebhookDeliveryParams,
  WebhookEndpoint,
  WebhookEndpointCreate,
  WebhookEndpointCreated,
  WebhookEndpointList,
  WebhookEndpointListQuery,
  WebhookEndpointUpdate,
} from '../../schemas/webhooks.ts'

const signing =
  'Deliveries follow Standard Webhooks: POST with the JSON body `{type, timestamp, data}` and the headers webhook-id, webhook-timestamp and webhook-signature (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the secret). The SDK exports verifyWebhook.'

/** Webhook endpoints for integrators and their deliveries: site admins only. */
export default async function webhookRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { webhooks } = app.services
  const tags = ['webhooks']

  app.get(
    '/webhooks',
    {
      config: { auth: 'admin' },
      schema: { operationId: 'listWebhookEndpoints', tags, summary: 'List webhook endpoints', querystring: WebhookEndpointListQuery, response: { 200: ref(WebhookEndpointList) } },
    },
    async (request) => webhooks.list(paging(request.query, 'createdAt')),
  )

  app.post(
    '/webhooks',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'createWebhookEndpoint',
        tags,
        summary: 'Register a webhook endpoint',
        description: `The answer holds the signing secret, shown this once. 422 WEBHOOK_URL_INVALID: the URL is not http(s). ${signing}`,
        body: WebhookEndpointCreate,
        response: { 201: ref(WebhookEndpointCreated), ...errors(422) },
      },
    },
    async (request, reply) => reply.code(201).send(await webhooks.create(principalOf(request), request.body)),
  )

  app.get(
    '/webhooks/:id',
    {
      config: { auth: 'admin' },
      schema: { operationId: 'getWebhookEndpoint', tags, summary: 'Get a webhook endpoint', params: IdParams, response: { 200: ref(WebhookEndpoint), ...errors(404) } },
    },
    async (request) => webhooks.get(request.params.id),
  )

  app.patch(
    '/webhooks/:id',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'updateWebhookEndpoint',
        tags,
        summary: 'Change a webhook endpoint (URL, events, enabled)',
        description: '422 WEBHOOK_URL_INVALID: the URL is not http(s). The secret does not change.',
        params: IdParams,
        body: WebhookEndpointUpdate,
        response: { 200: ref(WebhookEndpoint), ...errors(404, 422) },
      },
    },
    async (request) => webhooks.update(principalOf(request), request.params.id, request.body),
  )

  app.delete(
    '/webhooks/:id',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'deleteWebhookEndpoint',
        tags,
        summary: 'Delete a webhook endpoint and its deliveries',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(404) },
      },
    },
    async (request, reply) => {
      await webhooks.delete(principalOf(request), request.params.id)
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'listWebhookDeliveries',
        tags,
        summary: 'List an endpoint’s deliveries with their latest attempts',
        params: IdParams,
        querystring: WebhookDeliveryListQuery,
        response: { 200: ref(WebhookDeliveryList), ...errors(404) },
      },
    },
    async (request) => webhooks.deliveries(request.params.id, { ...paging(request.query, 'createdAt'), status: request.query.status }),
  )

  app.post(
    '/webhooks/:id/deliveries/:deliveryId/replay',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'replayWebhookDelivery',
        tags,
        summary: 'Send a delivery again (same webhook-id and body, retries start over)',
        params: WebhookDeliveryParams,
        response: { 202: ref(WebhookDelivery), ...errors(404) },
      },
    },
    async (request, reply) => reply.code(202).send(await webhooks.replay(principalOf(request), request.params.id, request.params.deliveryId)),
  )
}
