import t from 'tap'
import { count, eq } from 'drizzle-orm'
import { commands, consentRequests, runBatches } from '../../src/db/schema.ts'
import { joinAgent } from '../helpers/agent.ts'
import { setupApp, type TestUser } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * POST /script-batches with an Idempotency-Key: a retry of a request (after a timeout, a lost
 * connection, a 503 whose commit may have happened) answers the batch the first one created and
 * runs nothing again; the key cannot be reused for another request; keys are per user; a refused
 * request keeps none. On PostgreSQL two requests with one key at once really race.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_POLL_WAIT_SECONDS: 1 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const other = await h.createUser('csr', { name: 'Olga Other' })
const category = await createCategory(h, 'Idempotency')
const { db } = h.app.database
const hello = await upload(csr, category, { name: 'Hello', published: true, executable: { name: 'hello.sh', content: '#!/bin/sh\necho hello\n' } })
const second = await upload(csr, category, { name: 'Second', published: true, executable: { name: 'second.sh', content: '#!/bin/sh\necho 2\n' } })

async function activeSession(user: TestUser = csr, name = 'Alice') {
  const { data: s } = await user.client.POST('/api/v1/sessions', { body: { customerName: name } })
  await joinAgent(h, s!.number)
  return s!
}

const post = (user: TestUser, key: string | undefined, body: { scripts: { scriptId: string; args?: string[] }[]; sessionIds: string[]; stopOnFailure?: boolean }) =>
  user.client.POST('/api/v1/script-batches', { body, ...(key === undefined ? {} : { params: { header: { 'idempotency-key': key } } }) })

const batchesWithKey = async (key: string) => (await db.select({ n: count() }).from(runBatches).where(eq(runBatches.idempotencyKey, key)))[0]!.n
const consentsOf = async (sessionId: string) => (await db.select({ n: count() }).from(consentRequests).where(eq(consentRequests.sessionId, sessionId)))[0]!.n
const commandsOf = async (sessionId: string) => (await db.select({ n: count() }).from(commands).where(eq(commands.sessionId, sessionId)))[0]!.n

t.test('a repeated request answers the first one’s batch, as it is now, and runs nothing again', async (t) => {
  const a = await activeSession()
  const b = await activeSession(csr, 'Bob')
  const body = { scripts: [{ scriptId: hello.id, args: ['x'] }, { scriptId: second.id }], sessionIds: [a.id, b.id] }
  const first = await post(csr, 'retry-1', body)
  t.equal(first.response.status, 201)
  t.equal(first.response.headers.get('idempotent-replayed'), null, 'the first answer is not a replay')
  const again = await post(csr, 'retry-1', body)
  t.equal(again.response.status, 201)
  t.equal(again.response.headers.get('idempotent-replayed'), 'true', 'the retry says it is a replay')
  t.equal(again.data!.id, first.data!.id, 'the same batch')
  t.same(again.data!.sessions.map((s) => s.sessionId), [a.id, b.id], 'with the same sessions')
  t.equal(await batchesWithKey('retry-1'), 1, 'one batch')
  for (const s of [a, b]) {
    t.equal(await consentsOf(s.id), 1, 'one consent request per session: the customer is asked once')
    t.equal(await commandsOf(s.id), 1, 'one command per session: the scripts run once')
  }
  // Keys sorted differently, the same request.
  const reordered = await post(csr, 'retry-1', { sessionIds: [a.id, b.id], scripts: [{ args: ['x'], scriptId: hello.id }, { scriptId: second.id }] })
  t.equal(reordered.data!.id, first.data!.id, 'the same request with its keys in another order is a retry too')

  // Whatever changed since: the batch as it is now, not a new refusal.
  await csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: first.data!.id } } })
  await csr.client.POST('/api/v1/sessions/{id}/end', { params: { path: { id: a.id } } })
  const later = await post(csr, 'retry-1', body)
  t.equal(later.response.status, 201, 'a retry after the session ended still answers the batch (not SESSION_NOT_ACTIVE)')
  t.equal(later.data!.status, 'finished', 'as it is now: cancelled, so finished')
  t.equal(await batchesWithKey('retry-1'), 1, 'still one batch')
})

t.test('the same key for another request is refused; another key, or no key, is a new batch', async (t) => {
  const s = await activeSession()
  const first = await post(csr, 'reuse-1', { scripts: [{ scriptId: hello.id }], sessionIds: [s.id] })
  t.equal(first.response.status, 201)
  const err = await refused(post(csr, 'reuse-1', { scripts: [{ scriptId: second.id }], sessionIds: [s.id] }))
  t.same([err.status, err.code], [422, 'IDEMPOTENCY_KEY_REUSED'], 'another script with the same key')
  t.same(err.body.errors, { 'idempotency-key': 'Already used for another request' })
  const args = await refused(post(csr, 'reuse-1', { scripts: [{ scriptId: hello.id, args: ['other'] }], sessionIds: [s.id] }))
  t.equal(args.code, 'IDEMPOTENCY_KEY_REUSED', 'other arguments with the same key')
  const stop = await refused(post(csr, 'reuse-1', { scripts: [{ scriptId: hello.id }], sessionIds: [s.id], stopOnFailure: true }))
  t.equal(stop.code, 'IDEMPOTENCY_KEY_REUSED', 'another stopOnFailure with the same key')
  t.equal(await batchesWithKey('reuse-1'), 1, 'nothing was created by the refused ones')
  const fresh = await post(csr, 'reuse-2', { scripts: [{ scriptId: second.id }], sessionIds: [s.id] })
  t.not(fresh.data!.id, first.data!.id, 'a new key is a new batch')
  const none1 = await post(csr, undefined, { scripts: [{ scriptId: hello.id }], sessionIds: [s.id] })
  const none2 = await post(csr, undefined, { scripts: [{ scriptId: hello.id }], sessionIds: [s.id] })
  t.not(none1.data!.id, none2.data!.id, 'without a key every request is a new batch, as before')
})

t.test('keys are per user: another CSR’s same key is theirs', async (t) => {
  const mine = await activeSession()
  const theirs = await activeSession(other, 'Olga’s customer')
  const a = await post(csr, 'shared-name', { scripts: [{ scriptId: hello.id }], sessionIds: [mine.id] })
  const b = await post(other, 'shared-name', { scripts: [{ scriptId: hello.id }], sessionIds: [theirs.id] })
  t.equal(b.response.status, 201)
  t.equal(b.response.headers.get('idempotent-replayed'), null, 'not a replay of someone else’s batch')
  t.not(b.data!.id, a.data!.id, 'a batch of their own')
  t.same(b.data!.sessions.map((s) => s.sessionId), [theirs.id])
  const c = await post(other, 'shared-name', { scripts: [{ scriptId: hello.id }], sessionIds: [theirs.id] })
  t.equal(c.data!.id, b.data!.id, 'and their retry answers their batch')
})

t.test('a refused request keeps no key: its retry, corrected, is a new attempt', async (t) => {
  const { data: waiting } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Not joined yet' } })
  const err = await refused(post(csr, 'fix-1', { scripts: [{ scriptId: hello.id }], sessionIds: [waiting!.id] }))
  t.same([err.status, err.code], [422, 'SESSION_NOT_ACTIVE'])
  t.equal(await batchesWithKey('fix-1'), 0)
  await joinAgent(h, waiting!.number)
  const ok = await post(csr, 'fix-1', { scripts: [{ scriptId: hello.id }], sessionIds: [waiting!.id] })
  t.equal(ok.response.status, 201, 'the same key once the customer joined')
  t.equal(ok.response.headers.get('idempotent-replayed'), null, 'a new batch, not a replay')
  t.equal(await batchesWithKey('fix-1'), 1)
})

t.test('two requests with one key at once: one batch, both answered with it', async (t) => {
  const sessions = [await activeSession(), await activeSession(csr, 'Bob'), await activeSession(csr, 'Chloe')]
  const body = { scripts: [{ scriptId: hello.id }, { scriptId: second.id }], sessionIds: sessions.map((s) => s.id) }
  const answers = await Promise.all([post(csr, 'race-1', body), post(csr, 'race-1', body), post(csr, 'race-1', body)])
  t.same(
    answers.map((a) => a.response.status),
    [201, 201, 201],
  )
  t.equal(new Set(answers.map((a) => a.data!.id)).size, 1, 'the same batch in every answer')
  t.equal(answers.filter((a) => a.response.headers.get('idempotent-replayed') === 'true').length, 2, 'two of them replays')
  t.equal(await batchesWithKey('race-1'), 1, 'one batch')
  for (const s of sessions) t.equal(await commandsOf(s.id), 1, 'one command per session')
})

t.test('one key sent at once for one session and for two: one is created, the other refused, never a deadlock', async (t) => {
  const s1 = await activeSession(csr, 'Dana')
  const s2 = await activeSession(csr, 'Eve')
  const statuses: string[] = []
  for (let i = 0; i < 8; i++) {
    const key = `shape-${i}`
    const one = post(csr, key, { scripts: [{ scriptId: hello.id }], sessionIds: [s1.id] })
    const two = post(csr, key, { scripts: [{ scriptId: hello.id }], sessionIds: [s1.id, s2.id] })
    const answers = await Promise.allSettled([one, two])
    const codes = answers.map((a) => (a.status === 'fulfilled' ? String(a.value.response.status) : `${(a.reason as { status?: number }).status} ${(a.reason as { code?: string }).code}`))
    statuses.push(codes.sort().join(' + '))
    const created = answers.find((a) => a.status === 'fulfilled')
    if (created?.status === 'fulfilled') await csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: created.value.data!.id } } })
    t.equal(await batchesWithKey(key), 1, `one batch with ${key}`)
  }
  t.same(new Set(statuses), new Set(['201 + 422 IDEMPOTENCY_KEY_REUSED']), `every time one 201 and one 422 (${statuses.join('; ')})`)
})

t.test('two requests with one key at once on one session: one batch, both answered with it', async (t) => {
  const s = await activeSession(csr, 'Frank')
  const body = { scripts: [{ scriptId: hello.id }], sessionIds: [s.id] }
  const answers = await Promise.all([post(csr, 'race-one', body), post(csr, 'race-one', body)])
  t.same(answers.map((a) => a.response.status), [201, 201])
  t.equal(answers[0].data!.id, answers[1].data!.id, 'the same batch')
  t.equal(await commandsOf(s.id), 1, 'one command on the session')
})

t.test('a malformed key is a 400 and creates nothing', async (t) => {
  const s = await activeSession()
  for (const key of ['has space', 'x'.repeat(256), 'ümlaut']) {
    const res = await h.inject({
      method: 'POST',
      url: '/api/v1/script-batches',
      token: csr.token,
      headers: { 'idempotency-key': key },
      payload: { scripts: [{ scriptId: hello.id }], sessionIds: [s.id] },
    })
    t.equal(res.statusCode, 400, `refused: ${JSON.stringify(key.slice(0, 20))}`)
  }
  t.equal(await commandsOf(s.id), 0, 'no batch reached the session')
})
