import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { agents, commands, consentRequests, systemInfoSnapshots } from '../../src/db/schema.ts'
import { refused } from '../helpers/refused.ts'
import { setupApp, type TestApp } from '../helpers/app.ts'
import { joinAgent, sampleUpload, testPlatform, testPublicKey, type TestAgent } from '../helpers/agent.ts'

/** The agent protocol: join, rejoin, the long-poll, answers and reports, presence, and its limits. */
const h = await setupApp(t, {
  JOIN_MAX_ATTEMPTS_PER_IP: 10_000,
  JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000,
  AGENT_POLL_WAIT_SECONDS: 2,
  AGENT_OFFLINE_AFTER_SECONDS: 1,
  SWEEP_INTERVAL_MS: 100,
})
const csr = await h.createUser('csr', { name: 'Carla CSR' })

async function activeSession(app: TestApp = h, user = csr) {
  const { data: s } = await user.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  const agent = await joinAgent(app, s!.number)
  return { session: s!, agent }
}
const at = (id: string) => ({ params: { path: { id } } })
const joinBody = (number: string, extra: Record<string, unknown> = {}) => ({
  number,
  protocol: 1,
  agentVersion: '0.1.0',
  platform: testPlatform,
  publicKey: testPublicKey,
  ...extra,
})

/** Approves system-info consent and returns a released collect command. */
async function approvedCollect(sessionId: string, agent: TestAgent) {
  const { data } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(sessionId))
  if (data!.consent) await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: data!.consent.id } }, body: { approved: true } })
  return data!.command!
}

t.test('join: token, rejoin token, session info; the public key is stored', async (t) => {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  const res = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: joinBody(s!.number.replace(/-/g, '')) })
  t.equal(res.statusCode, 201, 'digits without dashes work too')
  const joined = res.json()
  t.match(joined.agentToken, /^hla_/)
  t.match(joined.rejoinToken, /^hlr_/)
  t.equal(joined.session.csrName, 'Carla CSR')
  t.equal(joined.session.status, 'active')
  t.equal(joined.pollWaitSeconds, 2)
  t.equal(await h.app.services.agents.publicKey(joined.agentId), testPublicKey)
  const [row] = await h.db.database.db.select().from(agents).where(eq(agents.id, joined.agentId))
  t.notOk(JSON.stringify(row).includes(joined.agentToken), 'the agent token is stored only as a hash')
  t.notOk(JSON.stringify(row).includes(joined.rejoinToken), 'so is the rejoin token')

  const inUse = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: joinBody(s!.number) })
  t.equal(inUse.statusCode, 409, 'a second agent while the first is online')
  t.equal(inUse.json().code, 'SESSION_IN_USE')
})

t.test('join: wrong numbers, bad protocol, oversize and wrong content type', async (t) => {
  const wrong = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: joinBody('000-000-001') })
  t.equal(wrong.statusCode, 404)
  t.equal(wrong.json().code, 'SESSION_NOT_FOUND')
  t.equal(wrong.json().message, 'Session not found', 'says nothing more')
  const malformed = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: joinBody('12-345') })
  t.equal(malformed.statusCode, 400)
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Proto' } })
  const protocol = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: joinBody(s!.number, { protocol: 99 }) })
  t.equal(protocol.statusCode, 422)
  t.equal(protocol.json().code, 'UNSUPPORTED_PROTOCOL')
  const huge = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: JSON.stringify({ pad: 'x'.repeat(20_000) }), headers: { 'content-type': 'application/json' } })
  t.equal(huge.statusCode, 413)
  const text = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: 'hello', headers: { 'content-type': 'text/plain' } })
  t.equal(text.statusCode, 415)
})

t.test('join and rejoin are rate limited per address and per number', async (t) => {
  const limited = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 3, JOIN_MAX_ATTEMPTS_PER_NUMBER: 2 })
  const join = (number: string, ip: string) =>
    limited.inject({ method: 'POST', url: '/api/v1/agent/join', payload: joinBody(number), remoteAddress: ip } as Parameters<typeof limited.inject>[0])
  for (let i = 0; i < 3; i++) t.equal((await join(`000-000-10${i}`, '10.0.0.1')).statusCode, 404)
  const perIp = await join('000-000-109', '10.0.0.1')
  t.equal(perIp.statusCode, 429, 'one address guessing many numbers')
  t.equal(perIp.json().code, 'RATE_LIMITED')
  t.ok(Number(perIp.headers['retry-after']) > 0)

  t.equal((await join('111-222-333', '10.0.0.2')).statusCode, 404)
  t.equal((await join('111222333', '10.0.0.3')).statusCode, 404)
  t.equal((await join('111-222-333', '10.0.0.4')).statusCode, 429, 'one number guessed from many addresses')

  const rejoin = () =>
    limited.inject({
      method: 'POST',
      url: '/api/v1/agent/rejoin',
      payload: { rejoinToken: 'hlr_nope', protocol: 1, agentVersion: '0.1.0' },
      remoteAddress: '10.0.0.9',
    } as Parameters<typeof limited.inject>[0])
  for (let i = 0; i < 3; i++) t.equal((await rejoin()).statusCode, 401)
  t.equal((await rejoin()).statusCode, 429, 'rejoin shares the per-address budget')
})

t.test('rejoin: single use, rotated every time, old agent token dead', async (t) => {
  const { session, agent } = await activeSession()
  const rejoin = (token: string, extra: Record<string, unknown> = {}) =>
    h.inject({ method: 'POST', url: '/api/v1/agent/rejoin', payload: { rejoinToken: token, protocol: 1, agentVersion: '0.1.1', ...extra } })
  const first = await rejoin(agent.joined.rejoinToken)
  t.equal(first.statusCode, 200)
  const rotated = first.json()
  t.equal(rotated.agentId, agent.joined.agentId, 'the same agent')
  t.equal(rotated.session.id, session.id)
  t.not(rotated.rejoinToken, agent.joined.rejoinToken, 'a new rejoin token')
  const reused = await rejoin(agent.joined.rejoinToken)
  t.equal(reused.statusCode, 401, 'a used rejoin token is refused')
  t.equal(reused.json().code, 'INVALID_REJOIN_TOKEN')
  t.equal((await refused(agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } }))).status, 401, 'the old agent token is dead')
  const fresh = h.client(rotated.agentToken)
  t.ok((await fresh.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })).data, 'the new one works')
  t.equal((await rejoin(rotated.rejoinToken, { protocol: 7 })).statusCode, 422)
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  t.ok(chat!.data.some((m) => m.body === 'Alice rejoined'), 'the CSR sees “rejoined”')
  await csr.client.POST('/api/v1/sessions/{id}/end', at(session.id))
  t.equal((await rejoin(rotated.rejoinToken)).statusCode, 401, 'not into an ended session')
})

t.test('the long-poll returns within 200 ms of a command being queued', async (t) => {
  const { session, agent } = await activeSession()
  const first = await approvedCollect(session.id, agent)
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  t.same(feed!.commands.map((c) => c.id), [first.id])
  await agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: first.id } }, body: sampleUpload() })
  const { data: settled } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: feed!.cursor, wait: 0 } } })

  const started = Date.now()
  const polling = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: settled!.cursor, wait: 2 } } })
  await new Promise((r) => setTimeout(r, 300))
  // "Queued" is the commit of the change that released the command: the notifier fires right after it.
  let committedAt = 0
  const unsubscribe = h.app.notifier.subscribe(session.id, () => (committedAt ||= Date.now()))
  const requestedAt = Date.now()
  const { data: queued } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { data: woken } = await polling
  const answeredAt = Date.now()
  unsubscribe()
  t.same(woken!.commands.map((c) => c.id), [queued!.command!.id], 'the held poll carries the new command')
  t.ok(requestedAt - started >= 300, 'it was held while there was nothing')
  t.ok(committedAt > 0, 'the change was announced')
  t.ok(answeredAt - committedAt < 200, `answered ${answeredAt - committedAt} ms after the command was queued (${answeredAt - requestedAt} ms after the CSR asked)`)

  const empty = Date.now()
  const { data: nothing } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: woken!.cursor, wait: 1 } } })
  t.same([nothing!.consents, nothing!.commands, nothing!.chat], [[], [], []])
  t.ok(Date.now() - empty >= 900, 'an empty poll is held for the wait')
  const bad = await h.inject({ method: 'GET', url: '/api/v1/agent/poll?wait=61', token: agent.token })
  t.equal(bad.statusCode, 400, 'wait is at most 60 s')
})

t.test('the command queue hands out nothing whose consent is not approved', async (t) => {
  const { session, agent } = await activeSession()
  const { data } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { db } = h.db.database
  // Forge what a bug elsewhere might do: mark the waiting command released while its consent is pending.
  await db.update(commands).set({ status: 'queued', dispatchSeq: 1 }).where(eq(commands.id, data!.command!.id))
  t.same(await h.app.services.commands.takeForAgent(session.id, 0, 1_000_000), [], 'the one place that hands commands out refuses it')
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  t.same(feed!.commands, [], 'so the poll does not carry it')
  t.equal(feed!.consents[0]?.status, 'pending', 'the customer is still being asked')

  // A consent of the wrong kind, or from another session, does not count either.
  const other = await activeSession()
  const approved = await approvedCollect(other.session.id, other.agent)
  const [otherCommand] = await db.select().from(commands).where(eq(commands.id, approved.id))
  await db.update(commands).set({ consentId: otherCommand!.consentId }).where(eq(commands.id, data!.command!.id))
  t.same(await h.app.services.commands.takeForAgent(session.id, 0, 1_000_000), [], 'another session’s approval does not release it')
  await db.update(commands).set({ kind: 'no_such_kind', consentId: null }).where(eq(commands.id, data!.command!.id))
  t.same(await h.app.services.commands.takeForAgent(session.id, 0, 1_000_000), [], 'an unknown kind is never handed out')

  const { data: otherFeed } = await other.agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  t.same(otherFeed!.commands.map((c) => c.id), [approved.id], 'the approved one in the other session goes out')
})

t.test('consent answers: once, in time, in the agent’s own session', async (t) => {
  const { session, agent } = await activeSession()
  const { data } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const consentId = data!.consent!.id
  const intruder = await activeSession()
  const foreign = await refused(intruder.agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consentId } }, body: { approved: true } }))
  t.equal(foreign.status, 404, 'an agent token of another session finds nothing')
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consentId } }, body: { approved: false } })
  const twice = await refused(agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consentId } }, body: { approved: true } }))
  t.equal(twice.status, 409)
  t.equal(twice.code, 'CONSENT_ALREADY_ANSWERED')
  const { data: cmds } = await csr.client.GET('/api/v1/sessions/{id}/commands', at(session.id))
  t.equal(cmds!.data[0]!.status, 'cancelled', 'denied: the collection never runs')
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  t.ok(chat!.data.some((m) => m.body === 'The customer denied: View system information'), 'the CSR sees “denied”')

  const { data: again } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  t.ok(again!.consent, 'after a denial the next refresh asks again')
  await h.db.database.db.update(consentRequests).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(consentRequests.id, again!.consent!.id))
  const late = await refused(agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: again!.consent!.id } }, body: { approved: true } }))
  t.equal(late.code, 'CONSENT_EXPIRED')
  await new Promise((r) => setTimeout(r, 400))
  const { data: consents } = await csr.client.GET('/api/v1/sessions/{id}/consents', { params: { path: { id: session.id }, query: { sort: 'createdAt', order: 'desc' } } })
  t.equal(consents!.data[0]!.status, 'expired', 'the sweeper expires it')
})

t.test('reports and snapshots are idempotent; bad uploads store nothing', async (t) => {
  const { session, agent } = await activeSession()
  const command = await approvedCollect(session.id, agent)
  await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  const report = (sequence: number, status?: 'running' | 'succeeded' | 'failed') =>
    agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: command.id } }, body: { sequence, ...(status ? { status } : {}) } })
  const { data: r1 } = await report(0, 'running')
  t.same(r1, { duplicate: false, commandStatus: 'running' })
  const { data: r2 } = await report(0, 'running')
  t.same(r2, { duplicate: true, commandStatus: 'running' }, 'a retried report changes nothing')

  const { db } = h.db.database
  const count = async () => (await db.select().from(systemInfoSnapshots).where(eq(systemInfoSnapshots.sessionId, session.id))).length
  const upload = (body: unknown) =>
    h.inject({ method: 'POST', url: `/api/v1/agent/commands/${command.id}/system-info`, token: agent.token, payload: body as Record<string, unknown> })
  const incomplete = sampleUpload()
  incomplete.categories.pop()
  const missing = await upload(incomplete)
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().code, 'SNAPSHOT_MALFORMED')
  t.match(missing.json().errors.categories, /environment/)
  const wrongShape = await upload({ collectedAt: 'yesterday', categories: [{ id: 'system' }] })
  t.equal(wrongShape.statusCode, 400)
  const big = sampleUpload()
  big.categories[0]!.tables = [{ title: 'big', columns: ['x'], rows: Array.from({ length: 100 }, () => ['y'.repeat(60_000)]) }]
  const tooBig = await upload(big)
  t.equal(tooBig.statusCode, 413, 'over 5 MiB')
  t.equal(await count(), 0, 'nothing stored for a bad upload')

  const first = await upload(sampleUpload())
  t.equal(first.statusCode, 200)
  const retry = await upload(sampleUpload())
  t.same(retry.json(), { snapshotId: first.json().snapshotId, duplicate: true }, 'a retried upload is acknowledged, not stored again')
  t.equal(await count(), 1)
  t.equal((await refused(report(5, 'failed'))).code, 'COMMAND_FINISHED', 'a report after the outcome is refused')

  const unknown = await refused(agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } }, body: { sequence: 0 } }))
  t.equal(unknown.status, 404)
  const other = await activeSession()
  const foreign = await refused(other.agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: command.id } }, body: sampleUpload() }))
  t.equal(foreign.status, 404, 'another session’s command does not exist for this agent')

  const next = await approvedCollect(session.id, agent)
  await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  await csr.client.POST('/api/v1/sessions/{id}/end', at(session.id))
  const cancelled = await refused(agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: next.id } }, body: { sequence: 0, status: 'running' } }))
  t.equal(cancelled.code, 'COMMAND_CANCELLED', 'ending the session cancels open commands')
  const lateUpload = await upload(sampleUpload())
  t.equal(lateUpload.statusCode, 200, 'the finished command’s upload is still a duplicate')
  const cancelledUpload = await refused(agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: next.id } }, body: sampleUpload() }))
  t.equal(cancelledUpload.status, 409)
  const { data: ended } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 2 } } })
  t.equal(ended!.session.status, 'ended', 'the agent learns the session ended, at once')
  const chat = await refused(agent.client.POST('/api/v1/agent/chat', { body: { body: 'hello?' } }))
  t.equal(chat.status, 409)
})

t.test('presence: offline after missed polls, online again on the next; leave', async (t) => {
  const { session, agent } = await activeSession()
  await new Promise((r) => setTimeout(r, 1500))
  const { data: silent } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(silent!.agent?.status, 'offline')
  await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  const { data: back } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(back!.agent?.status, 'online')
  const { data: events } = await csr.client.GET('/api/v1/sessions/{id}/events', at(session.id))
  t.match(events!.data.map((e) => e.type), ['session.created', 'agent.joined', 'agent.offline', 'agent.online'])

  // An offline agent can be replaced by a new join (the customer lost the agent's state) once
  // the CSR lets the new computer in (the number alone is refused: see takeover.test.ts).
  await new Promise((r) => setTimeout(r, 1500))
  await csr.client.POST('/api/v1/sessions/{id}/admit-agent', at(session.id))
  const replacement = await joinAgent(h, session.number)
  t.not(replacement.joined.agentId, agent.joined.agentId)
  t.equal((await refused(agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } }))).status, 401, 'the replaced agent is out')

  const left = await h.inject({ method: 'POST', url: '/api/v1/agent/leave', token: replacement.token })
  t.equal(left.statusCode, 204)
  const { data: after } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(after!.agent?.status, 'left')
  t.equal(after!.status, 'active', 'the session stays open for the CSR to end')
  t.equal((await h.inject({ method: 'POST', url: '/api/v1/agent/leave', token: replacement.token })).statusCode, 401, 'the token stops working')
})

t.test('tokens never reach the log', async (t) => {
  const { agent } = await activeSession()
  await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  const log = h.logs.join('\n')
  t.notOk(log.includes(agent.token), 'no agent token')
  t.notOk(log.includes(agent.joined.rejoinToken), 'no rejoin token')
  const rows = await h.db.database.db.execute(sql`select count(*) from agents`)
  t.ok(rows)
})
