import { existsSync, statSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createNetServer, connect, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { at, newSession, startAgent as start, stateDir, until } from './helpers/process.ts'

/**
 * The agent as the customer runs it: a real child process (bin/helpline-agent.js) against a real
 * HTTP server, answering consent prompts through its stdin.
 */
const server = await startTestServer(t, {
  CONSENT_EXPIRY_SECONDS: 6,
  JOIN_MAX_ATTEMPTS_PER_IP: 10_000,
  JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000,
  AGENT_POLL_WAIT_SECONDS: 5,
})
const csr = await server.h.createUser('csr', { name: 'Carla CSR' })
const api = csr.client

const startAgent = (args: string[], env: Record<string, string> = {}) => start(t, args, env)
const headings = ['SYSTEM', 'HARDWARE', 'STORAGE', 'NETWORK', 'SOFTWARE', 'PROCESSES', 'SERVICES', 'USERS', 'ENVIRONMENT']

t.test('join → consent on stdin → a snapshot with every category → .txt; refresh does not ask again; chat; Ctrl-C leaves', async (t) => {
  const s = await newSession(api, 'Alice')
  const dir = stateDir()
  const agent = startAgent(['join', s.number, '--server', server.url, '--state-dir', dir], {
    HELPLINE_TEST_SECRET_TOKEN: 'do-not-send-me',
    HELPLINE_TEST_VISIBLE: 'visible-value',
  })
  await agent.waitFor(/You joined support session \d{3}-\d{3}-\d{3} with Carla CSR\./)
  t.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600, 'the state file is 0600')
  t.equal(statSync(join(dir, 'agent-key.pem')).mode & 0o777, 0o600, 'so is the private key')

  const { data: asked } = await api.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  t.ok(asked!.consent, 'the first refresh asks for consent')
  await agent.waitFor(/Allow\? Type y \(yes\) or n \(no\)/)
  t.match(agent.output(), /Carla CSR \(your support representative\) asks for your permission:\n {2}What: View this computer’s system information/, 'who asks and what exactly')
  t.match(agent.output(), /What it does: Reads information about this computer/, 'what it will do')
  agent.type('y')
  await agent.waitFor(/You allowed: View this computer’s system information\./)
  const snapshots = await until('the snapshot', () => api.GET('/api/v1/sessions/{id}/snapshots', at(s.id)).then((r) => r.data!), (d) => d.total === 1 && d.data.length === 1, 120_000)
  await agent.waitFor(/System information sent \(9 categories\)\./)
  const { data: snap } = await api.GET('/api/v1/sessions/{id}/snapshots/{itemId}', { params: { path: { id: s.id, itemId: snapshots.data[0]!.id } } })
  t.same(snap!.categories.map((c) => c.id), ['system', 'hardware', 'storage', 'network', 'software', 'processes', 'services', 'users', 'environment'])
  for (const c of snap!.categories) t.ok(c.available || (c.reason ?? '').length > 0, `${c.id}: read, or says why not`)
  const system = snap!.categories.find((c) => c.id === 'system')!
  t.ok(system.fields.some((f) => f.label === 'Hostname'), 'the system category has the hostname')
  const env = JSON.stringify(snap!.categories.find((c) => c.id === 'environment'))
  t.match(env, /HELPLINE_TEST_VISIBLE/, 'ordinary variables are listed')
  t.notMatch(env, /HELPLINE_TEST_SECRET_TOKEN|do-not-send-me/, 'secret-looking variables are not')
  const text = await server.h.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}/snapshots/${snap!.id}/text`, token: csr.token })
  for (const heading of headings) t.match(text.body, new RegExp(`^# ${heading}$`, 'm'), `the .txt has ${heading}`)

  const { data: refreshed } = await api.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  t.equal(refreshed!.consent, null, 'refresh does not ask again')
  await until('the second snapshot', () => api.GET('/api/v1/sessions/{id}/snapshots', at(s.id)).then((r) => r.data!), (d) => d.total === 2, 120_000)
  t.equal(agent.output().match(/asks for your permission/g)?.length, 1, 'the customer was asked once')

  await api.POST('/api/v1/sessions/{id}/chat', { ...at(s.id), body: { body: 'Hello from Carla' } })
  await agent.waitFor(/\[Carla CSR\] Hello from Carla/)
  agent.type('My printer is broken')
  await until('the customer’s message', () => api.GET('/api/v1/sessions/{id}/chat', at(s.id)).then((r) => r.data!), (d) =>
    d.data.some((m) => m.sender === 'customer' && m.body === 'My printer is broken'),
  )

  agent.child.kill('SIGINT')
  t.equal(await agent.exited, 0, 'Ctrl-C leaves cleanly')
  t.match(agent.output(), /You left the session\./)
  const { data: chat } = await api.GET('/api/v1/sessions/{id}/chat', at(s.id))
  t.ok(chat!.data.some((m) => m.body === 'Alice left the session'), 'the CSR sees “customer left”')
  const { data: session } = await api.GET('/api/v1/sessions/{id}', at(s.id))
  t.equal(session!.agent?.status, 'left')
  t.notOk(existsSync(join(dir, 'state.json')), 'the saved session is forgotten')
})

t.test('deny: nothing is collected and the CSR sees “denied”', async (t) => {
  const s = await newSession(api, 'Denise')
  const agent = startAgent(['join', s.number, '--server', server.url, '--state-dir', stateDir(), '--platform', 'simulated'])
  await agent.waitFor(/You joined/)
  await api.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  await agent.waitFor(/Allow\?/)
  agent.type('n')
  await agent.waitFor(/You refused: View this computer’s system information\. Nothing was done\./)
  const { data: consents } = await api.GET('/api/v1/sessions/{id}/consents', at(s.id))
  t.equal(consents!.data[0]!.status, 'denied')
  const { data: cmds } = await api.GET('/api/v1/sessions/{id}/commands', at(s.id))
  t.equal(cmds!.data[0]!.status, 'cancelled')
  const { data: snaps } = await api.GET('/api/v1/sessions/{id}/snapshots', at(s.id))
  t.equal(snaps!.total, 0, 'nothing collected')
  const { data: chat } = await api.GET('/api/v1/sessions/{id}/chat', at(s.id))
  t.ok(chat!.data.some((m) => m.body === 'The customer denied: View system information'))
  t.notMatch(agent.output(), /Collecting system information/)
  agent.child.kill('SIGINT')
  await agent.exited
})

t.test('an unanswered request expires on both sides', async (t) => {
  const s = await newSession(api, 'Eve')
  const agent = startAgent(['join', s.number, '--server', server.url, '--state-dir', stateDir(), '--platform', 'simulated'])
  await agent.waitFor(/You joined/)
  await api.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  await agent.waitFor(/Allow\?/)
  await agent.waitFor(/The request “View this computer’s system information” expired before you answered\. Nothing was done\./, 20_000)
  const { data: consents } = await api.GET('/api/v1/sessions/{id}/consents', at(s.id))
  t.equal(consents!.data[0]!.status, 'expired')
  agent.type('y')
  agent.type('typed after the expiry')
  await until('the late line as chat', () => api.GET('/api/v1/sessions/{id}/chat', at(s.id)).then((r) => r.data!), (d) =>
    d.data.some((m) => m.body === 'typed after the expiry'),
  )
  const { data: snaps } = await api.GET('/api/v1/sessions/{id}/snapshots', at(s.id))
  t.equal(snaps!.total, 0)
  agent.child.kill('SIGINT')
  await agent.exited
})

t.test('--approve all is announced; a killed agent rejoins by itself; the CSR ending the session stops it', async (t) => {
  const s = await newSession(api, 'Rita')
  const dir = stateDir()
  const args = ['--server', server.url, '--state-dir', dir, '--platform', 'simulated', '--approve', 'all']
  const first = startAgent(['join', s.number, ...args])
  await first.waitFor(/You joined/)
  // The warning is written once the agent starts polling, a write of its own after "You joined":
  // on a busy machine it reaches this pipe a moment later (CI once read the output in between).
  await first.waitFor(/!!! --approve all: EVERY request .* WILL BE APPROVED WITHOUT ASKING YOU/i)
  t.match(first.output(), /You joined[\s\S]*!!! --approve all: EVERY request .* WILL BE APPROVED WITHOUT ASKING YOU/i, 'announced loudly, right after joining')
  const { data: joined } = await api.GET('/api/v1/sessions/{id}', at(s.id))
  first.child.kill('SIGKILL')
  await first.exited

  const again = startAgent(['join', s.number, ...args])
  await again.waitFor(/Rejoined your support session \d{3}-\d{3}-\d{3} with Carla CSR\./)
  const { data: rejoined } = await api.GET('/api/v1/sessions/{id}', at(s.id))
  t.equal(rejoined!.agent?.id, joined!.agent?.id, 'the same agent, not a new one')
  again.child.kill('SIGKILL')
  await again.exited

  const fromState = startAgent(['rejoin', '--state-dir', dir, '--platform', 'simulated', '--approve', 'all'])
  await fromState.waitFor(/Rejoined your support session/)
  await api.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  await fromState.waitFor(/Approved automatically \(--approve all\): View this computer’s system information, asked by Carla CSR\./)
  await until('the snapshot', () => api.GET('/api/v1/sessions/{id}/snapshots', at(s.id)).then((r) => r.data!), (d) => d.total === 1)
  const { data: chat } = await api.GET('/api/v1/sessions/{id}/chat', at(s.id))
  t.equal(chat!.data.filter((m) => m.body === 'Rita rejoined').length, 2, 'the CSR sees each rejoin')

  await api.POST('/api/v1/sessions/{id}/end', at(s.id))
  t.equal(await fromState.exited, 0)
  t.match(fromState.output(), /Your support representative ended the session\./)
  t.notOk(existsSync(join(dir, 'state.json')), 'nothing left to rejoin')
  const stale = startAgent(['rejoin', '--state-dir', dir])
  t.equal(await stale.exited, 2)
  t.match(stale.output(), /There is no saved session to rejoin/)
})

t.test('clear one-line errors: wrong number (English and Japanese), not a number', async (t) => {
  const wrong = startAgent(['join', '000-000-000', '--server', server.url, '--state-dir', stateDir()])
  t.equal(await wrong.exited, 2)
  t.match(wrong.output(), /^No open support session has the number 000-000-000\. .*$/m)
  const ja = startAgent(['join', '000-000-000', '--server', server.url, '--state-dir', stateDir()], { LANG: 'ja_JP.UTF-8' })
  t.equal(await ja.exited, 2)
  t.match(ja.output(), /番号 000-000-000 の有効なサポートセッションはありません。/)
  const flag = startAgent(['join', '12345', '--server', server.url, '--lang', 'ja'])
  t.equal(await flag.exited, 2)
  t.match(flag.output(), /「12345」はセッション番号ではありません。/)
})

t.test('an unreachable server: retries with backoff and says so once, then joins when it is back', async (t) => {
  const s = await newSession(api, 'Ursula')
  // A door that resets every connection, until it starts forwarding to the real server.
  const target = new URL(server.url)
  let attempts = 0
  let forward = false
  const door = createNetServer((socket) => {
    if (!forward) {
      attempts++
      return socket.resetAndDestroy()
    }
    const upstream = connect(Number(target.port), target.hostname)
    socket.pipe(upstream).pipe(socket)
    socket.on('error', () => upstream.destroy())
    upstream.on('error', () => socket.destroy())
  })
  await new Promise<void>((r) => door.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => door.close(r)))
  const port = (door.address() as AddressInfo).port
  const agent = startAgent(['join', s.number, '--server', `http://127.0.0.1:${port}`, '--state-dir', stateDir(), '--platform', 'simulated'])
  // ECONNRESET normally; on a loaded machine the first attempt can hang instead, and is then told
  // after the first contact's 10 s timeout (TimeoutError): either way the customer hears once.
  await agent.waitFor(/Cannot reach the server at http:\/\/127\.0\.0\.1:\d+ \((ECONNRESET|TimeoutError)\)\. Trying again until it answers…/)
  await until('a few more attempts', async () => attempts, (n) => n >= 4, 30_000)
  t.equal(agent.output().match(/Cannot reach the server/g)?.length, 1, 'said once, not once per attempt')
  forward = true
  await agent.waitFor(/Connected to the server again\.\n.*You joined support session/s, 30_000)
  agent.child.kill('SIGINT')
  await agent.exited
})

t.test('an incompatible or foreign server is named as such', async (t) => {
  const fake = createHttpServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: 'ok', database: 'up', driver: 'postgres', version: '9.0.0' }))
    } else {
      res.writeHead(404, { 'content-type': 'text/html' })
      res.end('<h1>nope</h1>')
    }
  })
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => fake.close(r)))
  const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`
  const agent = startAgent(['join', '123-456-789', '--server', url, '--state-dir', stateDir()])
  t.equal(await agent.exited, 3)
  t.match(agent.output(), /runs Helpline 9\.0\.0, which this agent \(0\.1\.0\) cannot work with/)

  const foreign = startAgent(['join', '123-456-789', '--server', `${url}/elsewhere`, '--state-dir', stateDir()])
  t.equal(await foreign.exited, 3)
  t.match(foreign.output(), /does not look like a Helpline server/)
})
