import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createClient } from '@helpline/sdk'
import { testPlatform, testPublicKey } from '../helpers/agent.ts'
import { assertBuildCurrent, root, rssMiB, startBuilt, type Running } from '../helpers/built-server.ts'
import { testDatabaseUrl } from '../helpers/db.ts'
import { openStream } from '../helpers/sse.ts'

/**
 * The server as an operator runs it: the build (`npm run build`) run by plain node from outside
 * the repository, configured from the environment, printing the first admin's password once,
 * keeping data across a restart (PGlite in DATA_DIR), and on SIGTERM answering held polls and
 * ending live streams at once, then exiting cleanly.
 */
assertBuildCurrent()
const dataDir = mkdtempSync(join(tmpdir(), 'helpline-data-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))

/** The built server (api/dist/server.js, plain node), started from outside the repository. */
function start(env: Record<string, string>): Running {
  // DATABASE_URL is deliberately absent: this test is about the embedded database.
  return startBuilt({ CONSOLE_DIR: '/nonexistent', ...env })
}

const exitCode = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))

t.test('a bad setting stops the server with a message naming it', async (t) => {
  const run = start({ DATA_DIR: dataDir, KEY_DIR: `${dataDir}-keys`, PORT: 'eighty' })
  t.equal(await exitCode(run.child), 2)
  t.match(run.output(), /PORT: must be integer \(got "eighty"\)/)
})

t.test('first start, restart with the same data, graceful shutdown', { skip: testDatabaseUrl ? 'embedded-database test' : false }, async (t) => {
  // The default CONSOLE_DIR and AGENT_DOWNLOADS_DIR: relative to the installation, not to the cwd ('/').
  const first = startBuilt({ DATA_DIR: dataDir, KEY_DIR: `${dataDir}-keys`, ADMIN_EMAIL: 'boss@example.com' })
  const url = await first.url
  const startedIn = await first.startedIn
  const password = /Password \(shown once[^)]*\): (\S+)/.exec(first.output())?.[1]
  t.ok(password, 'the generated admin password is printed once')
  const health = await fetch(`${url}/health`).then((r) => r.json())
  t.match(health, { status: 'ok', database: 'up', driver: 'pglite' }, 'migrations found and applied')
  t.equal((await fetch(`${url}/join`)).status, 200, 'the join page (copied next to the bundle)')
  t.match(await fetch(`${url}/openapi.yaml`).then((r) => r.text()), /^openapi: 3\.1\.0/m, 'openapi.yaml')
  if (existsSync(join(root, 'admin', 'dist', 'index.html'))) t.match(await fetch(url).then((r) => r.text()), /<html/i, 'the built console at /')
  t.equal((await fetch(`${url}/api/v1/agent-downloads`)).status, 200, 'the agent downloads list')
  // Idle for a moment, then measured: the numbers the README's operations section reports.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.comment(`built server: listening ${startedIn} ms after spawn (first start, new PGlite database), RSS ${rssMiB(first.child.pid!)} MiB idle`)

  const anon = createClient({ baseUrl: url })
  const { data: login } = await anon.POST('/api/v1/auth/login', { body: { email: 'boss@example.com', password: password! } })
  const admin = createClient({ baseUrl: url, token: login!.token })
  await admin.POST('/api/v1/users', { body: { email: 'kept@example.com', name: 'Kept', role: 'csr', password: 'kept-password-1' } })
  t.notOk(first.output().includes(login!.token), 'the token is not logged')

  // An agent with a poll held (nothing to hand out) and a console with its live stream open.
  const { data: session } = await admin.POST('/api/v1/sessions', { body: { customerName: 'Shutdown' } })
  const { data: joined } = await anon.POST('/api/v1/agent/join', {
    body: { number: session!.number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey },
  })
  const agent = createClient({ baseUrl: url, token: joined!.agentToken })
  const { data: caughtUp } = await agent.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const stream = await openStream(`${url}/api/v1/sessions/${session!.id}/stream`, { authorization: `Bearer ${login!.token}` })
  await stream.next()
  const held = agent.GET('/api/v1/agent/poll', { params: { query: { cursor: caughtUp!.cursor, wait: 25 } } })
  // The poll is held once the server has read the feed once; give it that moment.
  await new Promise((resolve) => setTimeout(resolve, 500))

  const signalled = Date.now()
  const exited = exitCode(first.child)
  first.child.kill('SIGTERM')
  const { response: pollResponse } = await held
  const answeredIn = Date.now() - signalled
  t.equal(pollResponse.status, 200, 'the held poll is answered (empty), not dropped')
  t.ok(answeredIn < 5_000, `the held poll is answered at once on SIGTERM, not after its 25 s (${answeredIn} ms)`)
  let rest = ''
  while (!/shutting down/.test(rest)) {
    const chunk = await stream.next().catch(() => undefined) // undefined: 5 s without data
    if (chunk === undefined) break
    rest += chunk
  }
  await stream.ended
  t.match(rest, /retry: \d+\n: this server is shutting down/, 'the live stream ends with a retry hint')
  t.equal(await exited, 0, 'SIGTERM shuts down cleanly')
  t.ok(Date.now() - signalled < 10_000, 'within the shutdown timeout')

  const second = start({ DATA_DIR: dataDir, KEY_DIR: `${dataDir}-keys`, ADMIN_EMAIL: 'boss@example.com' })
  const url2 = await second.url
  t.notMatch(second.output(), /Password \(shown once/, 'no new admin on restart')
  const { data: again } = await createClient({ baseUrl: url2 }).POST('/api/v1/auth/login', {
    body: { email: 'kept@example.com', password: 'kept-password-1' },
  })
  t.equal(again?.user.name, 'Kept', 'data survives a restart')
  second.child.kill('SIGINT')
  t.equal(await exitCode(second.child), 0, 'SIGINT shuts down cleanly')
})

