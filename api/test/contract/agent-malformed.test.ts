import t from 'tap'
import { operations, type OperationRef } from '../helpers/contract.ts'
import { setupApp } from '../helpers/app.ts'
import { joinAgent } from '../helpers/agent.ts'

/**
 * The agent operations with a real agent token (the general walker stops at 401 for them):
 * malformed ids, query values, JSON, types, unknown and missing fields, oversize bodies and the
 * wrong content type are a 4xx ErrorResponse, never a 5xx. Responses are contract-checked.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr')
const { data: session } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Malformed' } })
const agent = await joinAgent(h, session!.number)
const someId = '00000000-0000-4000-8000-000000000000'

type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema>; required?: string[]; additionalProperties?: boolean; enum?: unknown[] }
const agentOps = operations.filter((op) => op.operation.security?.[0]?.agentToken)
const url = (op: OperationRef, id = someId) => op.path.replace(/\{[^}]+\}/g, id)
const body = (op: OperationRef) => op.operation.requestBody?.content['application/json']?.schema as JsonSchema | undefined
/** Bigger than any agent route's body limit (5 MiB for system information). */
const HUGE = 5 * 1024 * 1024 + 1024

function wrong(schema: JsonSchema): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  if (type === 'string' || schema.enum) return { not: 'a string' }
  if (type === 'integer' || type === 'number' || type === 'boolean') return 'not-a-number'
  if (type === 'array') return 'not-an-array'
  return 12345
}

t.ok(agentOps.length >= 6, 'the agent operations are in the contract')
for (const op of agentOps) {
  const method = op.method.toUpperCase() as 'GET'
  t.test(`${op.operation.operationId} with an agent token`, async (t) => {
    const expect4xx = (status: number, raw: string, what: string) => {
      t.ok(status >= 400 && status < 500, `${what}: 4xx (got ${status})`)
      t.equal(typeof (JSON.parse(raw) as { code?: unknown }).code, 'string', `${what}: has a code`)
    }
    if (op.path.includes('{')) {
      const res = await h.inject({ method, url: url(op, 'not-a-uuid'), token: agent.token, payload: body(op) ? {} : undefined })
      expect4xx(res.statusCode, res.body, 'malformed id')
    }
    const query = (op.operation.parameters ?? []).filter((p) => p.in === 'query')
    if (query.length > 0) {
      const unknown = await h.inject({ method, url: `${url(op)}?noSuchParam=1`, token: agent.token })
      expect4xx(unknown.statusCode, unknown.body, 'unknown query parameter')
      for (const p of query) {
        const res = await h.inject({ method, url: `${url(op)}?${p.name}=not-a-number`, token: agent.token })
        expect4xx(res.statusCode, res.body, `query ${p.name}`)
      }
    }
    const schema = body(op)
    if (!schema) return
    const send = (payload: string, contentType = 'application/json') =>
      h.inject({ method, url: url(op), token: agent.token, payload, headers: { 'content-type': contentType } })
    const invalid = await send('{"unterminated": ')
    expect4xx(invalid.statusCode, invalid.body, 'invalid JSON')
    t.equal((await send('hello', 'text/plain')).statusCode, 415, 'wrong content type')
    t.equal((await send(JSON.stringify({ pad: 'x'.repeat(HUGE) }))).statusCode, 413, 'over the body limit')
    const notObject = await send('[]')
    expect4xx(notObject.statusCode, notObject.body, 'array instead of object')
    const unknownField = await send(JSON.stringify({ noSuchField: 1 }))
    expect4xx(unknownField.statusCode, unknownField.body, 'unknown field')
    if (schema.required?.length) {
      const res = await send('{}')
      expect4xx(res.statusCode, res.body, 'missing fields')
    }
    for (const [field, s] of Object.entries(schema.properties ?? {})) {
      const res = await send(JSON.stringify({ [field]: wrong(s) }))
      expect4xx(res.statusCode, res.body, `wrong type for ${field}`)
    }
  })
}

t.test('a user token is not an agent token, nor the other way round', async (t) => {
  const res = await h.inject({ method: 'GET', url: '/api/v1/agent/poll', token: csr.token })
  t.equal(res.statusCode, 401)
  const back = await h.inject({ method: 'GET', url: '/api/v1/sessions', token: agent.token })
  t.equal(back.statusCode, 401)
})
