import t from 'tap'
import type { Schemas } from '@helpline/sdk'
import { encryptCredentials } from '@helpline/sdk'
import { joinAgent, sampleUpload, testPublicKey, type TestAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * Issue 14, items 7 and 3: the API reads the same way everywhere, and its exports speak the CSR’s language. Actions that queue work answer 202
 * with one body; snapshots come newest first; a run's chat line carries its output; an ended
 * session's agent is `left`; an approved logon takes three attempts; the password policy is
 * served and named.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_POLL_WAIT_SECONDS: 1, PASSWORD_MIN_LENGTH: 12 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const at = (id: string) => ({ params: { path: { id } } })

async function activeSession() {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  return { session: s!, agent: await joinAgent(h, s!.number) }
}
async function poll(agent: TestAgent) {
  return (await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })).data!
}
const answer = (agent: TestAgent, consentId: string) =>
  agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consentId } }, body: { approved: true } })
const report = (agent: TestAgent, id: string, body: { sequence: number; status: 'succeeded' | 'failed'; message?: string; data?: Record<string, unknown> }) =>
  agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id } }, body })

t.test('every action that queues work answers 202 with the same body', async (t) => {
  const { session, agent } = await activeSession()
  const shape = (body: unknown) => Object.keys(body as object).filter((k) => k === 'command' || k === 'consent').sort()
  const refresh = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const logon = await csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id))
  await answer(agent, logon.data!.consent!.id)
  const credentials = await csr.client.POST('/api/v1/sessions/{id}/logon/credentials', {
    ...at(session.id),
    body: { consentId: logon.data!.consent!.id, ciphertext: await encryptCredentials(testPublicKey, { username: 'fixer', password: 'x' }) },
  })
  await poll(agent)
  await report(agent, credentials.data!.command!.id, { sequence: 0, status: 'succeeded', data: { username: 'fixer' } })
  const logoff = await csr.client.POST('/api/v1/sessions/{id}/logoff', at(session.id))
  await report(agent, logoff.data!.command!.id, { sequence: 0, status: 'succeeded' })
  const reboot = await csr.client.POST('/api/v1/sessions/{id}/reboot', at(session.id))
  const answers = { refresh, logon, credentials, logoff, reboot }
  for (const [name, { response, data }] of Object.entries(answers)) {
    t.equal(response.status, 202, `${name}: 202 Accepted`)
    t.same(shape(data), ['command', 'consent'], `${name}: { command, consent }`)
  }
  t.equal(logon.data!.command, null, 'a logon request queues its command with the credentials')
  t.ok(logon.data!.publicKey, 'and carries the key to encrypt them for')
  t.same([refresh.data!.command!.kind, reboot.data!.consent!.kind, logoff.data!.consent], ['collect_system_info', 'reboot', null])
})

t.test('snapshots: newest first unless order=asc', async (t) => {
  const { session, agent } = await activeSession()
  for (let i = 0; i < 2; i++) {
    const { data } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
    if (data!.consent) await answer(agent, data!.consent.id)
    const upload = { ...sampleUpload(), collectedAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }
    await agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: data!.command!.id } }, body: upload })
  }
  const newest = (await csr.client.GET('/api/v1/sessions/{id}/snapshots', at(session.id))).data!.data.map((s) => s.collectedAt.slice(0, 10))
  t.same(newest, ['2026-01-02', '2026-01-01'], 'the latest first by default')
  const oldest = await csr.client.GET('/api/v1/sessions/{id}/snapshots', { params: { path: { id: session.id }, query: { order: 'asc' } } })
  t.same(oldest.data!.data.map((s) => s.collectedAt.slice(0, 10)), ['2026-01-01', '2026-01-02'])
})

t.test('a run’s chat line references its output and carries its last lines', async (t) => {
  const { session, agent } = await activeSession()
  const script = await upload(csr, await createCategory(h, 'Consistency'), { name: 'Chatty', published: true })
  await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [session.id] } })
  await answer(agent, (await poll(agent)).consents.find((c) => c.kind === 'run_scripts')!.id)
  const command = (await poll(agent)).commands.find((c) => c.kind === 'run_scripts')!
  const runId = (command.payload as Schemas['RunScriptsPayload']).scripts[0]!.runId
  const run = { params: { path: { id: runId } } }
  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...run, body: { startId: 'chatty-start-01' } })
  const text = Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join('') + 'x'.repeat(5000) + '\n'
  await agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...run, body: { chunks: [{ sequence: 0, stream: 'stdout', data: text }] } })
  await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...run, body: { status: 'succeeded', exitCode: 0, durationMs: 50 } })
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  const line = chat!.data.find((m) => m.systemEvent?.type === 'script_run')!
  const data = line.systemEvent!.data as { output: string; tail: string[]; outputBytes: number }
  t.equal(data.output, `/api/v1/script-runs/${runId}/output`, 'where the whole output is')
  t.equal(data.outputBytes, Buffer.byteLength(text))
  t.ok(data.tail.length >= 1 && data.tail.join('').length <= 2000, 'its last lines, bounded')
  t.match(data.tail.at(-1), /^x+$/, 'ending with the last line written')
  const followed = await h.inject({ method: 'GET', url: data.output, token: csr.token })
  t.equal(followed.statusCode, 200, 'the reference can be followed')
})

t.test('an ended session’s agent reads left, also on the live stream', async (t) => {
  const { session } = await activeSession()
  t.equal((await csr.client.GET('/api/v1/sessions/{id}', at(session.id))).data!.agent!.status, 'online')
  const { data: ended } = await csr.client.POST('/api/v1/sessions/{id}/end', at(session.id))
  t.equal(ended!.agent!.status, 'left')
  t.ok(ended!.agent!.leftAt)
  const { events } = await h.app.services.stream.read(session.id, ended!.cursor - 5)
  const agentEvents = events.filter((e) => e.event === 'agent') as { data: { status: string } }[]
  t.equal(agentEvents.at(-1)?.data.status, 'left')
})

t.test('an approved logon takes three attempts, one at a time; then the customer is asked again', async (t) => {
  const { session, agent } = await activeSession()
  const { data: asked } = await csr.client.POST('/api/v1/sessions/{id}/logon', at(session.id))
  await answer(agent, asked!.consent!.id)
  const send = async () =>
    csr.client.POST('/api/v1/sessions/{id}/logon/credentials', {
      ...at(session.id),
      body: { consentId: asked!.consent!.id, ciphertext: await encryptCredentials(testPublicKey, { username: 'fixer', password: 'wrong' }) },
    })
  for (let attempt = 1; attempt <= 3; attempt++) {
    const { data, response } = await send()
    t.equal(response.status, 202, `attempt ${attempt} is relayed`)
    if (attempt === 1) {
      const busy = await refused(send())
      t.same([busy.status, busy.code], [409, 'ALREADY_QUEUED'], 'not while the previous one is on its way')
    }
    await poll(agent)
    await report(agent, data!.command!.id, { sequence: 0, status: 'failed', message: 'Logon failed: wrong user name or password', data: { reason: 'bad_credentials' } })
  }
  const spent = await refused(send())
  t.same([spent.status, spent.code], [409, 'CONSENT_REQUIRED'])
  t.match(spent.message, /3 attempts/)
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  const failures = chat!.data.filter((m) => m.systemEvent?.type === 'agent.logon_failed')
  t.equal(failures.length, 3)
  t.same(failures[0]!.body, 'Logon failed: wrong user name or password', 'said once, not twice')
  t.same(failures[0]!.systemEvent!.data, { reason: 'bad_credentials', message: 'wrong user name or password' })
})

t.test('the password policy is served with /me, and WEAK_PASSWORD names it', async (t) => {
  const { data: me } = await csr.client.GET('/api/v1/me')
  t.same(me!.passwordPolicy, { minLength: 12, minDistinct: 4 })
  const short = await refused(
    h.admin.client.POST('/api/v1/users', { body: { email: 'short@example.com', name: 'Short', role: 'csr', password: 'abcdefg' } }),
  )
  t.same([short.status, short.code], [422, 'WEAK_PASSWORD'])
  t.match(short.message, /at least 12 characters/)
  const repetitive = await refused(
    h.admin.client.POST('/api/v1/users', { body: { email: 'rep@example.com', name: 'Rep', role: 'csr', password: 'aaaaaaaaaaaaaaaa' } }),
  )
  t.match(repetitive.message, /too repetitive: use at least 12 characters, at least 4 of them different/)
})

t.test('item 3: the .txt exports in the chosen language: ?lang, then Accept-Language, else English', async (t) => {
  const { session, agent } = await activeSession()
  const { data } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  await answer(agent, data!.consent!.id)
  await agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: data!.command!.id } }, body: sampleUpload() })
  const [snapshot] = (await csr.client.GET('/api/v1/sessions/{id}/snapshots', at(session.id))).data!.data
  const get = (url: string, headers: Record<string, string> = {}) => h.inject({ method: 'GET', url, token: csr.token, headers })
  const report = `/api/v1/sessions/${session.id}/report/text`

  const ja = await get(`${report}?lang=ja`)
  t.equal(ja.statusCode, 200)
  t.equal(ja.headers['content-language'], 'ja')
  t.match(ja.body, /^Helpline セッションレポート \d{3}-\d{3}-\d{3}/)
  t.match(ja.body, /お客様:\s+Alice/)
  t.match(ja.body, /システム情報を収集しました/, 'the server’s chat lines are worded in Japanese from their event')
  t.match(ja.body, /お客様が許可しました: システム情報の表示/, 'timeline entries too')
  t.notMatch(ja.body, /Who and when|Timeline|Consent requests|Customer:/, 'no English headings')

  const cases: [string, Record<string, string>, 'en' | 'ja'][] = [
    ['', {}, 'en'],
    ['', { 'accept-language': 'fr-FR, ja;q=0.8, en;q=0.5' }, 'ja'],
    ['', { 'accept-language': 'ja;q=0.3, en-GB' }, 'en'],
    ['', { 'accept-language': 'de, fr' }, 'en'],
    ['?lang=fr', { 'accept-language': 'ja' }, 'en'],
    ['?lang=EN', { 'accept-language': 'ja' }, 'en'],
    ['?lang=ja-JP', {}, 'ja'],
  ]
  for (const [query, headers, expected] of cases) {
    const res = await get(`${report}${query}`, headers)
    t.equal(res.headers['content-language'], expected, `${query || '(no lang)'} ${JSON.stringify(headers)} → ${expected}`)
    t.match(res.body, expected === 'ja' ? /^Helpline セッションレポート/ : /^Helpline session report/)
  }
  const en = await get(report)
  t.match(en.body, /Customer: {3}Alice/, 'English keeps its layout')
  t.match(en.body, /System information collected/)

  const snapshotText = `/api/v1/sessions/${session.id}/snapshots/${snapshot!.id}/text`
  const sysJa = await get(snapshotText, { 'accept-language': 'ja-JP,ja;q=0.9' })
  t.equal(sysJa.headers['content-language'], 'ja')
  t.match(sysJa.body, /Helpline: システム情報/)
  t.match(sysJa.body, /# ハードウェア/, 'category headings in Japanese')
  const sysFr = await get(`${snapshotText}?lang=fr`)
  t.match(sysFr.body, /Helpline: system information/, 'another language reads English')
  const tooLong = await get(`${snapshotText}?lang=${'x'.repeat(40)}`)
  t.equal(tooLong.statusCode, 400, 'a nonsense value is a 400, never a 500')
})
