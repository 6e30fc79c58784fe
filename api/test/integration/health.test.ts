import { sql } from 'drizzle-orm'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { setupApp } from '../helpers/app.ts'

// One app for the file; the last test closes its database.
const h = await setupApp(t)

t.test('health reports the database', async (t) => {
  const up = await h.inject({ url: '/health' })
  t.equal(up.statusCode, 200)
  t.match(up.json(), { status: 'ok', database: 'up' })
  t.equal(String(up.headers['x-request-id']).length, 36, 'every response carries its request id')
  t.ok(up.headers['x-content-type-options'], 'security headers are set')
})

t.test('a database that does not answer: health says down within a second, with Retry-After', async (t) => {
  const ping = h.app.database.ping
  // A ping that never answers, like a connection whose packets are dropped.
  h.app.database.ping = () => new Promise(() => {})
  t.teardown(() => {
    h.app.database.ping = ping
  })
  const started = Date.now()
  const res = await h.inject({ url: '/health' })
  const took = Date.now() - started
  t.equal(res.statusCode, 503)
  t.match(res.json(), { status: 'degraded', database: 'down' })
  t.ok(took < 1000, `answered in ${took} ms`)
  t.match(res.headers['retry-after'], /^\d+$/)
})

t.test('database timeouts come from the configuration, checked at start', async (t) => {
  // PGlite answers { rows }, postgres.js the rows themselves.
  const result = (await h.app.database.db.execute(sql`show statement_timeout`)) as unknown as { rows?: unknown[] } & unknown[]
  const rows = (result.rows ?? result) as { statement_timeout: string }[]
  t.equal(rows[0]!.statement_timeout, '15s', 'every statement is bounded (15 s by default)')
  t.same([h.config.DATABASE_CONNECT_TIMEOUT_SECONDS, h.config.DATABASE_STATEMENT_TIMEOUT_MS], [5, 15_000], 'defaults')
  t.throws(
    () => loadConfig({ DATABASE_CONNECT_TIMEOUT_SECONDS: '0', DATABASE_STATEMENT_TIMEOUT_MS: 'soon' }),
    /DATABASE_CONNECT_TIMEOUT_SECONDS: must be >= 1[\s\S]*DATABASE_STATEMENT_TIMEOUT_MS: must be integer \(got "soon"\)/,
    'a bad value stops the server, naming it',
  )
})

t.test('unknown routes get the error shape', async (t) => {
  const res = await h.app.inject({ url: '/api/v1/nope' })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'ROUTE_NOT_FOUND')
})

t.test('a closed database: health is 503 with the database down', async (t) => {
  await h.db.database.close()
  const down = await h.inject({ url: '/health' })
  t.equal(down.statusCode, 503, 'an unreachable database is a 503')
  t.match(down.json(), { status: 'degraded', database: 'down' })
})
