import t from 'tap'
import { setupApp } from '../helpers/app.ts'

t.test('health reports the database', async (t) => {
  const h = await setupApp(t)
  const up = await h.inject({ url: '/health' })
  t.equal(up.statusCode, 200)
  t.match(up.json(), { status: 'ok', database: 'up' })
  t.equal(String(up.headers['x-request-id']).length, 36, 'every response carries its request id')
  t.ok(up.headers['x-content-type-options'], 'security headers are set')

  await h.db.database.close()
  const down = await h.inject({ url: '/health' })
  t.equal(down.statusCode, 503, 'an unreachable database is a 503')
  t.match(down.json(), { status: 'degraded', database: 'down' })
})

t.test('unknown routes get the error shape', async (t) => {
  const h = await setupApp(t)
  const res = await h.app.inject({ url: '/api/v1/nope' })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'ROUTE_NOT_FOUND')
})
