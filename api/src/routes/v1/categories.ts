import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, IdParams, paging, ref } from '../../schemas/common.ts'
import { ScriptCategory, ScriptCategoryList, ScriptCategoryListQuery, ScriptCategoryWrite } from '../../schemas/scripts.ts'

/** Script categories: everyone lists them, site admins manage them. */
export default async function categoryRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { categories } = app.services
  const tags = ['categories']

  app.get(
    '/script-categories',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'listScriptCategories',
        tags,
        summary: 'List script categories',
        querystring: ScriptCategoryListQuery,
        response: { 200: ref(ScriptCategoryList) },
      },
    },
    async (request) => categories.list({ ...request.query, ...paging(request.query, 'name') }),
  )

  app.get(
    '/script-categories/:id',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'getScriptCategory',
        tags,
        summary: 'Get a script category',
        params: IdParams,
        response: { 200: ref(ScriptCategory), ...errors(404) },
      },
    },
    async (request) => categories.get(request.params.id),
  )

  app.post(
    '/script-categories',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'createScriptCategory',
        tags,
        summary: 'Create a script category',
        description: 'Names are unique ignoring case (NAME_TAKEN). 422 CONTROL_CHARACTERS: the name holds control or bidi override characters.',
        body: ScriptCategoryWrite,
        response: { 201: ref(ScriptCategory), ...errors(409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await categories.create(request.body.name)),
  )

  app.patch(
    '/script-categories/:id',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'renameScriptCategory',
        tags,
        summary: 'Rename a script category',
        description: '422 CONTROL_CHARACTERS: the name holds control or bidi override characters.',
        params: IdParams,
        body: ScriptCategoryWrite,
        response: { 200: ref(ScriptCategory), ...errors(404, 409, 422) },
      },
    },
    async (request) => categories.rename(request.params.id, request.body.name),
  )

  app.delete(
    '/script-categories/:id',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'deleteScriptCategory',
        tags,
        summary: 'Delete a script category that no script uses',
        description: 'Refused with 409 CATEGORY_IN_USE while scripts in the library use it.',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(404, 409) },
      },
    },
    async (request, reply) => {
      await categories.delete(request.params.id)
      return reply.code(204).send(null)
    },
  )
}
