import t from 'tap'
import { operations, type OperationRef } from '../helpers/contract.ts'
import { setupApp } from '../helpers/app.ts'

/**
 * For every operation in openapi.yaml: anonymous callers get 401, the wrong role 403, and
 * malformed input (invalid JSON, wrong types, missing or unknown fields, oversize strings,
 * bad path and query values, wrong content type, huge bodies) a 4xx ErrorResponse — never a
 * 5xx. Each response is also checked against the contract by the helper.
 */
const h = await setupApp(t)
const csr = await h.createUser('csr')
const someId = '00000000-0000-4000-8000-000000000000'

type JsonSchema = {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean
  maxLength?: number
  enum?: unknown[]
  anyOf?: JsonSchema[]
  $ref?: string
}

const url = (op: OperationRef, id = someId) => op.path.replace(/\{[^}]+\}/g, id)
const requirement = (op: OperationRef) => op.operation.security?.[0]
const isAgentOp = (op: OperationRef) => Boolean(requirement(op)?.agentToken)
/** A token that passes authentication for this operation, so validation is what answers. */
const tokenFor = (op: OperationRef) => (isAgentOp(op) ? undefined : h.admin.token)
const jsonBody = (op: OperationRef) => op.operation.requestBody?.content['application/json']?.schema as JsonSchema | undefined

function wrongValue(schema: JsonSchema): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  if (type === 'string' || schema.enum || schema.anyOf) return { not: 'a string' }
  if (type === 'integer' || type === 'number' || type === 'boolean') return 'not-a-number'
  if (type === 'array') return 'not-an-array'
  return 12345
}

function expect4xx(t: { ok: (v: unknown, m: string) => void; equal: (a: unknown, b: unknown, m: string) => void }, status: number, body: string, what: string) {
  t.ok(status >= 400 && status < 500, `${what}: 4xx (got ${status})`)
  if (status >= 400) {
    const parsed = JSON.parse(body) as { code?: unknown; statusCode?: unknown }
    t.equal(typeof parsed.code, 'string', `${what}: has a stable code`)
    t.equal(parsed.statusCode, status, `${what}: statusCode matches`)
  }
}

for (const op of operations) {
  const name = `${op.operation.operationId} (${op.method.toUpperCase()} ${op.path})`
  const method = op.method.toUpperCase() as 'GET'
  const secured = (op.operation.security ?? []).length > 0

  t.test(name, async (t) => {
    if (secured) {
      const anon = await h.inject({ method, url: url(op), payload: jsonBody(op) ? {} : undefined })
      t.equal(anon.statusCode, 401, 'anonymous caller gets 401')
      const bogus = await h.inject({ method, url: url(op), token: 'hls_definitely-not-a-real-token-value' })
      t.equal(bogus.statusCode, 401, 'an unknown token gets 401')
    }
    if (requirement(op)?.bearerAuth?.includes('role:admin')) {
      const res = await h.inject({ method, url: url(op), token: csr.token, payload: jsonBody(op) ? {} : undefined })
      t.equal(res.statusCode, 403, 'a CSR gets 403')
    }
    if (isAgentOp(op)) {
      const res = await h.inject({ method, url: url(op), token: csr.token })
      t.equal(res.statusCode, 401, 'a user token is not an agent token')
      return // the agent suite covers malformed agent input with real agent tokens
    }

    const token = tokenFor(op)
    if (op.path.includes('{')) {
      const res = await h.inject({ method, url: url(op, 'not-a-uuid'), token, payload: jsonBody(op) ? {} : undefined })
      expect4xx(t, res.statusCode, res.body, 'malformed path id')
    }
    const query = (op.operation.parameters ?? []).filter((p) => p.in === 'query')
    if (query.length > 0) {
      const unknown = await h.inject({ method, url: `${url(op)}?noSuchParam=1`, token })
      expect4xx(t, unknown.statusCode, unknown.body, 'unknown query parameter')
      for (const p of query) {
        const bad = wrongValue(p.schema as JsonSchema)
        if (typeof bad !== 'string') continue
        const res = await h.inject({ method, url: `${url(op)}?${p.name}=${encodeURIComponent(bad)}`, token })
        expect4xx(t, res.statusCode, res.body, `query ${p.name}=${bad}`)
      }
    }

    const body = jsonBody(op)
    if (!body) return
    const send = (payload: string, contentType = 'application/json') =>
      h.inject({ method, url: url(op), token, payload, headers: { 'content-type': contentType } })

    const invalid = await send('{"unterminated": ')
    expect4xx(t, invalid.statusCode, invalid.body, 'invalid JSON')
    t.equal(invalid.json().code, 'INVALID_JSON')
    const textPlain = await send('hello', 'text/plain')
    t.equal(textPlain.statusCode, 415, 'wrong content type gets 415')
    const huge = await send(JSON.stringify({ pad: 'x'.repeat(1_100_000) }))
    t.equal(huge.statusCode, 413, 'a body over the limit gets 413')
    const notObject = await send('[]')
    expect4xx(t, notObject.statusCode, notObject.body, 'array instead of object')

    if (body.additionalProperties === false) {
      const res = await send(JSON.stringify({ noSuchField: 1 }))
      expect4xx(t, res.statusCode, res.body, 'unknown field')
    }
    if (body.required?.length) {
      const res = await send('{}')
      expect4xx(t, res.statusCode, res.body, 'missing required fields')
      t.ok(Object.keys(res.json().errors ?? {}).length > 0, 'missing fields are named')
    }
    for (const [field, schema] of Object.entries(body.properties ?? {})) {
      const wrong = await send(JSON.stringify({ [field]: wrongValue(schema) }))
      expect4xx(t, wrong.statusCode, wrong.body, `wrong type for ${field}`)
      if (schema.maxLength !== undefined) {
        const long = await send(JSON.stringify({ [field]: 'a'.repeat(schema.maxLength + 1) }))
        expect4xx(t, long.statusCode, long.body, `oversize ${field}`)
      }
    }
  })
}
