import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiTokenCreate, ApiTokenCreated, ApiTokenList } from '../../schemas/accounts.ts'
import { errors, IdParams, listQuery, paging, ref } from '../../schemas/common.ts'
import { principalOf } from '../../plugins/app/auth.ts'

export default async function tokenRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { auth } = app.services
  const tags = ['tokens']

  app.get(
    '/tokens',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'listApiTokens',
        tags,
        summary: 'Your active personal API tokens, newest first',
        querystring: listQuery(['createdAt']),
        response: { 200: ref(ApiTokenList) },
      },
    },
    async (request) => auth.listTokens(principalOf(request).userId, paging(request.query, 'createdAt')),
  )

  app.post(
    '/tokens',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'createApiToken',
        tags,
        summary: 'Create a personal API token; the secret is in this response only',
        body: ApiTokenCreate,
        response: { 201: ref(ApiTokenCreated), ...errors(409, 422) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await auth.createToken(principalOf(request).userId, request.body.name, request.body.expiresAt)),
  )

  app.delete(
    '/tokens/:id',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'revokeApiToken',
        tags,
        summary: 'Revoke one of your API tokens; it stops working on the next request',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...errors(404) },
      },
    },
    async (request, reply) => {
      await auth.revokeToken(principalOf(request).userId, request.params.id)
      return reply.code(204).send(null)
    },
  )
}
