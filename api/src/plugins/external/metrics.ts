import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { FastifyInstance, onRequestHookHandler, onResponseHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { unauthorized } from '../../errors.ts'
import { createMetrics, type Metrics } from '../../lib/metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Undefined when metrics are off (neither METRICS_TOKEN nor METRICS_PORT set). */
    metrics: Metrics | undefined
    /** The separate metrics listener, when METRICS_PORT is set (tests read its port). */
    metricsServer?: Server
  }
}

/** The routes whose open requests are gauges rather than just durations. */
const POLL_ROUTE = '/api/v1/agent/poll'
const STREAM_ROUTE = '/api/v1/sessions/:id/stream'

const digest = (text: string) => createHash('sha256').update(text).digest()

/** Whether the request carries `Bearer <token>`; compared in constant time. */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer (\S+)$/i.exec(header ?? '')
  return m !== null && timingSafeEqual(digest(m[1]!), expected)
}

/**
 * Prometheus metrics (lib/metrics.ts) at `GET /metrics`, in one of two ways an operator chooses:
 * - METRICS_PORT set: on that port only (METRICS_HOST, default 127.0.0.1), a listener of its own
 *   that nobody outside the monitoring network reaches; METRICS_TOKEN, when also set, is required there too;
 * - else METRICS_TOKEN set: on the API's own port, with `Authorization: Bearer <METRICS_TOKEN>` (401 without).
 * Neither set: no metrics, nothing collected. `/metrics` is not in openapi.yaml: it is the
 * operator's endpoint with its own credential and Prometheus's text format, not part of the API
 * integrators program against (docs/deployment.md documents it).
 */
export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const { METRICS_TOKEN: token, METRICS_PORT: port, METRICS_HOST: host } = app.config
    if (!token && port === undefined) {
      app.decorate('metrics', undefined)
      return
    }
    const metrics = createMetrics(app.database, app.notifier, { poolMax: app.database.driver === 'postgres' ? app.config.DATABASE_POOL_MAX : 1, instance: randomUUID() })
    app.decorate('metrics', metrics)
    const expected = token ? digest(token) : undefined

    // Per route, worked out when the route registers: a fleet's polls pay no lookup of their
    // route, nor prom-client's label hashing (one child series per status, made on first use).
    const observer = (method: string, route: string) => {
      const byStatus = new Map<number, ReturnType<Metrics['httpDuration']['labels']>>()
      return (statusCode: number, seconds: number) => {
        let series = byStatus.get(statusCode)
        if (!series) byStatus.set(statusCode, (series = metrics.httpDuration.labels({ method, route, status: String(statusCode) })))
        series.observe(seconds)
      }
    }
    app.addHook('onRoute', (route) => {
      const gauge = route.url === POLL_ROUTE ? metrics.pollsHeld : route.url === STREAM_ROUTE ? metrics.streamsOpen : undefined
      if (gauge) {
        const count: onRequestHookHandler = (_request, reply, done) => {
          gauge.inc()
          // 'close' comes for every response, also when the client hung up first.
          reply.raw.once('close', () => gauge.dec())
          done()
        }
        route.onRequest = [count, ...(route.onRequest ? [route.onRequest].flat() : [])]
      }
      for (const method of [route.method].flat()) {
        const observe = observer(method, route.url)
        const timed: onResponseHookHandler = (request, reply, done) => {
          if (request.method === method) observe(reply.statusCode, reply.elapsedTime / 1000)
          done()
        }
        route.onResponse = [...(route.onResponse ? [route.onResponse].flat() : []), timed]
      }
    })
    // Unmatched URLs share one label: a scanner must not mint a time series per path it tries.
    const unmatched = new Map<string, ReturnType<typeof observer>>()
    app.addHook('onResponse', (request, reply, done) => {
      if (request.is404) {
        let observe = unmatched.get(request.method)
        if (!observe) unmatched.set(request.method, (observe = observer(request.method, 'unmatched')))
        observe(reply.statusCode, reply.elapsedTime / 1000)
      }
      done()
    })
    app.addHook('onError', async (_request, _reply, err) => metrics.noteError(err))
    app.addHook('onClose', async () => metrics.close())

    const scrape = async () => ({ type: metrics.registry.contentType, body: await metrics.registry.metrics() })

    if (port !== undefined) {
      const server = metricsServer(scrape, expected)
      app.addHook('onReady', async () => {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, host, () => resolve())
        })
        const address = server.address()
        app.log.info({ address }, 'metrics listening')
      })
      app.addHook('onClose', async () => {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      })
      app.decorate('metricsServer', server)
      return
    }

    app.get('/metrics', { config: { auth: 'public' }, schema: { hide: true } }, async (request, reply) => {
      if (!bearerMatches(request.headers.authorization, expected!)) {
        void reply.header('www-authenticate', 'Bearer realm="metrics"')
        throw unauthorized('METRICS_TOKEN_REQUIRED', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>')
      }
      const { type, body } = await scrape()
      return reply.type(type).header('cache-control', 'no-store').send(body)
    })
  },
  { name: 'metrics', dependencies: ['database', 'notifier'] },
)

/** The listener on METRICS_PORT: GET /metrics, nothing else. */
function metricsServer(scrape: () => Promise<{ type: string; body: string }>, expected: Buffer | undefined): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0]
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    if (expected && !bearerMatches(request.headers.authorization, expected)) {
      response.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' }).end('unauthorized\n')
      return
    }
    scrape().then(
      ({ type, body }) => response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    )
  })
}
