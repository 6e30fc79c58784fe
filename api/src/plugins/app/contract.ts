import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { Ajv, type Options as AjvOptions, type ValidateFunction } from 'ajv'
import type { TSchema } from 'typebox'
import addFormatsModule from 'ajv-formats'
import { ref, retryAfterHeader } from '../../schemas/common.ts'
import { ErrorResponse, reasonPhrase } from '../../errors.ts'
import { requiredScope, securityRoles, type Scope } from '../../lib/scopes.ts'

/** Who may call a route. Declared on every route; a route without one does not register. */
export type AuthPolicy =
  | 'public' // anyone, no credentials
  | 'user' // any signed-in user or API token (admin or csr)
  | 'admin' // site admins only
  | 'agent' // a customer's agent, with its agent token

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthPolicy
    /** Extra statuses the route may answer that the contract adds for it (e.g. 429 when rate limited). */
    rateLimited?: boolean
    /**
     * A multipart/form-data body the route streams and checks itself (file uploads). It is
     * documented as the request body but fastify neither buffers nor validates it.
     */
    multipart?: TSchema
    /**
     * The scope an API token needs, when not the default (lib/scopes.ts: admin routes `admin`,
     * other GETs `read`, other methods `sessions`); `null`: any credential of the user.
     */
    scope?: Scope | null
    /** Only a console sign-in may call it; API tokens get 403 SIGN_IN_REQUIRED whatever their scopes. */
    signInOnly?: boolean
    /** Still open to a user who must first set up two-factor sign-in (the site requires it). */
    beforeTwoFactor?: boolean
  }
}

/** The scope a user or admin route requires, as declared or derived; both the contract and the auth hook use it. */
export function routeScope(route: Pick<RouteOptions, 'method' | 'config'>): Scope | null {
  const auth = route.config?.auth
  if (auth !== 'user' && auth !== 'admin') return null
  return requiredScope(String(route.method), auth, route.config?.scope)
}

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const baseAjv: AjvOptions = {
  allErrors: false,
  useDefaults: true,
  removeAdditional: false,
  allowUnionTypes: true,
  strict: false,
}
// Bodies are JSON, so a wrong type is the client's mistake and must be refused, not coerced.
const bodyAjv = addFormats(new Ajv({ ...baseAjv, coerceTypes: false }))
// Query strings, params and headers are always text: coerce "5" to 5, "true" to true.
const textAjv = addFormats(new Ajv({ ...baseAjv, coerceTypes: 'array' }))

/** A JSON body's validator, as the contract compiles it (for a route that checks part of its body itself). */
export function compileBodyValidator(schema: TSchema): ValidateFunction {
  return bodyAjv.compile(schema)
}

/** For text a route parses itself (multipart form fields): coerced from text like a query string. */
export function compileTextValidator(schema: TSchema): ValidateFunction {
  return textAjv.compile(schema)
}

const errorRef = ref(ErrorResponse)
const description: Record<number, string> = {
  400: 'The request is malformed or fails validation',
  401: 'Missing, invalid or expired credentials',
  403: 'Not allowed: FORBIDDEN (role), SCOPE_REQUIRED or SIGN_IN_REQUIRED (see the security requirement), TOTP_ENROLLMENT_REQUIRED (set up two-factor sign-in first), or a rule of the operation',
  413: 'The request body is too large',
  415: 'Unsupported content type',
  429: 'Too many requests; see Retry-After',
  500: 'Unexpected server error (details are logged with the request id)',
  503: 'The database is unavailable for now; try again after Retry-After seconds (code SERVICE_UNAVAILABLE)',
}

function addError(response: Record<string, unknown>, status: number) {
  if (response[status] !== undefined) return
  response[status] = { ...errorRef, description: description[status], ...(status === 429 || status === 503 ? { headers: retryAfterHeader } : {}) }
}

/**
 * Enforces the route contract at registration: a visible route without operationId, tags,
 * summary, responses or an authorisation policy makes the server refuse to start. It then adds
 * the error responses every route of that kind can give (400, 401/403, 413/415, 500, 503), so the
 * spec always describes them.
 */
function checkRoute(route: RouteOptions, operationIds: Set<string>) {
  if (route.method === 'HEAD' || (Array.isArray(route.method) && route.method.includes('HEAD'))) return
  const schema = route.schema as Record<string, unknown> | undefined
  const where = `${String(route.method)} ${route.url}`
  if (schema?.hide === true) {
    if (route.url.startsWith('/api/')) throw new Error(`${where}: API routes must be in the contract (hide is not allowed)`)
    return
  }
  if (!schema) throw new Error(`${where}: route has no schema`)
  const auth = route.config?.auth
  if (!auth) throw new Error(`${where}: route declares no auth policy (config.auth)`)
  for (const key of ['operationId', 'summary'] as const) {
    if (typeof schema[key] !== 'string' || !(schema[key] as string).length) throw new Error(`${where}: route has no ${key}`)
  }
  if (!Array.isArray(schema.tags) || schema.tags.length === 0) throw new Error(`${where}: route has no tags`)
  const response = schema.response as Record<string, unknown> | undefined
  if (!response || !Object.keys(response).some((s) => s.startsWith('2') || s.startsWith('3'))) {
    throw new Error(`${where}: route declares no success response`)
  }
  const operationId = schema.operationId as string
  if (operationIds.has(operationId)) throw new Error(`${where}: operationId ${operationId} is used twice`)
  operationIds.add(operationId)

  const body = schema.body ?? route.config?.multipart
  if (body || schema.querystring || schema.params) addError(response, 400)
  if (body) {
    addError(response, 413)
    addError(response, 415)
  }
  if (auth === 'agent') {
    addError(response, 401)
    schema.security = [{ agentToken: [] }]
  } else if (auth !== 'public') {
    addError(response, 401)
    const scope = routeScope(route)
    const signInOnly = route.config?.signInOnly === true
    // OpenAPI 3.1 lets a bearer requirement list the roles it needs; clients and tests read it.
    schema.security = [{ bearerAuth: securityRoles(auth, scope, signInOnly) }]
    // A wrong role, a missing scope, a token where a sign-in is needed, or two-factor set-up first.
    if (auth === 'admin' || scope || signInOnly || !route.config?.beforeTwoFactor) addError(response, 403)
  } else {
    schema.security = []
  }
  if (route.config?.rateLimited) addError(response, 429)
  addError(response, 500)
  // Every route reads or writes the database (or reports on it, like /health).
  addError(response, 503)
  for (const [status, entry] of Object.entries(response)) {
    if (entry && typeof entry === 'object' && !('description' in entry)) {
      response[status] = { ...entry, description: successDescription[status] ?? reasonPhrase(Number(status)) }
    }
  }
}

const successDescription: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' }

export default fp(
  async function contract(app: FastifyInstance) {
    // The contract references ErrorResponse from every route, so it registers it.
    app.addSchema(ErrorResponse)
    const operationIds = new Set<string>()
    app.addHook('onRoute', (route) => checkRoute(route, operationIds))
    app.setValidatorCompiler(({ schema, httpPart }) => {
      const ajv = httpPart === 'body' ? bodyAjv : textAjv
      return ajv.compile(schema)
    })
  },
  { name: 'contract' },
)
