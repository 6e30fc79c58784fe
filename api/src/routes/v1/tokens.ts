import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiTokenCreate, ApiTokenCreated, ApiTokenList } from '../../schemas/accounts.ts'
import { errors, IdParams, listQuery, paging, ref } from '../../schemas/common.ts'
import { principalOf } from '../../plugins/app/auth.ts'

/**
 * Your own personal API tokens. Only a console sign-in manages them: a token that could make,
 * list or revoke tokens would let whoever stole it keep access after it is revoked.
 */
export default async function tokenRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { tokens } = app.services
  const tags = ['tokens']
  const config = { auth: 'user' as const, signInOnly: true }

  app.get(
    '/tokens',
    {
      config,
      schema: {
        operationId: 'listApiTokens',
        tags,
        summary: 'Your active personal API tokens, newest first',
        description: 'With their scopes, last use and the client address of that use. Console sign-in only.',
        querystring: listQuery(['createdAt']),
        response: { 200: ref(ApiTokenList) },
      },
    },
    async (request) => tokens.listOwn(principalOf(request), paging(request.query, 'createdAt')),
  )

  app.post(
    '/tokens',
    {
      config,
      schema: {
        operationId: 'createApiToken',
        tags,
        summary: 'Create a personal API token; the secret is in this response only',
        description:
          'Choose its `scopes` (read only when none are named); only site admins may give `admin` (422 SCOPE_NOT_ALLOWED). Console sign-in only.',
        body: ApiTokenCreate,
        response: { 201: ref(ApiTokenCreated), ...errors(409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await tokens.create(principalOf(request), request.body)),
  )

  app.delete(
    '/tokens/:id',
    {
      config,
      schema: {
        operationId: 'revokeApiToken',
        tags,
        summary: 'Revoke one of your API tokens; it stops working on the next request',
        description: 'Its open live streams end within a second. Console sign-in only.',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...errors(404) },
      },
    },
    async (request, reply) => {
      await tokens.revokeOwn(principalOf(request).userId, request.params.id)
      return reply.code(204).send(null)
    },
  )
}
