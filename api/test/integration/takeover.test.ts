import { generateKeyPairSync } from 'node:crypto'
import t, { type Test } from 'tap'
import { eq, sql } from 'drizzle-orm'
import type { Schemas } from '@helpline/sdk'
import { agents, supportSessions } from '../../src/db/schema.ts'
import { testPlatform, testPublicKey, type TestAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'

/**
 * A session cannot be taken over with its number (issue 12, failure 7): once a computer joined,
 * another join with the number is refused and shown to the CSR, whatever state the first agent
 * is in, until the CSR lets a new computer in. The first agent's rejoin token keeps working.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_OFFLINE_AFTER_SECONDS: 30, AGENT_REJOIN_WINDOW_MINUTES: 15 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const { db } = h.app.database
const at = (id: string) => ({ params: { path: { id } } })
const intruderKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
const intruderPlatform = { os: 'linux', osVersion: 'Kali GNU/Linux 2026', arch: 'x64', hostname: 'intruder-box' }

/** A join with the number, from a given client address. */
function join(number: string, platform = intruderPlatform, publicKey = intruderKey, address = '203.0.113.7') {
  return h.inject({
    method: 'POST',
    url: '/api/v1/agent/join',
    payload: { number, protocol: 1, agentVersion: '0.1.0', platform, publicKey },
    remoteAddress: address,
  } as Parameters<typeof h.inject>[0])
}
const asAgent = (joined: Schemas['AgentJoined']): TestAgent => ({ joined, client: h.client(joined.agentToken), token: joined.agentToken })
const poll = (agent: TestAgent) => agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
const session = async (id: string) => (await csr.client.GET('/api/v1/sessions/{id}', at(id))).data!
const chat = async (id: string) => (await csr.client.GET('/api/v1/sessions/{id}/chat', at(id))).data!.data
const eventTypes = async (id: string) => (await csr.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id }, query: { perPage: 100 } } })).data!.data

async function activeSession() {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  const res = await join(s!.number, testPlatform, testPublicKey, '198.51.100.20')
  return { session: s!, agent: asAgent(res.json()) }
}

/** The presence sweep as the server runs it, just past the threshold (30 s): the agent is offline. */
async function goOffline(t: Test, sessionId: string) {
  await h.app.services.agents.markSilentOffline(Date.now() + 31_000)
  t.equal((await session(sessionId)).agent?.status, 'offline', 'the agent is offline past the presence threshold')
}

t.test('failure 7: an offline agent is not replaced by the number; it rejoins; logon keys stay its own; the CSR lets a new computer in', async (t) => {
  const { session: s, agent: real } = await activeSession()
  await goOffline(t, s.id)

  const intruder = await join(s.number)
  t.equal(intruder.statusCode, 409, 'a second computer with the number is refused')
  t.equal(intruder.json().code, 'SESSION_IN_USE')
  t.match(intruder.json().message, /support representative lets it in/)
  const shown = await session(s.id)
  t.match(shown.joinAttempt, { hostname: 'intruder-box', os: 'linux', osVersion: 'Kali GNU/Linux 2026', address: '203.0.113.7', attempts: 1 }, 'the CSR sees who tried')
  t.equal(shown.agent?.id, real.joined.agentId, 'the real agent is still the session’s agent')
  for (let i = 0; i < 3; i++) t.equal((await join(s.number)).statusCode, 409)
  t.equal((await session(s.id)).joinAttempt?.attempts, 4, 'every retry is counted')
  const lines = (await chat(s.id)).filter((m) => m.systemEvent?.type === 'agent.join_refused')
  t.equal(lines.length, 1, 'one chat line for a computer retrying, not one per retry')
  t.match(lines[0]!.body, /intruder-box, Kali GNU\/Linux 2026\) from 203\.0\.113\.7; it was refused/)
  t.equal((await eventTypes(s.id)).filter((e) => e.type === 'agent.join_refused').length, 1, 'and one audit event')
  await join(s.number, { ...intruderPlatform, hostname: 'second-box' }, intruderKey, '203.0.113.8')
  t.equal((await chat(s.id)).filter((m) => m.systemEvent?.type === 'agent.join_refused').length, 2, 'another computer gets its own line')

  const { data: rejoined } = await h.client().POST('/api/v1/agent/rejoin', { body: { rejoinToken: real.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' } })
  t.equal(rejoined?.agentId, real.joined.agentId, 'the real agent rejoins with its rejoin token, no admission needed')
  const back = asAgent(rejoined!)
  t.equal((await poll(back)).response.status, 200)
  const { data: logon } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(s.id))
  t.equal(logon?.publicKey, testPublicKey, 'the CSR’s logon request answers the real agent’s key')

  const { data: admission, response } = await csr.client.POST('/api/v1/sessions/{id}/admit-agent', at(s.id))
  t.equal(response.status, 202)
  t.same(admission?.admittedBy, { id: csr.id, name: 'Carla CSR' })
  const minutes = (Date.parse(admission!.until) - Date.now()) / 60_000
  t.ok(minutes > 4.9 && minutes <= 5, `open for AGENT_ADMISSION_MINUTES (5): ${minutes.toFixed(2)} min`)
  t.same((await session(s.id)).admission, admission, 'the session shows the open admission')

  const newcomer = await join(s.number, { ...intruderPlatform, hostname: 'new-laptop', osVersion: 'Ubuntu 24.04' })
  t.equal(newcomer.statusCode, 201, 'with the CSR’s leave, a new computer joins')
  const after = await session(s.id)
  t.equal(after.agent?.id, newcomer.json().agentId, 'and becomes the session’s agent')
  t.equal(after.admission, null, 'the admission is used up')
  t.equal(after.joinAttempt, null, 'the attempt is settled')
  t.equal((await refused(back.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } }))).status, 401, 'the old agent’s token stops working')
  const oldRejoin = await refused(h.client().POST('/api/v1/agent/rejoin', { body: { rejoinToken: back.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' } }))
  t.equal(oldRejoin.code, 'INVALID_REJOIN_TOKEN', 'and so does its rejoin token')
  const [old] = await db.select().from(agents).where(eq(agents.id, real.joined.agentId))
  t.equal(old?.state, 'replaced')
  t.ok((await chat(s.id)).some((m) => /took the session over, let in by Carla CSR; the previous computer can no longer act/.test(m.body)), 'the chat says so')
  const events = await eventTypes(s.id)
  t.match(events.find((e) => e.type === 'agent.admission_granted'), { actorType: 'user', actorId: csr.id }, 'letting it in is audited with the CSR as actor')
  t.match(events.find((e) => e.type === 'agent.replaced'), { data: { agentId: newcomer.json().agentId, replacedAgentIds: [real.joined.agentId], admittedBy: csr.id } }, 'so is the replacement')
  t.equal((await join(s.number)).statusCode, 409, 'one admission lets one computer in')
  const { data: logon2 } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(s.id))
  t.equal(logon2?.publicKey, intruderKey, 'from now on logon credentials are for the computer the CSR let in')
})

t.test('refused while online, restarting, past the rejoin window and after leaving; an expired admission lets nobody in', async (t) => {
  const { session: s, agent } = await activeSession()
  t.equal((await join(s.number)).statusCode, 409, 'online')
  await db.update(agents).set({ rebootingAt: new Date() }).where(eq(agents.id, agent.joined.agentId))
  t.equal((await join(s.number)).statusCode, 409, 'restarting')
  await db.update(agents).set({ lastSeenAt: new Date(Date.now() - 60 * 60_000) }).where(eq(agents.id, agent.joined.agentId))
  await h.app.services.agents.expireRejoins()
  t.equal((await join(s.number)).statusCode, 409, 'past its rejoin window')
  const { data: fresh } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Bea' } })
  const first = await join(fresh!.number, testPlatform, testPublicKey)
  t.equal(first.statusCode, 201, 'a session that never had an agent takes the first computer without admission')
  await h.inject({ method: 'POST', url: '/api/v1/agent/leave', token: first.json().agentToken })
  t.equal((await join(fresh!.number, testPlatform, testPublicKey)).statusCode, 409, 'after the customer left, too')

  await csr.client.POST('/api/v1/sessions/{id}/admit-agent', at(s.id))
  await db.update(supportSessions).set({ admitUntil: sql`now() - interval '1 second'` }).where(eq(supportSessions.id, s.id))
  t.equal((await session(s.id)).admission, null, 'an expired admission is not shown')
  t.equal((await join(s.number)).statusCode, 409, 'nor does it let anyone in')
})

t.test('admission: refused on a waiting or ended session and for another CSR', async (t) => {
  const { data: waiting } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Cleo' } })
  const notYet = await refused(csr.client.POST('/api/v1/sessions/{id}/admit-agent', at(waiting!.id)))
  t.same([notYet.status, notYet.code], [409, 'SESSION_NOT_ACTIVE'], 'no computer yet: the number lets the first one in')
  const other = await h.createUser('csr')
  t.equal((await refused(other.client.POST('/api/v1/sessions/{id}/admit-agent', at(waiting!.id)))).status, 404, 'someone else’s session is not found')
  await csr.client.POST('/api/v1/sessions/{id}/end', at(waiting!.id))
  const ended = await refused(csr.client.POST('/api/v1/sessions/{id}/admit-agent', at(waiting!.id)))
  t.same([ended.status, ended.code], [409, 'SESSION_ENDED'])
})

t.test('the new computer inherits nothing: open requests and commands are cancelled, system information is asked again', async (t) => {
  const { session: s, agent } = await activeSession()
  const { data: info } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: info!.consent!.id } }, body: { approved: true } })
  const { data: logon } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(s.id))
  await csr.client.POST('/api/v1/sessions/{id}/admit-agent', at(s.id))
  const newcomer = asAgent((await join(s.number, { ...intruderPlatform, hostname: 'new-laptop' })).json())

  const { data: feed } = await poll(newcomer)
  t.same(feed!.commands, [], 'the collection approved on the old computer is not handed to the new one')
  t.notOk(feed!.consents.some((c) => c.status === 'pending'), 'nor is the old computer’s open request asked of it')
  const { data: consents } = await csr.client.GET('/api/v1/sessions/{id}/consents', at(s.id))
  t.equal(consents!.data.find((c) => c.id === logon!.consent!.id)?.status, 'cancelled')
  t.equal(consents!.data.find((c) => c.id === info!.consent!.id)?.status, 'expired', 'the session-long consent ends with its computer')
  const { data: commands } = await csr.client.GET('/api/v1/sessions/{id}/commands', at(s.id))
  t.equal(commands!.data.find((c) => c.id === info!.command!.id)?.status, 'cancelled')
  const { data: again } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  t.ok(again!.consent, 'the new computer’s customer is asked')
})
