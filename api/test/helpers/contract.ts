import { createHash } from 'node:crypto'
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { parse } from 'yaml'

/**
 * An independent check of every response the tests see: the body must match the schema that
 * the committed openapi.yaml documents for that operation and status (Ajv on the document
 * itself, not fastify's schemas). Each (operation, status) seen is recorded for the coverage
 * meta-test.
 */
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

export const specPath = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url))
export const coverageDir = process.env.HELPLINE_COVERAGE_DIR ?? fileURLToPath(new URL('../../../.tap/contract-coverage', import.meta.url))

interface Operation {
  operationId: string
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
  parameters?: { in: string; name: string; required?: boolean; schema: Record<string, unknown> }[]
  security?: Record<string, string[]>[]
}
export interface Spec {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

/**
 * openapi.yaml, parsed. Nearly every test process imports this module, and parsing the ~370 KB
 * of YAML costs ~0.7 s of CPU each time, JSON.parse of the same document ~15 ms: the first
 * process to need it writes it as JSON to a file keyed by the YAML's hash (a temporary name
 * renamed into place, so racing processes never read half a file); the others read that.
 */
function loadSpec(): Spec {
  const text = readFileSync(specPath, 'utf8')
  const cached = join(tmpdir(), `helpline-openapi-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`)
  if (existsSync(cached)) return JSON.parse(readFileSync(cached, 'utf8')) as Spec
  const parsed = parse(text) as Spec
  const partial = `${cached}.${process.pid}.tmp`
  writeFileSync(partial, JSON.stringify(parsed))
  renameSync(partial, cached)
  return parsed
}

export const spec = loadSpec()
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }))
ajv.addSchema(spec as object, 'openapi')

const methods = ['get', 'post', 'put', 'patch', 'delete']
export interface OperationRef {
  method: string
  path: string
  operation: Operation
  matcher: RegExp
}
export const operations: OperationRef[] = Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => methods.includes(method))
    .map(([method, operation]) => ({
      method,
      path,
      operation,
      matcher: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    })),
)

export function findOperation(method: string, url: string): OperationRef | undefined {
  const path = url.split('?')[0]!
  const m = method.toLowerCase()
  const candidates = operations.filter((o) => o.method === m && o.matcher.test(path))
  // A literal segment beats a parameter: /users/me over /users/{id}.
  return candidates.sort((a, b) => (a.path.match(/\{/g)?.length ?? 0) - (b.path.match(/\{/g)?.length ?? 0))[0]
}

const pointer = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1')
const validators = new Map<string, ReturnType<typeof ajv.compile>>()

export interface Checked {
  operationId: string
  problems: string[]
}

/** Checks one response against the committed contract; returns what does not conform. */
export function checkResponse(method: string, url: string, status: number, contentType: string | undefined, body: string): Checked | undefined {
  const op = findOperation(method, url)
  if (!op) return undefined
  const problems: string[] = []
  const documented = op.operation.responses[String(status)]
  record(op.operation.operationId, status)
  if (!documented) {
    problems.push(`${op.operation.operationId}: status ${status} is not documented (body: ${body.slice(0, 300)})`)
    return { operationId: op.operation.operationId, problems }
  }
  const media = documented.content
  if (!media) {
    if (body.length > 0) problems.push(`${op.operation.operationId} ${status}: documented without a body, got ${body.slice(0, 100)}`)
    return { operationId: op.operation.operationId, problems }
  }
  const type = (contentType ?? '').split(';')[0]!.trim()
  if (!media[type]) {
    problems.push(`${op.operation.operationId} ${status}: content type ${type} not documented (${Object.keys(media).join(', ')})`)
  } else if (type === 'application/json') {
    const key = `openapi#/paths/${pointer(op.path)}/${op.method}/responses/${status}/content/${pointer(type)}/schema`
    let validate = validators.get(key)
    if (!validate) {
      validate = ajv.compile({ $ref: key })
      validators.set(key, validate)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      problems.push(`${op.operation.operationId} ${status}: body is not JSON`)
    }
    if (parsed !== undefined && !validate(parsed)) {
      problems.push(`${op.operation.operationId} ${status}: ${ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`)
    }
  }
  return { operationId: op.operation.operationId, problems }
}

let coverageFile: string | undefined
function record(operationId: string, status: number) {
  if (!coverageFile) {
    mkdirSync(coverageDir, { recursive: true })
    coverageFile = `${coverageDir}/${process.pid}-${Date.now()}.jsonl`
  }
  appendFileSync(coverageFile, `${JSON.stringify({ operationId, status })}\n`)
}
