/**
 * Running scripts with the SDK, end to end: the README example starts a batch on a session whose
 * customer runs the real agent (`--approve all`), follows it to the end and prints each run's
 * status and output, as an integrator would see them.
 */
import t from 'tap'
import { ApiError, createClient, formatOutput, runScripts, uploadScript, waitForBatch } from '@helpline/sdk'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { runExample } from './helpers/readme.ts'
import { newSession, startAgent, stateDir } from '../../agent/test/helpers/process.ts'


const freeDiskSpace = '#!/bin/sh\necho "Free space on $1:"\ndf -h "$1" | tail -n 1\necho "df is done" >&2\n'

// Each real server and agent takes seconds to start, more on a busy machine.
t.setTimeout(300_000)

t.test('the README run-scripts example follows a batch on a real agent to the end', async (t) => {
  const server = await startTestServer(t)
  const url = server.url.replace(/\/+$/, '')
  const admin = createClient({ baseUrl: url, token: server.h.admin.token })
  const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: 'Diagnostics' } })
  const csr = await server.h.createUser('csr')
  const api = createClient({ baseUrl: url, token: csr.token })
  await uploadScript(api, {
    name: 'Free disk space',
    categoryId: category!.id,
    published: true,
    executable: { name: 'free.sh', content: freeDiskSpace },
  })
  const session = await newSession(api, 'Rita Customer')
  const agent = startAgent(t, ['join', session.number, '--server', url, '--state-dir', stateDir(), '--approve', 'all'])
  await agent.waitFor(/You joined support session/)

  // The example says "a personal API token": one with the scopes running scripts needs.
  const { data: runner } = await api.POST('/api/v1/tokens', { body: { name: 'runner', scopes: ['read', 'sessions'] } })
  const lines = await runExample(t, 'run-scripts', { url, token: runner!.token })
  t.comment(`the example printed:\n${lines.join('\n')}`)

  t.match(lines[0], /^batch [0-9a-f-]{36}: 1 script\(s\) on 1 session\(s\)$/, 'the batch started')
  const progress = lines.slice(1, -2)
  t.ok(progress.length >= 1, 'progress was reported')
  t.equal(new Set(progress).size, progress.length, 'only when something changed')
  t.equal(progress.at(-1), 'finished: 1 succeeded', 'the last progress is the finished batch')
  t.equal(lines.at(-2), `${session.number} Rita Customer: Free disk space v1 succeeded, exit code 0`, 'the run succeeded with exit code 0')
  const output = lines.at(-1)!
  t.match(output, /^Free space on \/:\n.*\d/, 'the output is what the script printed on stdout')
  t.match(output, /\n\[stderr\] df is done\n$/, 'and its stderr line, marked')
  t.match(agent.output(), /Free disk space/, 'the customer saw which script ran')

  const batchId = /^batch (\S+):/.exec(lines[0]!)![1]!
  const { data: batch } = await api.GET('/api/v1/script-batches/{id}', { params: { path: { id: batchId } } })
  t.equal(batch!.status, 'finished')
  t.same(batch!.counts, { succeeded: 1 })
})

t.test('waitForBatch gives up with a TimeoutError while the customer has not approved', async (t) => {
  const server = await startTestServer(t)
  const url = server.url.replace(/\/+$/, '')
  const admin = createClient({ baseUrl: url, token: server.h.admin.token })
  const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: 'Diagnostics' } })
  const csr = await server.h.createUser('csr')
  const api = createClient({ baseUrl: url, token: csr.token })
  const script = await uploadScript(api, { name: 'Hello', categoryId: category!.id, executable: { name: 'hello.sh', content: '#!/bin/sh\necho hello\n' } })
  const session = await newSession(api, 'Quinn Customer')
  // --approve ask (the default): the agent asks the customer, who never answers.
  const agent = startAgent(t, ['join', session.number, '--server', url, '--state-dir', stateDir()])
  await agent.waitFor(/You joined support session/)

  const input = { scripts: [{ scriptId: script.id }], sessionIds: [session.id] }
  const batch = await runScripts(api, input, { idempotencyKey: 'hello-on-quinn' })
  t.equal(batch.status, 'running')
  t.same(batch.counts, { awaiting_consent: 1 })
  const retried = await runScripts(api, input, { idempotencyKey: 'hello-on-quinn' })
  t.equal(retried.id, batch.id, 'called again with the same idempotencyKey: the same batch, not a second one')
  const reused = await runScripts(api, { ...input, stopOnFailure: true }, { idempotencyKey: 'hello-on-quinn' }).catch((e: unknown) => e)
  t.equal((reused as ApiError).code, 'IDEMPOTENCY_KEY_REUSED', 'the key with other input is refused')

  const seen: string[] = []
  const started = Date.now()
  const err = await waitForBatch(api, batch.id, { intervalMs: 50, timeoutMs: 3000, onProgress: (b) => seen.push(b.status) }).then(
    () => t.fail('the batch finished without consent'),
    (e: unknown) => e,
  )
  t.ok(err instanceof Error)
  t.equal((err as Error).name, 'TimeoutError')
  t.match((err as Error).message, `Script batch ${batch.id} did not finish within 3000 ms; last seen running awaiting_consent=1`)
  t.ok(Date.now() - started < 10_000, 'promptly')
  t.same(seen, ['running'], 'progress once: nothing changed after the first poll')

  const stop = new AbortController()
  setTimeout(() => stop.abort(), 100)
  const aborted = await waitForBatch(api, batch.id, { intervalMs: 50, signal: stop.signal }).catch((e: unknown) => e)
  t.equal((aborted as Error).name, 'AbortError')
  t.match((aborted as Error).message, `Stopped waiting for script batch ${batch.id}`)
})

t.test('runScripts with no scripts is an ApiError: 422 NO_SCRIPTS', async (t) => {
  const server = await startTestServer(t)
  const url = server.url.replace(/\/+$/, '')
  const csr = await server.h.createUser('csr')
  const api = createClient({ baseUrl: url, token: csr.token })
  const session = await newSession(api, 'Nobody Yet')
  const err = await runScripts(api, { scripts: [], sessionIds: [session.id] }).catch((e: unknown) => e)
  t.ok(err instanceof ApiError, 'an ApiError')
  t.equal((err as ApiError).status, 422)
  t.equal((err as ApiError).code, 'NO_SCRIPTS')
})

t.test('formatOutput marks stderr and the agent’s notes where lines start', async (t) => {
  const chunk = (sequence: number, stream: 'stdout' | 'stderr' | 'info', data: string) => ({ sequence, stream, data, createdAt: new Date(0).toISOString() })
  t.equal(formatOutput([]), '')
  t.equal(
    formatOutput([
      chunk(0, 'stdout', 'one\ntw'),
      chunk(1, 'stdout', 'o\n'),
      chunk(2, 'stderr', 'warn 1\nwarn'),
      chunk(3, 'stderr', ' 2\n'),
      chunk(4, 'stdout', 'partial'),
      chunk(5, 'info', 'Output cut at 1048576 bytes\n'),
    ]),
    'one\ntwo\n[stderr] warn 1\n[stderr] warn 2\npartial\n[helpline] Output cut at 1048576 bytes\n',
  )
})
