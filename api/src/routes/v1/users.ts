import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { User, UserCreate, UserList, UserListQuery, UserUpdate } from '../../schemas/accounts.ts'
import { errors, IdParams, paging, ref } from '../../schemas/common.ts'
import { principalOf } from '../../plugins/app/auth.ts'
import { toUser } from '../../services/accounts.service.ts'

export default async function userRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { accounts } = app.services
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
        description: '422 WEAK_PASSWORD; CONTROL_CHARACTERS: the name holds control or bidi override characters (agents show it to customers).',
        body: UserCreate,
        response: { 201: ref(User), ...errors(409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await accounts.create(request.body)),
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
        description: '422 WEAK_PASSWORD; CONTROL_CHARACTERS: the name holds control or bidi override characters (agents show it to customers).',
        params: IdParams,
        body: UserUpdate,
        response: { 200: ref(User), ...errors(404, 409, 422) },
      },
    },
    async (request) => accounts.update(principalOf(request).userId, request.params.id, request.body),
  )

  app.post(
    '/users/:id/disable',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'disableUser',
        tags,
        summary: 'Disable a user: they can no longer sign in and their tokens stop working',
        description: 'Refused for your own account (CANNOT_DISABLE_SELF) and for the last active site admin (LAST_ADMIN).',
        params: IdParams,
        response: { 200: ref(User), ...errors(404, 409) },
      },
    },
    async (request) => accounts.setDisabled(principalOf(request).userId, request.params.id, true),
  )

  app.post(
    '/users/:id/enable',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'enableUser',
        tags,
        summary: 'Re-enable a disabled user',
        params: IdParams,
        response: { 200: ref(User), ...errors(404) },
      },
    },
    async (request) => accounts.setDisabled(principalOf(request).userId, request.params.id, false),
  )
}
