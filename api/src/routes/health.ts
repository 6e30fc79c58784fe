import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ref } from '../schemas/common.ts'
import { Health } from '../schemas/accounts.ts'
import { version } from '../version.ts'

export default async function healthRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/health',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'getHealth',
        tags: ['system'],
        summary: 'Service health, including the database',
        response: { 200: ref(Health), 503: { ...ref(Health), description: 'The database is unreachable' } },
      },
    },
    async (request, reply) => {
      const up = await app.database.ping().then(
        () => true,
        (err: unknown) => {
          request.log.warn({ err }, 'database ping failed')
          return false
        },
      )
      return reply.code(up ? 200 : 503).send({
        status: up ? 'ok' : 'degraded',
        database: up ? 'up' : 'down',
        driver: app.database.driver,
        version,
      })
    },
  )
}
