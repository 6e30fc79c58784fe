import { generateKeyPairSync, privateDecrypt, constants } from 'node:crypto'
import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { encryptCredentials } from '@helpline/sdk'
import { commands } from '../../src/db/schema.ts'
import { testPlatform, type TestAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'

/**
 * Log on as another user, log off and reboot through the API, with the SDK playing the agent
 * (a real key pair, so the agent side really decrypts): consent first, credentials relayed once
 * and never kept, what the session shows, and the session report.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_POLL_WAIT_SECONDS: 1, LOGON_CREDENTIALS_TTL_SECONDS: 10 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const other = await h.createUser('csr', { name: 'Olga Other' })
const { db } = h.app.database
const at = (id: string) => ({ params: { path: { id } } })
const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
const PASSWORD = 'correct horse battery staple 42'

async function activeSession(user = csr) {
  const { data: s } = await user.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  const { data: joined } = await h.client().POST('/api/v1/agent/join', {
    body: { number: s!.number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: keys.publicKey },
  })
  const agent: TestAgent = { joined: joined!, client: h.client(joined!.agentToken), token: joined!.agentToken }
  return { session: s!, agent }
}
async function poll(agent: TestAgent, cursor = 0) {
  return (await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })).data!
}
async function answer(agent: TestAgent, consentId: string, approved = true) {
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consentId } }, body: { approved } })
}
const report = (agent: TestAgent, id: string, body: { sequence: number; status?: 'running' | 'succeeded' | 'failed'; message?: string; data?: Record<string, unknown> }) =>
  agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id } }, body })

t.test('log on: consent, credentials encrypted for the agent and relayed once, logged on, log off', async (t) => {
  const { session, agent } = await activeSession()
  const early = await refused(csr.client.POST('/api/v1/sessions/{id}/logoff', at(session.id)))
  t.same([early.status, early.code], [409, 'NOT_LOGGED_ON'])
  const { data: asked, response } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id))
  t.equal(response.status, 202)
  t.equal(asked!.publicKey, keys.publicKey, 'the console gets the agent’s public key')
  t.equal(asked!.algorithm, 'RSA-OAEP-256')
  t.equal(asked!.consent!.kind, 'logon_as_user')
  t.match(String(asked!.consent!.details.effect), /as another user .* On Windows, open programs may close/, 'the customer is warned what happens')
  const pending = await refused(csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id)))
  t.same([pending.status, pending.code], [409, 'CONSENT_PENDING'])

  const ciphertext = await encryptCredentials(asked!.publicKey!, { username: 'fixer', password: PASSWORD })
  const tooEarly = await refused(csr.client.POST('/api/v1/sessions/{id}/logon/credentials', { ...at(session.id), body: { consentId: asked!.consent!.id, ciphertext } }))
  t.same([tooEarly.status, tooEarly.code], [409, 'CONSENT_REQUIRED'], 'credentials before the customer approved are refused')
  const unknown = await refused(csr.client.POST('/api/v1/sessions/{id}/logon/credentials', { ...at(session.id), body: { consentId: '00000000-0000-4000-8000-000000000000', ciphertext } }))
  t.equal(unknown.status, 404)

  await answer(agent, asked!.consent!.id)
  const { data: sent, response: r2 } = await csr.client.POST('/api/v1/sessions/{id}/logon/credentials', { ...at(session.id), body: { consentId: asked!.consent!.id, ciphertext } })
  t.equal(r2.status, 202)
  const reused = await refused(csr.client.POST('/api/v1/sessions/{id}/logon/credentials', { ...at(session.id), body: { consentId: asked!.consent!.id, ciphertext } }))
  t.same([reused.status, reused.code], [409, 'ALREADY_QUEUED'], 'one set of credentials at a time')

  const feed = await poll(agent)
  const command = feed.commands.find((c) => c.id === sent!.command!.id)!
  const plain = privateDecrypt({ key: keys.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(String(command.payload.ciphertext), 'base64'))
  t.same(JSON.parse(plain.toString()), { username: 'fixer', password: PASSWORD }, 'only the agent’s private key opens it')
  const [stored] = await db.select().from(commands).where(eq(commands.id, command.id))
  t.same(stored!.payload, {}, 'once handed out, the server keeps nothing of it')
  t.notOk((await poll(agent)).commands.find((c) => c.id === command.id)?.payload.ciphertext, 'and never hands it out again')

  await report(agent, command.id, { sequence: 0, status: 'succeeded', data: { username: 'fixer' } })
  const { data: s1 } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(s1!.agent!.workingAs, 'fixer', 'the console shows who the agent works as')
  const { data: off } = await csr.client.POST('/api/v1/sessions/{id}/logoff', at(session.id))
  t.equal(off!.command!.kind, 'logoff')
  const twice = await refused(csr.client.POST('/api/v1/sessions/{id}/logoff', at(session.id)))
  t.same([twice.status, twice.code], [409, 'ALREADY_QUEUED'])
  await report(agent, off!.command!.id, { sequence: 0, status: 'succeeded', data: { username: 'alice' } })
  const { data: s2 } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(s2!.agent!.workingAs, null, 'back to the customer’s own user')
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  t.ok(chat!.data.some((m) => m.body === 'Logged on to the customer’s computer as fixer'))
  t.ok(chat!.data.some((m) => m.body === 'Logged off fixer: back to the customer’s own user'))

  for (const table of ['commands', 'command_reports', 'session_events', 'chat_messages', 'consent_requests', 'agents']) {
    const rows = await db.execute(sql.raw(`select * from ${table}`))
    const text = JSON.stringify(rows)
    t.notOk(text.includes(PASSWORD) || text.includes(ciphertext), `${table}: neither the password nor its ciphertext`)
  }
  t.notOk(h.logs.join('\n').includes(ciphertext), 'the server log never has the ciphertext')
})

t.test('wrong credentials, and credentials nobody picks up, change nothing', async (t) => {
  const { session, agent } = await activeSession()
  const { data: asked } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id))
  await answer(agent, asked!.consent!.id)
  const { data: sent } = await csr.client.POST('/api/v1/sessions/{id}/logon/credentials', {
    ...at(session.id),
    body: { consentId: asked!.consent!.id, ciphertext: await encryptCredentials(keys.publicKey, { username: 'fixer', password: 'wrong' }) },
  })
  await poll(agent)
  await report(agent, sent!.command!.id, { sequence: 0, status: 'failed', message: 'Logon failed: wrong user name or password', data: { reason: 'bad_credentials' } })
  const { data: s } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(s!.agent!.workingAs, null, 'still the customer’s user')
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  t.ok(chat!.data.some((m) => m.body === 'Logon failed: wrong user name or password' && m.systemEvent?.type === 'agent.logon_failed'), 'the CSR sees logon failed, said once')

  const { data: again } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id))
  await answer(agent, again!.consent!.id)
  const { data: late } = await csr.client.POST('/api/v1/sessions/{id}/logon/credentials', {
    ...at(session.id),
    body: { consentId: again!.consent!.id, ciphertext: await encryptCredentials(keys.publicKey, { username: 'fixer', password: PASSWORD }) },
  })
  t.equal(await h.app.services.access.expireCredentials(Date.now() + 60_000), 1, 'dropped after their time')
  const [row] = await db.select().from(commands).where(eq(commands.id, late!.command!.id))
  t.same([row!.status, row!.payload], ['cancelled', {}], 'the command is cancelled and holds nothing')
})

t.test('reboot: consent, rebooting, rejoin after the restart; ending a session while logged on; offline agents', async (t) => {
  const { session, agent } = await activeSession()
  const { data: asked, response } = await csr.client.POST('/api/v1/sessions/{id}/reboot', at(session.id))
  t.equal(response.status, 202)
  t.equal(asked!.consent!.kind, 'reboot')
  t.match(String(asked!.consent!.details.effect), /Save your work/)
  const dup = await refused(csr.client.POST('/api/v1/sessions/{id}/reboot', at(session.id)))
  t.same([dup.status, dup.code], [409, 'ALREADY_QUEUED'])
  t.notOk((await poll(agent)).commands.some((c) => c.kind === 'reboot'), 'nothing before the customer approves')
  await answer(agent, asked!.consent!.id)
  const command = (await poll(agent)).commands.find((c) => c.kind === 'reboot')!
  await report(agent, command.id, { sequence: 0, status: 'running', data: { rebooting: true } })
  await report(agent, command.id, { sequence: 1, status: 'succeeded' })
  const { data: s1 } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(s1!.agent!.rebooting, true, 'the session shows rebooting')
  const offline = await refused(csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id)))
  t.same([offline.status, offline.code], [409, 'AGENT_OFFLINE'], 'nothing can be asked of a restarting computer')
  t.notOk((await poll(agent)).commands.some((c) => c.id === command.id), 'an acknowledged reboot is never sent again')

  const { data: back } = await h.client().POST('/api/v1/agent/rejoin', { body: { rejoinToken: agent.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' } })
  t.equal(back!.agentId, agent.joined.agentId, 'the same agent rejoins with its token')
  const reusedToken = await refused(h.client().POST('/api/v1/agent/rejoin', { body: { rejoinToken: agent.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' } }))
  t.same([reusedToken.status, reusedToken.code], [401, 'INVALID_REJOIN_TOKEN'], 'a reused rejoin token is refused')
  const { data: s2 } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(s2!.agent!.rebooting, false)
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  t.ok(chat!.data.some((m) => m.body === 'Alice rejoined after the restart'), 'the CSR sees the customer rejoined')

  const rejoined: TestAgent = { joined: back!, client: h.client(back!.agentToken), token: back!.agentToken }
  const { data: logon } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id))
  await answer(rejoined, logon!.consent!.id)
  const { data: sent } = await csr.client.POST('/api/v1/sessions/{id}/logon/credentials', {
    ...at(session.id),
    body: { consentId: logon!.consent!.id, ciphertext: await encryptCredentials(keys.publicKey, { username: 'fixer', password: PASSWORD }) },
  })
  await poll(rejoined)
  await report(rejoined, sent!.command!.id, { sequence: 0, status: 'succeeded', data: { username: 'fixer' } })
  await csr.client.POST('/api/v1/sessions/{id}/end', at(session.id))
  const { data: ended } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(ended!.agent!.workingAs, null, 'ending the session returns to the customer’s user')
  const { data: events } = await csr.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100 } } })
  t.ok(events!.data.some((e) => e.type === 'agent.logged_off' && e.data.reason === 'session_ended'), 'and the record says so')
  const endedErr = await refused(csr.client.POST('/api/v1/sessions/{id}/reboot', at(session.id)))
  t.same([endedErr.status, endedErr.code], [409, 'SESSION_ENDED'])

  const { data: waiting } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Nobody yet' } })
  for (const call of [
    () => csr.client.POST('/api/v1/sessions/{id}/logon', at(waiting!.id)),
    () => csr.client.POST('/api/v1/sessions/{id}/reboot', at(waiting!.id)),
    () => csr.client.POST('/api/v1/sessions/{id}/logoff', at(waiting!.id)),
    () => csr.client.POST('/api/v1/sessions/{id}/logon/credentials', { ...at(waiting!.id), body: { consentId: logon!.consent!.id, ciphertext: 'AAAAAAAAAAAAAAAAAAAAAA==' } }),
  ]) {
    t.equal((await refused(call())).status, 409, 'a session nobody joined')
  }
  for (const call of [
    () => other.client.POST('/api/v1/sessions/{id}/logon', at(session.id)),
    () => other.client.POST('/api/v1/sessions/{id}/reboot', at(session.id)),
    () => other.client.POST('/api/v1/sessions/{id}/logoff', at(session.id)),
    () => other.client.POST('/api/v1/sessions/{id}/logon/credentials', { ...at(session.id), body: { consentId: logon!.consent!.id, ciphertext: 'AAAAAAAAAAAAAAAAAAAAAA==' } }),
    () => other.client.GET('/api/v1/sessions/{id}/report', at(session.id)),
    () => other.client.GET('/api/v1/sessions/{id}/report/text', at(session.id)),
  ]) {
    t.equal((await refused(call())).status, 404, 'another CSR’s session does not exist for them')
  }
})

t.test('the report has every event, consent, script run and chat line; as text too; the list filters by date', async (t) => {
  const { session, agent } = await activeSession()
  await csr.client.POST('/api/v1/sessions/{id}/chat', { ...at(session.id), body: { body: 'Hello, I will run a check' } })
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  await answer(agent, refresh!.consent!.id, false)
  const { data: r } = await csr.client.GET('/api/v1/sessions/{id}/report', at(session.id))
  const { data: events } = await csr.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100 } } })
  t.same(r!.timeline.map((e) => e.id), events!.data.map((e) => e.id), 'every event of the session, in order')
  t.same(r!.consents.map((c) => [c.kind, c.status]), [['view_system_info', 'denied']])
  t.ok(r!.chat.some((m) => m.body === 'Hello, I will run a check'), 'the chat transcript')
  t.equal(r!.session.csr.name, 'Carla CSR')
  t.equal(r!.agentPlatform?.hostname, 'customer-pc')
  t.ok(r!.durationSeconds !== null && r!.durationSeconds >= 0)
  const text = await h.inject({ method: 'GET', url: `/api/v1/sessions/${session.id}/report/text`, token: csr.token })
  t.equal(text.statusCode, 200)
  t.match(text.headers['content-disposition'], /session-report-\d{3}-\d{3}-\d{3}\.txt/)
  t.match(text.body, /Customer: {3}Alice/)
  t.match(text.body, /consent\.denied/)
  t.match(text.body, /Carla CSR: Hello, I will run a check/)
  const missing = await refused(csr.client.GET('/api/v1/sessions/{id}/report', at('00000000-0000-4000-8000-000000000000')))
  t.equal(missing.status, 404)

  const before = new Date(Date.now() - 3_600_000).toISOString()
  const { data: recent } = await csr.client.GET('/api/v1/sessions', { params: { query: { from: before, perPage: 100 } } })
  t.ok(recent!.data.some((s) => s.id === session.id), 'found from an hour ago')
  const { data: old } = await csr.client.GET('/api/v1/sessions', { params: { query: { to: before } } })
  t.equal(old!.total, 0, 'nothing created before then')
})

t.test('a customer who leaves while logged on as another user: the record says the agent logged off', async (t) => {
  const { session, agent } = await activeSession()
  const { data: asked } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id))
  await answer(agent, asked!.consent!.id)
  const { data: sent } = await csr.client.POST('/api/v1/sessions/{id}/logon/credentials', {
    ...at(session.id),
    body: { consentId: asked!.consent!.id, ciphertext: await encryptCredentials(keys.publicKey, { username: 'fixer', password: PASSWORD }) },
  })
  await poll(agent)
  await report(agent, sent!.command!.id, { sequence: 0, status: 'succeeded', data: { username: 'fixer' } })
  await agent.client.POST('/api/v1/agent/leave')
  const { data: s } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.equal(s!.agent!.workingAs, null)
  const { data: events } = await csr.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100 } } })
  t.ok(events!.data.some((e) => e.type === 'agent.logged_off' && e.data.reason === 'customer_left' && e.data.username === 'fixer'))
})

t.test('a computer that does not come back within the rejoin window: the session says so, the token is dead', async (t) => {
  const { session, agent } = await activeSession()
  const { data: asked } = await csr.client.POST('/api/v1/sessions/{id}/reboot', at(session.id))
  await answer(agent, asked!.consent!.id)
  const command = (await poll(agent)).commands.find((c) => c.kind === 'reboot')!
  await report(agent, command.id, { sequence: 0, status: 'running', data: { rebooting: true } })
  t.equal(await h.app.services.agents.expireRejoins(Date.now() + 60_000), 0, 'not within the window')
  t.equal(await h.app.services.agents.expireRejoins(Date.now() + 16 * 60_000), 1, 'after 15 minutes')
  const { data: s } = await csr.client.GET('/api/v1/sessions/{id}', at(session.id))
  t.same([s!.agent!.rebooting, s!.agent!.status], [false, 'offline'])
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  t.ok(chat!.data.some((m) => m.systemEvent?.type === 'agent.rejoin_expired' && /did not come back within 15 min/.test(m.body)), 'the CSR is told')
  const late = await refused(h.client().POST('/api/v1/agent/rejoin', { body: { rejoinToken: agent.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' } }))
  t.same([late.status, late.code], [401, 'INVALID_REJOIN_TOKEN'], 'the rejoin token no longer works')
})
