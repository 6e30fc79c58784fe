import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiTokenList, User, UserCreate, UserList, UserListQuery, UserUpdate } from '../../schemas/accounts.ts'
import { errors, IdParams, listQuery, paging, ref, Uuid } from '../../schemas/common.ts'
import { principalOf } from '../../plugins/app/auth.ts'
import { toUser } from '../../services/accounts.service.ts'
import { forbidden } from '../../errors.ts'

export default async function userRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { accounts, tokens } = app.services
  const tags = ['users']

  app.get(
    '/users',
    {
      config: { auth: 'admin' },
      schema: { operationId: 'listUsers', tags, summary: 'List users', querystring: UserListQuery, response: { 200: ref(UserList) } },
    },
    async (request) => accounts.list({ ...request.query, ...paging(request.query, 'email') }),
  )

  app.post(
    '/users',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'createUser',
        tags,
        summary: 'Create a user',
        description: 'Creating a site admin needs a console sign-in (403 SIGN_IN_REQUIRED for an API token). 422 WEAK_PASSWORD; CONTROL_CHARACTERS: the name holds control or bidi override characters (agents show it to customers).',
        body: UserCreate,
        response: { 201: ref(User), ...errors(409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await accounts.create(request.body, principalOf(request))),
  )

  app.get(
    '/users/:id',
    {
      config: { auth: 'admin' },
      schema: { operationId: 'getUser', tags, summary: 'Get a user', params: IdParams, response: { 200: ref(User), ...errors(404) } },
    },
    async (request) => toUser(await accounts.findRow(request.params.id)),
  )

  app.patch(
    '/users/:id',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'updateUser',
        tags,
        summary: 'Change a user’s email, name, role or password',
        description: [
          'Setting the password ends every sign-in and API token of the user at once (yours stays when you change yourself).',
          'Setting a password or giving the admin role needs a console sign-in (403 SIGN_IN_REQUIRED for an API token).',
          'Removing the admin role from the last active site admin is refused (LAST_ADMIN), also when two admins demote each other at once.',
          '422 WEAK_PASSWORD; CONTROL_CHARACTERS: the name holds control or bidi override characters (agents show it to customers).',
          'With LOCAL_PASSWORDS=off, setting a password is refused (403 LOCAL_PASSWORDS_OFF) except for the break-glass admin.',
        ].join(' '),
        params: IdParams,
        body: UserUpdate,
        response: { 200: ref(User), ...errors(404, 409, 422) },
      },
    },
    async (request) => {
      if (request.body.password !== undefined) {
        const target = await accounts.findRow(request.params.id)
        if (!app.services.auth.passwordAllowed(request.body.email ?? target.email)) {
          throw forbidden('LOCAL_PASSWORDS_OFF', 'Password sign-in is turned off on this server: only the break-glass admin has a password')
        }
      }
      return accounts.update(principalOf(request), request.params.id, request.body)
    },
  )

  app.post(
    '/users/:id/disable',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'disableUser',
        tags,
        summary: 'Disable a user: they can no longer sign in, and every sign-in and API token they have ends at once',
        description:
          'Their open live streams end within a second. Refused for your own account (CANNOT_DISABLE_SELF) and for the last active site admin (LAST_ADMIN), also when two admins disable each other at once.',
        params: IdParams,
        response: { 200: ref(User), ...errors(404, 409) },
      },
    },
    async (request) => accounts.setDisabled(principalOf(request), request.params.id, true),
  )

  app.post(
    '/users/:id/enable',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'enableUser',
        tags,
        summary: 'Re-enable a disabled user',
        description: 'Their sign-ins and API tokens ended when they were disabled stay ended.',
        params: IdParams,
        response: { 200: ref(User), ...errors(404) },
      },
    },
    async (request) => accounts.setDisabled(principalOf(request), request.params.id, false),
  )

  app.get(
    '/users/:id/tokens',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'listUserTokens',
        tags,
        summary: 'A user’s live console sign-ins and API tokens, newest first',
        description: 'With their kind, scopes, last use and the client address of that use.',
        params: IdParams,
        querystring: listQuery(['createdAt']),
        response: { 200: ref(ApiTokenList), ...errors(404) },
      },
    },
    async (request) => tokens.listOf(request.params.id, paging(request.query, 'createdAt')),
  )

  app.delete(
    '/users/:id/tokens/:tokenId',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'revokeUserToken',
        tags,
        summary: 'End one of a user’s sign-ins or API tokens',
        description: 'It stops working on the next request and its open live streams end within a second. Recorded in the site’s audit trail.',
        params: Type.Object({ id: Uuid, tokenId: Uuid }, { additionalProperties: false }),
        response: { 204: Type.Null({ description: 'Revoked' }), ...errors(404) },
      },
    },
    async (request, reply) => {
      await tokens.revokeByAdmin(principalOf(request), request.params.id, request.params.tokenId)
      return reply.code(204).send(null)
    },
  )
}
