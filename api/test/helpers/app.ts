import type { FastifyInstance, InjectOptions } from 'fastify'
import type { Response as InjectResponse } from 'light-my-request'
import { ApiError, createClient, type HelplineClient } from '@helpline/sdk'
import { buildApp, redactPaths } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { ephemeralKeyring, type Keyring } from '../../src/lib/keyring.ts'
import { checkResponse } from './contract.ts'
import { openDatabase } from '../../src/db/client.ts'
import { createTestDatabase, type TestDatabase } from './db.ts'

/** Runs an SDK call that must fail and returns the ApiError. */
export async function refused(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected the call to be refused')
}

/** The bits of a tap Test the helpers use. */
export interface T {
  teardown(fn: () => unknown): void
  fail(message: string): void
}

export interface TestUser {
  id: string
  email: string
  password: string
  token: string
  client: HelplineClient
}

export interface TestApp {
  app: FastifyInstance
  db: TestDatabase
  config: Config
  /** The app's signing key and server secret (in memory, fresh per app). */
  keyring: Keyring
  /** Every log line the server wrote, to prove secrets never reach it. */
  logs: string[]
  admin: TestUser
  /** A raw request, checked against openapi.yaml. */
  inject(options: InjectOptions & { token?: string }): Promise<InjectResponse>
  /** The generated SDK, talking to this app in-process; every response is contract-checked. */
  client(token?: string): HelplineClient
  createUser(role: 'admin' | 'csr', fields?: { email?: string; name?: string }): Promise<TestUser>
  login(email: string, password: string): Promise<string>
}

export const adminEmail = 'admin@example.com'
export const adminPassword = 'admin-password-1'
let userCounter = 0

export interface SetupOptions {
  /**
   * PostgreSQL only: the app opens its own database from DATABASE_URL = this function of the test
   * database's URL (e.g. through a proxy the test controls), as the server does from its settings.
   */
  databaseUrl?: (url: string) => string
}

export async function setupApp(t: T, overrides: Partial<Config> = {}, options: SetupOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase()
  const viaUrl = options.databaseUrl && db.url ? options.databaseUrl(db.url) : undefined
  const config = loadConfig({}, {
    CONSOLE_DIR: '/nonexistent',
    LOG_LEVEL: 'info',
    // Tests sign in often from one address; the rate-limit test sets its own budget.
    LOGIN_MAX_ATTEMPTS: 10_000,
    LOGIN_MAX_ATTEMPTS_PER_IP: 10_000,
    ...overrides,
    ...(viaUrl ? { DATABASE_URL: viaUrl } : {}),
  })
  const logs: string[] = []
  const keyring = ephemeralKeyring()
  const app = await buildApp({
    config,
    ...(viaUrl ? {} : { database: db.database }),
    keyring,
    logger: { level: 'info', redact: { paths: redactPaths, censor: '[redacted]' }, stream: { write: (line: string) => logs.push(line) } },
  })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await db.drop()
  })

  const inject = async (options: InjectOptions & { token?: string }) => {
    const { token, ...rest } = options
    const headers = { ...(rest.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) }
    const res = await app.inject({ ...rest, headers })
    const checked = checkResponse(String(rest.method ?? 'GET'), String(rest.url), res.statusCode, res.headers['content-type'] as string | undefined, res.body)
    if (checked?.problems.length) t.fail(`contract violation: ${checked.problems.join('; ')}`)
    return res
  }

  // The SDK's fetch, answered by app.inject: same code path as an integrator, no port needed.
  const injectFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    const headers: Record<string, string> = {}
    request.headers.forEach((v, k) => (headers[k] = v))
    const res = await inject({
      method: request.method as InjectOptions['method'],
      url: url.pathname + url.search,
      headers,
      ...(body ? { payload: body } : {}),
    })
    const resHeaders = new Headers()
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) resHeaders.set(k, String(v))
    return new Response(res.statusCode === 204 ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers: resHeaders })
  }
  const client = (token?: string) => createClient({ baseUrl: 'http://helpline.test', token, fetch: injectFetch as typeof fetch })

  const login = async (email: string, password: string) => {
    const { data } = await client().POST('/api/v1/auth/login', { body: { email, password } })
    return data!.token
  }

  await app.services.accounts.ensureFirstAdmin(adminEmail, adminPassword, () => adminPassword)
  const adminToken = await login(adminEmail, adminPassword)
  const adminUser = await app.services.accounts.findByEmail(adminEmail)
  const admin: TestUser = { id: adminUser!.id, email: adminEmail, password: adminPassword, token: adminToken, client: client(adminToken) }

  const createUser = async (role: 'admin' | 'csr', fields: { email?: string; name?: string } = {}) => {
    userCounter += 1
    const email = fields.email ?? `${role}${userCounter}-${Math.random().toString(36).slice(2, 8)}@example.com`
    const password = `pw-${role}-${userCounter}-secret`
    const { data } = await admin.client.POST('/api/v1/users', { body: { email, name: fields.name ?? `${role} ${userCounter}`, role, password } })
    const token = await login(email, password)
    return { id: data!.id, email, password, token, client: client(token) }
  }

  return { app, db, config, keyring, logs, admin, inject, client, createUser, login }
}

/**
 * A second API instance on the same PostgreSQL database as `h` (its own connections, the same
 * keys), listening on a free loopback port; closed when the test ends.
 */
export async function secondInstance(t: T, h: TestApp, overrides: Partial<Config> = {}): Promise<{ app: FastifyInstance; address: string }> {
  if (!h.db.url) throw new Error('a second instance needs PostgreSQL (TEST_DATABASE_URL)')
  const database = await openDatabase({ url: h.db.url, dataDir: 'memory://' })
  const app = await buildApp({
    config: loadConfig({}, { CONSOLE_DIR: '/nonexistent', ...overrides }),
    database,
    keyring: h.keyring,
    logger: { level: 'warn', redact: { paths: redactPaths, censor: '[redacted]' } },
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => {
    await app.close()
    await database.close()
  })
  return { app, address }
}
