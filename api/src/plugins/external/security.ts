import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import { tooManyRequests } from '../../errors.ts'

/** Security headers everywhere and rate limits where a route asks for them. */
export default fp(
  async function security(app: FastifyInstance) {
    await app.register(helmet, {
      contentSecurityPolicy: {
        directives: {
          // Swagger UI and the console use inline styles; scripts stay same-origin only.
          'style-src': ["'self'", "'unsafe-inline'"],
          'img-src': ["'self'", 'data:', 'blob:'],
        },
      },
    })
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: (_request, context) =>
        tooManyRequests(`Too many attempts; try again in ${context.after}`, Math.ceil(context.ttl / 1000)),
    })
  },
  { name: 'security' },
)
