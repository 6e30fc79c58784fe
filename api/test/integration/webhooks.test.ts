import { createHmac } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { eq } from 'drizzle-orm'
import { verifyWebhook } from '@helpline/sdk'
import { webhookDeliveries, webhookEndpoints } from '../../src/db/schema.ts'
import { systemActor } from '../../src/services/feed.ts'
import { SUBSCRIBED_TYPES_TTL_MS, WEBHOOK_ENDPOINTS_TOPIC } from '../../src/services/webhooks-outbox.ts'
import { WebhookWorker } from '../../src/services/webhooks-worker.ts'
import { joinAgent, type TestAgent } from '../helpers/agent.ts'
import { secondInstance, setupApp, type TestUser } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * Webhooks end to end against a real HTTP receiver on loopback: admins register endpoints, the
 * five events become signed Standard Webhooks deliveries (written with the event, sent by the
 * worker), failing, hanging and redirecting receivers are retried and then given up on, and a
 * delivery can be replayed. Timeouts and retry delays are shortened through config.
 */
const TIMEOUT_MS = 3000
const h = await setupApp(t, {
  JOIN_MAX_ATTEMPTS_PER_IP: 10_000,
  JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000,
  AGENT_POLL_WAIT_SECONDS: 1,
  PUBLIC_URL: 'https://help.example.com',
  WEBHOOK_TIMEOUT_MS: TIMEOUT_MS,
  WEBHOOK_RETRY_SECONDS: '0.1,0.1,0.1,0.1,0.1',
  WEBHOOK_WORKER_INTERVAL_MS: 30,
})
const csr = await h.createUser('csr')
const { db } = h.app.database

interface Received {
  path: string
  headers: IncomingMessage['headers']
  body: string
}

/** The receiver: each path answers as its handler says; every request is recorded. */
const received: Received[] = []
const handlers = new Map<string, (res: ServerResponse, n: number) => void>()
const hanging = new Set<ServerResponse>()
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const path = req.url ?? '/'
    received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
    const handler = handlers.get(path) ?? ((r) => r.writeHead(204).end())
    handler(res, received.filter((r) => r.path === path).length)
  })
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
t.teardown(() => {
  for (const res of hanging) res.destroy()
  receiver.closeAllConnections()
  receiver.close()
})

const allEvents = ['session.started', 'session.ended', 'consent.answered', 'script_batch.finished', 'agent.rebooted'] as const
const at = (id: string) => ({ params: { path: { id } } })

async function until<T>(what: string, read: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const found = await read()
    if (found !== undefined && found !== false) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function createEndpoint(path: string, eventTypes: readonly (typeof allEvents)[number][] = allEvents, user: TestUser = h.admin) {
  const { data, response } = await user.client.POST('/api/v1/webhooks', { body: { url: `${base}${path}`, eventTypes: [...eventTypes], description: path } })
  t.equal(response.status, 201)
  return data!
}

async function deliveries(endpointId: string) {
  const { data } = await h.admin.client.GET('/api/v1/webhooks/{id}/deliveries', { params: { path: { id: endpointId }, query: { perPage: 100 } } })
  return data!.data
}

async function activeSession(): Promise<{ id: string; agent: TestAgent }> {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  return { id: s!.id, agent: await joinAgent(h, s!.number) }
}
const poll = async (agent: TestAgent) => (await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })).data!
const answer = (agent: TestAgent, id: string, approved: boolean) => agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id } }, body: { approved } })

t.test('only site admins manage webhooks: every operation refuses a CSR and an anonymous caller', async (t) => {
  const endpoint = await createEndpoint('/auth-check')
  const { data: list } = await h.admin.client.GET('/api/v1/webhooks')
  t.ok(list!.data.some((e) => e.id === endpoint.id))
  const someId = '00000000-0000-4000-8000-000000000000'
  const calls = [
    { method: 'GET', url: '/api/v1/webhooks' },
    { method: 'POST', url: '/api/v1/webhooks', payload: { url: `${base}/x`, eventTypes: ['session.ended'] } },
    { method: 'GET', url: `/api/v1/webhooks/${endpoint.id}` },
    { method: 'PATCH', url: `/api/v1/webhooks/${endpoint.id}`, payload: { enabled: false } },
    { method: 'DELETE', url: `/api/v1/webhooks/${endpoint.id}` },
    { method: 'GET', url: `/api/v1/webhooks/${endpoint.id}/deliveries` },
    { method: 'POST', url: `/api/v1/webhooks/${endpoint.id}/deliveries/${someId}/replay` },
  ] as const
  for (const call of calls) {
    const asCsr = await h.inject({ ...call, token: csr.token })
    t.equal(asCsr.statusCode, 403, `CSR: ${call.method} ${call.url}`)
    const anonymous = await h.inject({ ...call })
    t.equal(anonymous.statusCode, 401, `anonymous: ${call.method} ${call.url}`)
  }
  const { data: still } = await h.admin.client.GET('/api/v1/webhooks/{id}', at(endpoint.id))
  t.equal(still!.enabled, true, 'nothing the CSR tried changed the endpoint')
})

t.test('an endpoint must be http(s): 422 naming the URL; unknown ids are 404', async (t) => {
  for (const url of ['ftp://files.example.com/hook', 'javascript:alert(1)', 'file:///etc/passwd', 'not a url', 'https://user:pw@example.com/hook']) {
    const err = await refused(h.admin.client.POST('/api/v1/webhooks', { body: { url, eventTypes: ['session.ended'] } }))
    t.same([err.status, err.code], [422, 'WEBHOOK_URL_INVALID'], url)
    t.ok(err.message.includes(JSON.stringify(url)), `the message names ${url}`)
    t.ok(err.errors.url, 'the url field is marked')
  }
  const endpoint = await createEndpoint('/url-check')
  const patch = await refused(h.admin.client.PATCH('/api/v1/webhooks/{id}', { ...at(endpoint.id), body: { url: 'gopher://old.example.com' } }))
  t.same([patch.status, patch.code], [422, 'WEBHOOK_URL_INVALID'])
  const { data: renamed } = await h.admin.client.PATCH('/api/v1/webhooks/{id}', { ...at(endpoint.id), body: { url: `${base}/renamed`, eventTypes: ['session.ended'] } })
  t.same([renamed!.url, renamed!.eventTypes], [`${base}/renamed`, ['session.ended']])

  const none = '00000000-0000-4000-8000-000000000000'
  for (const call of [
    () => h.admin.client.GET('/api/v1/webhooks/{id}', at(none)),
    () => h.admin.client.PATCH('/api/v1/webhooks/{id}', { ...at(none), body: { enabled: false } }),
    () => h.admin.client.DELETE('/api/v1/webhooks/{id}', at(none)),
    () => h.admin.client.GET('/api/v1/webhooks/{id}/deliveries', at(none)),
    () => h.admin.client.POST('/api/v1/webhooks/{id}/deliveries/{deliveryId}/replay', { params: { path: { id: endpoint.id, deliveryId: none } } }),
  ]) {
    t.equal((await refused(call())).status, 404)
  }
  const { response } = await h.admin.client.DELETE('/api/v1/webhooks/{id}', at(endpoint.id))
  t.equal(response.status, 204)
})

t.test('the five events arrive signed (Standard Webhooks), once each, with the report link; the secret is shown once and kept sealed', async (t) => {
  const endpoint = await createEndpoint('/all')
  const onlyEnded = await createEndpoint('/only-ended', ['session.ended'])
  const disabled = await createEndpoint('/disabled')
  await h.admin.client.PATCH('/api/v1/webhooks/{id}', { ...at(disabled.id), body: { enabled: false } })
  t.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a whsec_ secret of 32 random bytes')
  const { data: shown } = await h.admin.client.GET('/api/v1/webhooks/{id}', at(endpoint.id))
  t.notOk('secret' in shown!, 'reading the endpoint does not show the secret again')
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id))
  t.notOk(row!.secretSealed.includes(endpoint.secret.slice(6)), 'the database holds the secret sealed')
  t.equal(h.keyring.open(row!.secretSealed), endpoint.secret)
  t.notOk(h.logs.some((line) => line.includes(endpoint.secret.slice(6))), 'the secret is in no log line')

  // Two more workers on the same database: the claim's SKIP LOCKED keeps each delivery to one sender.
  const extra = [1, 2].map(() => new WebhookWorker(db, h.keyring, { timeoutMs: TIMEOUT_MS, retryDelaysMs: [100], intervalMs: 20 }, h.app.log))
  for (const w of extra) w.start()
  t.teardown(() => Promise.all(extra.map((w) => w.stop())))

  const { id, agent } = await activeSession()
  // consent.answered (approved): system information.
  const { data: info } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(id))
  const infoConsent = (await poll(agent)).consents.find((c) => c.kind === 'view_system_info')!
  t.ok(info)
  await answer(agent, infoConsent.id, true)
  // consent.answered (denied) and script_batch.finished: every run of the batch is denied.
  const script = await upload(csr, await createCategory(h, 'Webhook scripts'))
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [id] } })
  const runConsent = (await poll(agent)).consents.find((c) => c.kind === 'run_scripts')!
  await answer(agent, runConsent.id, false)
  // agent.rebooted: approved reboot, the agent goes, and rejoins with its token.
  const { data: reboot } = await csr.client.POST('/api/v1/sessions/{id}/reboot', at(id))
  await answer(agent, reboot!.consent!.id, true)
  const command = (await poll(agent)).commands.find((c) => c.kind === 'reboot')!
  const report = (body: { sequence: number; status: 'running' | 'succeeded'; data?: Record<string, unknown> }) =>
    agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: command.id } }, body })
  await report({ sequence: 0, status: 'running', data: { rebooting: true } })
  await report({ sequence: 1, status: 'succeeded' })
  await h.client().POST('/api/v1/agent/rejoin', { body: { rejoinToken: agent.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' } })
  await csr.client.POST('/api/v1/sessions/{id}/end', at(id))

  const got = await until('all five events', () => {
    const mine = [...new Map(received.filter((r) => r.path === '/all').map((r) => [r.headers['webhook-id'], r])).values()]
    return allEvents.every((type) => mine.some((r) => r.body.includes(`"type":"${type}"`))) ? mine : undefined
  })
  await until('the session.ended copy for the second endpoint', () => received.some((r) => r.path === '/only-ended'))
  await until('every delivery to be answered', async () => (await deliveries(endpoint.id)).every((d) => d.status === 'succeeded'))
  const all = received.filter((r) => r.path === '/all')
  const ids = all.map((r) => r.headers['webhook-id'])
  const sent = await deliveries(endpoint.id)
  // A receiver slower than the timeout (this machine may be loaded) gets a retry: at least once,
  // never more than once per attempt, and never two workers on one attempt.
  t.ok(
    sent.every((d) => ids.filter((i) => i === d.webhookId).length <= d.attemptCount),
    'no delivery was sent more often than it was attempted, with three workers sending',
  )
  t.equal(received.filter((r) => r.path === '/disabled').length, 0, 'a disabled endpoint gets nothing')
  t.same(received.filter((r) => r.path === '/only-ended').map((r) => (JSON.parse(r.body) as { type: string }).type), ['session.ended'], 'an endpoint gets only its event types')

  for (const r of got) {
    const headers = r.headers as Record<string, string>
    const message = await verifyWebhook(endpoint.secret, r.body, headers)
    t.match(headers['webhook-id'], /^msg_[0-9a-f]{32}$/)
    t.ok(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000) < 60, 'the timestamp is now, in seconds')
    // Independently of the SDK: v1, base64 HMAC-SHA256 of id.timestamp.body under the decoded secret.
    const expected = createHmac('sha256', Buffer.from(endpoint.secret.slice(6), 'base64'))
      .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${r.body}`)
      .digest('base64')
    t.equal(headers['webhook-signature'], `v1,${expected}`, `${message.type}: signed as Standard Webhooks says`)
    t.equal(headers['content-type'], 'application/json')
  }
  const byType = new Map(got.map((r) => [(JSON.parse(r.body) as { type: string }).type, JSON.parse(r.body) as { data: Record<string, unknown> }]))
  t.match(byType.get('session.started')!.data, { sessionId: id, customerName: 'Alice', csrId: csr.id })
  t.match(byType.get('session.ended')!.data, {
    sessionId: id,
    reason: 'ended',
    report: { path: `/api/v1/sessions/${id}/report`, url: `https://help.example.com/api/v1/sessions/${id}/report`, consoleUrl: `https://help.example.com/#/sessions/${id}/report` },
  })
  const answers = got.filter((r) => r.body.includes('"consent.answered"')).map((r) => JSON.parse(r.body) as { data: { kind: string; approved: boolean } })
  t.same(answers.map((a) => [a.data.kind, a.data.approved]).sort(), [['reboot', true], ['run_scripts', false], ['view_system_info', true]], 'every answer, approved or denied')
  t.match(byType.get('script_batch.finished')!.data, { batchId: batch!.id, sessionIds: [id], runs: { denied: 1 }, succeeded: false })
  t.match(byType.get('agent.rebooted')!.data, { sessionId: id })

  t.ok(sent.length >= 7 && sent.every((d) => d.status === 'succeeded' && d.attempts.at(-1)!.statusCode === 204), 'each delivery is visible with its attempts')
})

t.test('a batch cancelled on several sessions at once (the set-based path) is finished once', async (t) => {
  const endpoint = await createEndpoint('/cancelled', ['script_batch.finished'])
  const one = await activeSession()
  const two = await activeSession()
  const script = await upload(csr, await createCategory(h, 'Cancelled scripts'))
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [one.id, two.id] } })
  const { response } = await csr.client.POST('/api/v1/script-batches/{id}/cancel', at(batch!.id))
  t.equal(response.status, 200)
  const sent = await until('the cancelled batch’s delivery', async () => {
    const list = await deliveries(endpoint.id)
    return list.length > 0 ? list : undefined
  })
  t.equal(sent.length, 1, 'one delivery for the batch, not one per session')
  const body = await until('the receiver to get it', () => received.find((r) => r.path === '/cancelled'))
  t.match((JSON.parse(body.body) as { data: unknown }).data, { batchId: batch!.id, runs: { cancelled: 2 }, succeeded: false })
})

t.test('a delivery is written in the event’s transaction: a rolled-back event sends nothing', async (t) => {
  const endpoint = await createEndpoint('/rollback', ['session.ended'])
  const { id } = await activeSession()
  await t.rejects(
    h.app.services.feed.change(id, async (s) => {
      await s.next()
      await s.event('session.ended', systemActor)
      t.equal((await s.tx.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpoint.id))).length, 1, 'written inside the transaction')
      throw new Error('rolled back')
    }),
  )
  t.equal((await deliveries(endpoint.id)).length, 0, 'gone with the rollback')
})

t.test('a failing receiver is retried until it answers; a hanging one times out and is retried; a redirect is not followed, and given up on; replay', async (t) => {
  handlers.set('/flaky', (res, n) => res.writeHead(n <= 2 ? 500 : 200).end('ok'))
  handlers.set('/hang', (res, n) => (n === 1 ? hanging.add(res) : res.writeHead(200).end()))
  handlers.set('/redirect', (res) => res.writeHead(302, { location: `${base}/target` }).end())
  const flaky = await createEndpoint('/flaky', ['session.ended'])
  const hang = await createEndpoint('/hang', ['session.ended'])
  const redirect = await createEndpoint('/redirect', ['session.ended'])
  const { id } = await activeSession()
  const started = Date.now()
  await csr.client.POST('/api/v1/sessions/{id}/end', at(id))
  t.ok(Date.now() - started < TIMEOUT_MS, 'ending the session does not wait for any receiver')
  const succeeded = (endpointId: string) => async () => (await deliveries(endpointId)).find((d) => d.status === 'succeeded')
  const failed = (endpointId: string) => async () => (await deliveries(endpointId)).find((d) => d.status === 'failed')

  const ok = await until('the flaky receiver to accept', succeeded(flaky.id)).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await deliveries(flaky.id))}`)
  })
  // Two 500s, then 200 (on a loaded machine an answer slower than the timeout is one more failure).
  t.equal(ok.attempts.at(-1)!.statusCode, 200, 'success at last')
  t.ok(ok.attempts.slice(0, -1).every((a) => a.statusCode === 500 || a.statusCode === null), 'after failures')
  t.ok(ok.attemptCount >= 3, 'retried')
  t.equal(new Set(received.filter((r) => r.path === '/flaky').map((r) => r.headers['webhook-id'])).size, 1, 'every retry carries the same webhook-id')

  const late = await until('the hanging receiver to be retried', succeeded(hang.id))
  const first = late.attempts[0]!
  t.same([first.statusCode, first.error], [null, `No answer within ${TIMEOUT_MS} ms`], 'the first attempt timed out')
  t.ok(first.durationMs >= TIMEOUT_MS - 50 && first.durationMs < TIMEOUT_MS * 5, 'after the timeout, not long after')
  t.equal(late.attempts.at(-1)!.statusCode, 200, 'and the retry went through')

  const bounced = await until('the redirect to be given up on', failed(redirect.id))
  t.equal(bounced.attemptCount, 6, 'the first attempt and five retries')
  t.ok(bounced.attempts.every((a) => a.statusCode === 302 && a.error === `Redirect to ${base}/target not followed`), 'each a redirect, not followed')
  t.equal(bounced.nextAttemptAt, null)
  t.equal(received.filter((r) => r.path === '/target').length, 0, 'the redirect target never got the delivery')
  const { data: filtered } = await h.admin.client.GET('/api/v1/webhooks/{id}/deliveries', { params: { path: { id: redirect.id }, query: { status: 'succeeded' } } })
  t.equal(filtered!.total, 0, 'deliveries filter by status')

  // Replay: the receiver is fixed; the same delivery (same id, same body) goes again and succeeds.
  handlers.set('/redirect', (res) => res.writeHead(200).end())
  const { data: replayed, response } = await h.admin.client.POST('/api/v1/webhooks/{id}/deliveries/{deliveryId}/replay', { params: { path: { id: redirect.id, deliveryId: bounced.id } } })
  t.equal(response.status, 202)
  t.same([replayed!.status, replayed!.attemptCount], ['pending', 0])
  const done = await until('the replay to succeed', succeeded(redirect.id))
  t.equal(done.attempts.at(-1)!.statusCode, 200)
  const copies = received.filter((r) => r.path === '/redirect')
  t.equal(copies.at(-1)!.headers['webhook-id'], done.webhookId, 'the replay carries the same webhook-id')
  t.equal(copies.at(-1)!.body, copies[0]!.body, 'and the same body')
})

// Last: it disables every endpoint. Each instance remembers which event types have subscribers
// (so most events cost no query); a change made through another instance must reach that memory.
t.test('an endpoint enabled through another instance is seen by this instance’s outbox at once', { skip: h.db.url ? false : 'needs PostgreSQL (two instances share one database)' }, async (t) => {
  const other = await secondInstance(t, h)
  const { data: all } = await h.admin.client.GET('/api/v1/webhooks', { params: { query: { perPage: 100 } } })
  for (const e of all!.data) await h.admin.client.PATCH('/api/v1/webhooks/{id}', { ...at(e.id), body: { enabled: false } })
  const endpoint = await createEndpoint('/elsewhere', ['session.started'])
  await h.admin.client.PATCH('/api/v1/webhooks/{id}', { ...at(endpoint.id), body: { enabled: false } })
  await activeSession() // read while no endpoint is enabled: this instance now remembers "nobody subscribes"
  t.equal((await deliveries(endpoint.id)).length, 0, 'a disabled endpoint gets nothing')

  const announced = new Promise<void>((resolve) => {
    const unwatch = h.app.notifier.watch((topic) => topic === WEBHOOK_ENDPOINTS_TOPIC && (unwatch(), resolve()))
  })
  const enabled = await fetch(`${other.address}/api/v1/webhooks/${endpoint.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${h.admin.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: true }),
  })
  t.equal(enabled.status, 200, 'enabled through the other instance')
  await announced
  const started = Date.now()
  await activeSession()
  t.equal((await deliveries(endpoint.id)).length, 1, 'the next session started here is delivered')
  t.ok(Date.now() - started < SUBSCRIBED_TYPES_TTL_MS, 'well within the memory’s own lifetime (so the announcement, not its expiry, made it re-read)')
})
