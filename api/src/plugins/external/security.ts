import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import rateLimit from '@fastify/rate-limit'
import { tooManyRequests } from '../../errors.ts'

const HELMET: HelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      // Swagger UI and the console use inline styles; scripts stay same-origin only.
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'data:', 'blob:'],
    },
  },
}

/**
 * Helmet's headers, worked out once: they depend on nothing in the request. (@fastify/helmet
 * built a helmet middleware again for every request, CSP parsing included, which a fleet's
 * polls paid thousands of times a second.)
 */
export function securityHeaders(options: HelmetOptions = HELMET): { set: Record<string, string>; removed: string[] } {
  const set: Record<string, string> = {}
  const removed: string[] = []
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      set[name.toLowerCase()] = String(value)
    },
    removeHeader: (name: string) => {
      delete set[name.toLowerCase()]
      removed.push(name.toLowerCase())
    },
  }
  // helmet only sets and removes headers on the response (no directive here reads the request).
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err
  })
  return { set, removed }
}

/** Security headers everywhere and rate limits where a route asks for them. */
export default fp(
  async function security(app: FastifyInstance) {
    const { set } = securityHeaders()
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(set)
      done()
    })
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: (_request, context) =>
        tooManyRequests(`Too many attempts; try again in ${context.after}`, Math.ceil(context.ttl / 1000)),
    })
  },
  { name: 'security' },
)
