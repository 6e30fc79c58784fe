import t from 'tap'
import Fastify from 'fastify'
import { Type } from 'typebox'
import contract from '../../src/plugins/app/contract.ts'

/** A route missing any part of the contract must stop the server from starting. */
async function boot(route: Record<string, unknown>) {
  const app = Fastify({ logger: false })
  await app.register(contract)
  app.route({ method: 'GET', url: '/api/v1/thing', handler: async () => ({}), ...route })
  await app.ready()
  await app.close()
}

const ok = {
  config: { auth: 'user' as const },
  schema: { operationId: 'getThing', tags: ['x'], summary: 'A thing', response: { 200: Type.Object({}) } },
}

t.test('a complete route boots', async (t) => {
  await t.resolves(boot(ok))
})

const cases: [string, Record<string, unknown>, RegExp][] = [
  ['no auth policy', { ...ok, config: {} }, /no auth policy/],
  ['no operationId', { ...ok, schema: { ...ok.schema, operationId: undefined } }, /no operationId/],
  ['no summary', { ...ok, schema: { ...ok.schema, summary: undefined } }, /no summary/],
  ['no tags', { ...ok, schema: { ...ok.schema, tags: [] } }, /no tags/],
  ['no responses', { ...ok, schema: { ...ok.schema, response: undefined } }, /no success response/],
  ['only error responses', { ...ok, schema: { ...ok.schema, response: { 404: Type.Object({}) } } }, /no success response/],
  ['no schema', { config: { auth: 'public' }, schema: undefined }, /no schema/],
  ['hidden API route', { ...ok, schema: { hide: true } }, /hide is not allowed/],
]
for (const [name, route, error] of cases) {
  t.test(`refused: ${name}`, async (t) => {
    await t.rejects(boot(route), error)
  })
}

t.test('refused: the same operationId twice', async (t) => {
  const app = Fastify({ logger: false })
  await app.register(contract)
  app.route({ method: 'GET', url: '/api/v1/a', handler: async () => ({}), ...ok })
  t.throws(() => app.route({ method: 'GET', url: '/api/v1/b', handler: async () => ({}), ...ok }), /used twice/)
  await app.close()
})
