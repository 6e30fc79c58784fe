import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { asc, eq } from 'drizzle-orm'
import { scriptOutputChunks } from '../../api/src/db/schema.ts'
import { testDatabaseUrl } from '../../api/test/helpers/db.ts'
import { createCategory, upload } from '../../api/test/helpers/scripts.ts'
import { startTestServer, type TestServer } from '../../api/test/helpers/server.ts'
import { LOST_NOTICE_MS } from '../src/agent.ts'
import { at, newSession, startAgent, stateDir, until, type Running } from './helpers/process.ts'

/**
 * Faults between the agent, the server and the database, with the real agent (a child process)
 * running a script that prints a line at a time: the server answering 500 for a while, and
 * PostgreSQL unreachable for 30 s behind a TCP proxy this test controls. Through both the agent
 * stays, the customer is told once that the connection was lost and once that it is back, and
 * every line is stored exactly once, in order; nothing is restarted.
 */
const listen = (server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))

const limits = { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_POLL_WAIT_SECONDS: 5 }
const lines = (n: number, seconds: number) => `#!/bin/sh\ni=1\nwhile [ $i -le ${n} ]; do echo "line $i"; i=$((i+1)); sleep ${seconds}; done\n`
const expected = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('')
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, 'g'))?.length ?? 0

/** A CSR, a category, a joined agent (through `agentUrl`) and a script that prints `n` lines. */
async function scene(t: Parameters<typeof startAgent>[0], server: TestServer, agentUrl: string, n: number, seconds: number) {
  const csr = await server.h.createUser('csr', { name: 'Carla CSR' })
  const category = await createCategory(server.h, 'Outages')
  const session = await newSession(csr.client, 'Olivia')
  const agent = startAgent(t, ['join', session.number, '--server', agentUrl, '--state-dir', stateDir(), '--approve', 'all'])
  await agent.waitFor(/You joined support session/)
  const script = await upload(csr, category, { name: `Prints ${n} lines`, executable: { name: 'lines.sh', content: lines(n, seconds) } })
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [session.id] } })
  const runId = batch!.sessions[0]!.runs[0]!.id
  const output = async () => (await csr.client.GET('/api/v1/script-runs/{id}/output', { params: { path: { id: runId }, query: { limit: 5000 } } })).data!
  return { csr, session, agent, batchId: batch!.id, runId, output }
}

/** The agent is still there and said each thing once. */
function stayedAndSaidOnce(t: Pick<Test, 'equal'>, agent: Running) {
  const said = { output: agent.output() } // what the customer read, to tell why when it fails
  t.equal(agent.child.exitCode, null, 'the agent is still running')
  t.equal(count(said.output, /Lost the connection to the server/), 1, 'the customer was told once that the connection was lost (not once per retry)', said)
  t.equal(count(said.output, /Connected to the server again/), 1, 'and once that it is back', said)
}

/**
 * An HTTP proxy in front of the server that answers 500 to each agent call `fails` picks (given
 * its path), and forwards everything else. `failed()`: how many it answered so.
 */
async function failingProxy(t: Test, server: TestServer, fails: (path: string) => boolean) {
  const target = new URL(server.url)
  let failed = 0
  const proxy = createHttpServer((req, res) => {
    if (req.url?.startsWith('/api/v1/agent/') && fails(req.url)) {
      failed++
      req.resume()
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal server error (test)' }))
      return
    }
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  const port = await listen(proxy)
  t.teardown(() => new Promise((r) => proxy.close(r)))
  return { url: `http://127.0.0.1:${port}`, failed: () => failed }
}

t.test('the server answers 500 for a while: the agent retries, stays, and its script’s output arrives whole', async (t) => {
  const server = await startTestServer(t, limits)
  let failing = false
  const proxy = await failingProxy(t, server, () => failing)
  const { csr, agent, batchId, output } = await scene(t, server, proxy.url, 16, 0.5)
  await until('the first lines', output, (o) => o.chunks.some((c) => c.data.includes('line 2')))
  failing = true
  await until('the agent’s calls to fail a few times', async () => proxy.failed(), (n) => n >= 6, 60_000)
  await agent.waitFor(/Lost the connection to the server \(500 INTERNAL_ERROR\)/)
  failing = false

  const done = await until('the batch to finish', async () => (await csr.client.GET('/api/v1/script-batches/{id}', at(batchId))).data!, (b) => b.status === 'finished', 90_000)
  t.equal(done.sessions[0]!.runs[0]!.status, 'succeeded', 'the run succeeded')
  const out = await output()
  t.equal(out.chunks.map((c) => c.data).join(''), expected(16), 'every line once, in order')
  t.same(out.chunks.map((c) => c.sequence), out.chunks.map((_, i) => i), 'chunk numbers without gaps')
  await agent.waitFor(/Connected to the server again/)
  stayedAndSaidOnce(t, agent)
  agent.child.kill('SIGINT')
  t.equal(await agent.exited, 0)
})

t.test('a blip (one poll answered 500) is retried at once and the customer is not alarmed', async (t) => {
  const server = await startTestServer(t, limits)
  let blips = 0
  const proxy = await failingProxy(t, server, (path) => path.startsWith('/api/v1/agent/poll') && blips > 0 && blips-- > 0)
  const { csr, agent, batchId, output } = await scene(t, server, proxy.url, 12, 0.5)
  await until('the first lines', output, (o) => o.chunks.some((c) => c.data.includes('line 2')))
  blips = 1
  await until('one poll to fail', async () => proxy.failed(), (n) => n === 1, 30_000)
  const blipAt = Date.now()
  const done = await until('the batch to finish', async () => (await csr.client.GET('/api/v1/script-batches/{id}', at(batchId))).data!, (b) => b.status === 'finished', 90_000)
  t.equal(done.sessions[0]!.runs[0]!.status, 'succeeded', 'the run succeeded')
  t.equal((await output()).chunks.map((c) => c.data).join(''), expected(12), 'every line once, in order')
  // Past the time after which an outage still going on is told: a notice would be out by now.
  await new Promise((r) => setTimeout(r, Math.max(0, blipAt + LOST_NOTICE_MS + 2_000 - Date.now())))
  const said = { output: agent.output() }
  t.equal(proxy.failed(), 1, 'one call failed')
  t.equal(count(said.output, /Lost the connection to the server/), 0, 'the customer was not told of a connection lost', said)
  t.equal(count(said.output, /Connected to the server again/), 0, 'nor that it is back', said)
  t.equal(agent.child.exitCode, null, 'the agent is still running')
  agent.child.kill('SIGINT')
  t.equal(await agent.exited, 0)
})

t.test('held polls always cut while quick ones pass: the agent backs off and tells the customer, no poll loop', async (t) => {
  const server = await startTestServer(t, limits)
  let polls = 0
  const proxy = await failingProxy(t, server, (path) => {
    if (!path.startsWith('/api/v1/agent/poll')) return false
    polls++
    // A proxy that cuts every request held open (a held poll asks wait > 0).
    return !/[?&]wait=0(&|$)/.test(path)
  })
  const csr = await server.h.createUser('csr', { name: 'Carla CSR' })
  const session = await newSession(csr.client, 'Paula')
  const agent = startAgent(t, ['join', session.number, '--server', proxy.url, '--state-dir', stateDir(), '--approve', 'all'])
  await agent.waitFor(/You joined support session/)
  const from = polls
  await agent.waitFor(/Lost the connection to the server \(500 INTERNAL_ERROR\)/, 30_000)
  t.pass('the customer is told once the held polls keep failing')
  await new Promise((r) => setTimeout(r, 15_000))
  const made = polls - from
  // Without the back-off: a held poll, a quick one, a held one … about two a second, for ever.
  t.ok(made < 25, `${made} polls in the ~20 s after joining`)
  t.equal(agent.child.exitCode, null, 'the agent is still running')
  agent.child.kill('SIGINT')
  t.equal(await agent.exited, 0)
})

/**
 * A TCP proxy in front of PostgreSQL: `cut` destroys every open connection and closes each new
 * one as soon as it is accepted; `blackHole` keeps connections open but forwards nothing (a
 * network that drops packets); `restore` forwards again.
 */
async function pgProxy(target: URL) {
  let mode: 'open' | 'cut' | 'hole' = 'open'
  const sockets = new Set<Socket>()
  const server = createNetServer((client) => {
    if (mode === 'cut') return client.destroy()
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => client.destroy())
    if (mode === 'hole') return client.resume()
    const upstream = connect(Number(target.port || 5432), target.hostname)
    sockets.add(upstream)
    upstream.on('close', () => (sockets.delete(upstream), client.destroy()))
    upstream.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
    client.on('data', (d) => mode === 'open' && upstream.write(d))
    upstream.on('data', (d) => mode === 'open' && client.write(d))
  })
  const port = await listen(server)
  const dropAll = () => {
    for (const s of sockets) s.destroy()
  }
  return {
    port,
    cut: () => {
      mode = 'cut'
      dropAll()
    },
    blackHole: () => {
      mode = 'hole'
    },
    restore: () => {
      // What a black hole swallowed left every connection through it mid-conversation.
      if (mode === 'hole') dropAll()
      mode = 'open'
    },
    close: () =>
      new Promise<void>((r) => {
        dropAll()
        server.close(() => r())
      }),
  }
}

/** Reads a server-sent event stream in the background; `text()` is everything so far. */
function follow(url: string, token: string) {
  const stop = new AbortController()
  let text = ''
  let ended = false
  void fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: stop.signal })
    .then(async (res) => {
      const decoder = new TextDecoder()
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true })
    })
    .catch(() => undefined)
    .finally(() => (ended = true))
  return { text: () => text, ended: () => ended, close: () => stop.abort() }
}

const skip = testDatabaseUrl ? false : 'needs PostgreSQL: set TEST_DATABASE_URL (the server reaches it through a TCP proxy the test controls)'

t.test('PostgreSQL unreachable for 30 s while a script prints a line a second', { skip }, async (t) => {
  const proxy = await pgProxy(new URL(testDatabaseUrl!))
  t.teardown(() => proxy.close())
  const server = await startTestServer(
    t,
    { ...limits, DATABASE_CONNECT_TIMEOUT_SECONDS: 2, DATABASE_STATEMENT_TIMEOUT_MS: 3000 },
    {
      databaseUrl: (url) => {
        const via = new URL(url)
        via.hostname = '127.0.0.1'
        via.port = String(proxy.port)
        return via.toString()
      },
    },
  )
  const { h } = server

  t.test('503s with Retry-After and /health within a second during the outage; afterwards, with no restart, every line stored once and the run succeeded', async (t) => {
    const { csr, session, agent, batchId, runId, output } = await scene(t, server, server.url, 45, 1)
    const stream = follow(`${server.url}/api/v1/sessions/${session.id}/stream`, csr.token)
    t.teardown(stream.close)
    await until('the first lines', output, (o) => o.chunks.some((c) => c.data.includes('line 3')))

    proxy.cut()
    const cutAt = Date.now()
    const health = async () => {
      const started = Date.now()
      const res = await fetch(`${server.url}/health`)
      return { took: Date.now() - started, status: res.status, body: (await res.json()) as { database: string } }
    }
    for (let i = 0; i < 3; i++) {
      const seen = await health()
      t.ok(seen.took < 1000, `/health answered in ${seen.took} ms`)
      t.same([seen.status, seen.body.database], [503, 'down'], 'saying the database is down')
      const started = Date.now()
      const res = await h.inject({ method: 'GET', url: `/api/v1/script-batches/${batchId}`, token: csr.token })
      const took = Date.now() - started
      t.same([res.statusCode, res.json().code], [503, 'SERVICE_UNAVAILABLE'], 'an API call answers 503 (its body checked against the contract)')
      t.match(res.headers['retry-after'], /^\d+$/, 'with Retry-After')
      t.ok(took < 2500, `within a couple of seconds (${took} ms)`)
    }
    await agent.waitFor(/Lost the connection to the server \(503 SERVICE_UNAVAILABLE\)/)
    // The outage lasts 30 s; meanwhile the script goes on printing and the agent goes on trying.
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - cutAt))))
    t.equal(agent.child.exitCode, null, 'the agent lived through the outage')
    t.notOk(stream.ended(), 'the console’s live stream kept its connection')
    proxy.restore()

    const done = await until('the batch to finish', async () => (await csr.client.GET('/api/v1/script-batches/{id}', at(batchId))).data!, (b) => b.status === 'finished', 120_000)
    t.equal(done.sessions[0]!.runs[0]!.status, 'succeeded', 'the run succeeded')
    const rows = await h.db.database.db.select().from(scriptOutputChunks).where(eq(scriptOutputChunks.runId, runId)).orderBy(asc(scriptOutputChunks.sequence))
    t.equal(rows.map((r) => r.data).join(''), expected(45), 'every line stored exactly once, in order, including those printed during the outage')
    t.same(rows.map((r) => r.sequence), rows.map((_, i) => i), 'chunk numbers without gaps')
    t.equal((await output()).chunks.length, rows.length, 'the CSR reads them all')
    await until('the live stream to catch up', async () => stream.text(), (text) => text.includes('line 45') && /"status":"succeeded"/.test(text), 30_000)
    t.pass('the live stream caught up: it has the last line and the end of the run')
    await agent.waitFor(/Connected to the server again/)
    stayedAndSaidOnce(t, agent)
    t.ok(h.logs.some((l) => l.includes('database available again; sweeping')), 'the sweeper carried on by itself')
    t.ok(h.logs.some((l) => l.includes('listening for session changes again')), 'and the notifier listens again')
    agent.child.kill('SIGINT')
    t.equal(await agent.exited, 0)
  })

  t.test('a database that stops answering (packets dropped): 503 within the timeouts, /health within a second, back when it is', async (t) => {
    const csr = await h.createUser('csr')
    proxy.blackHole()
    const health = Date.now()
    const res = await fetch(`${server.url}/health`)
    t.equal(res.status, 503)
    t.ok(Date.now() - health < 1000, `/health answered in ${Date.now() - health} ms`)
    const started = Date.now()
    const down = await h.inject({ method: 'GET', url: '/api/v1/me', token: csr.token })
    const took = Date.now() - started
    t.equal(down.statusCode, 503, 'an API call answers 503 instead of hanging')
    // A new connection gives up after the connect timeout (2 s); a pooled one after the statement timeout and a margin (3 + 5 s).
    t.ok(took < 10_000, `within the timeouts (${took} ms)`)
    proxy.restore()
    const back = await until('the database to answer again', () => h.inject({ method: 'GET', url: '/api/v1/me', token: csr.token }), (r) => r.statusCode === 200, 30_000)
    t.equal(back.json().email, csr.email, 'the same server serves again')
  })
})
