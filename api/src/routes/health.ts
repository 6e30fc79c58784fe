import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { RETRY_AFTER_SECONDS } from '../errors.ts'
import { ref, retryAfterHeader } from '../schemas/common.ts'
import { Health } from '../schemas/accounts.ts'
import { version } from '../version.ts'

/** Leaves the rest of the second for the request itself: /health answers within one second. */
const PING_TIMEOUT_MS = 700

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
        response: { 200: ref(Health), 503: { ...ref(Health), description: 'The database is unreachable or did not answer within the second', headers: retryAfterHeader } },
      },
    },
    async (request, reply) => {
      // A database that does not answer in time is down as far as a health check (and the
      // load balancer waiting on it) is concerned; the ping itself carries on in the background.
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)))
      const answered = app.database.ping().then(
        () => true,
        (err: unknown) => {
          request.log.warn({ err }, 'database ping failed')
          return false
        },
      )
      const up = await Promise.race([answered, late]).finally(() => clearTimeout(timer))
      if (!up) void reply.header('retry-after', String(RETRY_AFTER_SECONDS))
      return reply.code(up ? 200 : 503).send({
        status: up ? 'ok' : 'degraded',
        database: up ? 'up' : 'down',
        driver: app.database.driver,
        version,
      })
    },
  )
}
