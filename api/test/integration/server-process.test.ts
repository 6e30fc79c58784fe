import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createClient } from '@helpline/sdk'
import { testDatabaseUrl } from '../helpers/db.ts'

/**
 * The server as an operator runs it: a real process started like `npm start`, configured from
 * the environment, printing the first admin's password once, keeping data across a restart
 * (PGlite in DATA_DIR), and shutting down cleanly on SIGTERM.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'helpline-data-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))

interface Running {
  child: ChildProcess
  output: () => string
  url: Promise<string>
}

function start(env: Record<string, string>): Running {
  let output = ''
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
    cwd: root,
    // DATABASE_URL is deliberately absent: this test is about the embedded database.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', CONSOLE_DIR: '/nonexistent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const m = /Helpline on (http:\/\/[\d.]+:\d+)/.exec(output)
      if (m) resolve(m[1]!)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)))
  })
  // Awaited only by tests that expect the server to come up.
  url.catch(() => {})
  return { child, output: () => output, url }
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)))
}

t.test('a bad setting stops the server with a message naming it', async (t) => {
  const run = start({ DATA_DIR: dataDir, KEY_DIR: `${dataDir}-keys`, PORT: 'eighty' })
  t.equal(await exitCode(run.child), 2)
  t.match(run.output(), /PORT: must be integer \(got "eighty"\)/)
})

t.test('first start, restart with the same data, graceful shutdown', { skip: testDatabaseUrl ? 'embedded-database test' : false }, async (t) => {
  const first = start({ DATA_DIR: dataDir, KEY_DIR: `${dataDir}-keys`, ADMIN_EMAIL: 'boss@example.com' })
  const url = await first.url
  const password = /Password \(shown once[^)]*\): (\S+)/.exec(first.output())?.[1]
  t.ok(password, 'the generated admin password is printed once')
  const health = await fetch(`${url}/health`).then((r) => r.json())
  t.match(health, { status: 'ok', database: 'up', driver: 'pglite' })

  const anon = createClient({ baseUrl: url })
  const { data: login } = await anon.POST('/api/v1/auth/login', { body: { email: 'boss@example.com', password: password! } })
  const admin = createClient({ baseUrl: url, token: login!.token })
  await admin.POST('/api/v1/users', { body: { email: 'kept@example.com', name: 'Kept', role: 'csr', password: 'kept-password-1' } })
  t.notOk(first.output().includes(login!.token), 'the token is not logged')

  first.child.kill('SIGTERM')
  t.equal(await exitCode(first.child), 0, 'SIGTERM shuts down cleanly')

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
