import { readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { runExample as runNamedExample } from './helpers/readme.ts'

/**
 * The README's examples are code an integrator will paste: each ```ts block runs here against a
 * real server, with the integrator's token, and its console output is checked.
 */
const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)

t.test('the README has examples', async (t) => {
  t.ok(blocks.length >= 1)
})

/** Runs one README block as a module next to the SDK, returning what it printed. */
export async function runExample(code: string, baseUrl: string, env: Record<string, string>): Promise<string[]> {
  const file = fileURLToPath(new URL(`./.readme-example-${process.pid}-${Math.random().toString(36).slice(2)}.ts`, import.meta.url))
  await writeFile(file, code.replaceAll("'http://127.0.0.1:3000'", JSON.stringify(baseUrl)))
  const printed: string[] = []
  const original = console.log
  const saved = { ...process.env }
  Object.assign(process.env, env)
  console.log = (...args: unknown[]) => printed.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '))
  try {
    await import(file)
  } finally {
    console.log = original
    process.env = saved
    await rm(file, { force: true })
  }
  return printed
}

t.test('the first example signs in with a token and shows a typed error', async (t) => {
  const server = await startTestServer(t)
  const { data } = await server.h.admin.client.POST('/api/v1/tokens', { body: { name: 'readme', scopes: ['read', 'admin'] } })
  const printed = await runExample(blocks[0]!, server.url, { HELPLINE_TOKEN: data!.token })
  t.same(printed[0], `signed in as ${server.adminEmail} (admin)`)
  t.match(printed[1], /^409 EMAIL_TAKEN \{"email":/)
})

t.test('the api-tokens example: a read token reads, is refused writes and token-making, and is revoked', async (t) => {
  const server = await startTestServer(t)
  const csr = await server.h.createUser('csr')
  const lines = await runNamedExample(t, 'api-tokens', { url: server.url.replace(/\/+$/, ''), token: csr.token })
  t.same(lines.slice(0, 4), ['nightly report: read', 'it reads: 0 active session(s)', '403 SCOPE_REQUIRED', '403 SIGN_IN_REQUIRED'])
  t.match(lines[4], /^hlp_\S+… nightly report \[read\] last used \S+ from 127\.0\.0\.1$/, 'the list shows scopes, last use and the address')
  const { data } = await csr.client.GET('/api/v1/tokens')
  t.equal(data!.total, 0, 'and the example revoked its token')
})
