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

/**
 * The one header of helmet's set that protects an answer of the agent routes (those opened by an
 * agent token). Those routes answer JSON to a program sending a bearer token, never a page, and
 * a fleet polls them thousands of times a second, so each header is paid for many times over:
 * - kept: `x-content-type-options: nosniff`, so that a browser never reads the JSON (chat text
 *   and script names the customer's side can influence) as HTML or script;
 * - dropped: the content security policy, `x-frame-options`, the cross-origin opener policy,
 *   `origin-agent-cluster`, `referrer-policy`, `x-xss-protection`, `x-dns-prefetch-control` and
 *   `x-download-options` govern a document a browser renders or the links it follows, and a JSON
 *   answer with nosniff is never rendered; `cross-origin-resource-policy` guards answers another
 *   site could load with the visitor's cookies, and these routes take no cookie (a cross-site
 *   load without the bearer token gets a 401); `strict-transport-security` is read by browsers
 *   only, and every other answer of the host (the console's included) carries it; `x-permitted-cross-domain-policies` is for Flash and PDF readers.
 */
export const AGENT_ROUTE_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff' }

/**
 * Security headers everywhere (on the agent routes the one that matters there, see above) and
 * rate limits where a route asks for them.
 */
export default fp(
  async function security(app: FastifyInstance) {
    const { set } = securityHeaders()
    // Global, so it runs before the auth hook: a 401 carries the headers too.
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(request.routeOptions.config?.auth === 'agent' ? AGENT_ROUTE_HEADERS : set)
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
