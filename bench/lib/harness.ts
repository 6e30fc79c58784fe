/**
 * The app built in this process, for the benches that measure it in-process (dispatch.bench.ts,
 * profile.ts): the SDK's fetch answered by `app.inject`, the same code path as over the network
 * without the network. Benches of the lines start the built server instead (server.ts).
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { createClient, type HelplineClient } from '@helpline/sdk'
import { buildApp } from '../../api/src/app.ts'
import { loadConfig } from '../../api/src/config.ts'
import type { Database } from '../../api/src/db/client.ts'
import { scriptCategories } from '../../api/src/db/schema.ts'

/** What a bench needs of the app: the app itself (raw requests), a CSR, clients by token, a category. */
export interface Harness {
  app: FastifyInstance
  csr: HelplineClient
  client(token?: string): HelplineClient
  categoryId: string
}

export async function harness(database: Database): Promise<Harness> {
  const config = loadConfig({}, {
    CONSOLE_DIR: '/nonexistent',
    LOG_LEVEL: 'silent',
    JOIN_MAX_ATTEMPTS_PER_IP: 100_000_000,
    JOIN_MAX_ATTEMPTS_PER_NUMBER: 100_000_000,
  })
  const app = await buildApp({ config, database, logger: false })
  await app.ready()
  // The SDK's fetch, answered by app.inject: the same code path as over the network.
  const injectFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    const headers: Record<string, string> = {}
    request.headers.forEach((v, k) => (headers[k] = v))
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    const res = await app.inject({ method: request.method as InjectOptions['method'], url: url.pathname + url.search, headers, ...(body ? { payload: body } : {}) })
    const resHeaders = new Headers()
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) resHeaders.set(k, String(v))
    return new Response(res.statusCode === 204 ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers: resHeaders })
  }
  const client = (token?: string) => createClient({ baseUrl: 'http://helpline.bench', token, fetch: injectFetch as typeof fetch })
  const email = `bench-csr-${randomBytes(3).toString('hex')}@example.com`
  await app.services.accounts.create({ email, name: 'Bench CSR', role: 'csr', password: 'bench-password-1' })
  const { token } = await app.services.auth.login(email, 'bench-password-1', '127.0.0.1')
  const [category] = await database.db.insert(scriptCategories).values({ name: `Bench ${randomBytes(3).toString('hex')}` }).returning()
  return { app, csr: client(token), client, categoryId: category!.id }
}
