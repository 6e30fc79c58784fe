import t from 'tap'
import { sql } from 'drizzle-orm'
import { refused } from '../helpers/refused.ts'
import { setupApp } from '../helpers/app.ts'
import { joinAgent, sampleUpload } from '../helpers/agent.ts'
import { checkResponse } from '../helpers/contract.ts'
import { openStream } from '../helpers/sse.ts'

/** The CSR side of support sessions: numbers, ownership, consent, system information, chat, the stream. */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const other = await h.createUser('csr', { name: 'Otto Other' })

async function newSession(customerName = 'Alice') {
  const { data } = await csr.client.POST('/api/v1/sessions', { body: { customerName, customerEmail: 'alice@example.com', description: 'Printer' } })
  return data!
}
const at = (id: string) => ({ params: { path: { id } } })

t.test('a session number is 9 random digits, unique among open sessions', async (t) => {
  const numbers = new Set<string>()
  for (let i = 0; i < 20; i++) {
    const s = await newSession(`Customer ${i}`)
    t.match(s.number, /^\d{3}-\d{3}-\d{3}$/)
    numbers.add(s.number)
  }
  t.equal(numbers.size, 20, 'no two open sessions share a number')
  const sorted = [...numbers].map((n) => Number(n.replace(/-/g, '')))
  t.notOk(sorted.every((n, i) => i === 0 || n === sorted[i - 1]! + 1), 'not sequential')
})

t.test('CSRs see their own sessions, admins all; others are 404', async (t) => {
  const mine = await newSession('Mine')
  t.equal(mine.status, 'waiting')
  t.ok(mine.expiresAt, 'a waiting session says when it expires')
  t.equal(mine.csr.name, 'Carla CSR')
  t.equal(mine.agent, null)

  const theirs = await refused(other.client.GET('/api/v1/sessions/{id}', at(mine.id)))
  t.equal(theirs.status, 404)
  t.equal(theirs.code, 'SESSION_NOT_FOUND')
  for (const call of [
    () => other.client.POST('/api/v1/sessions/{id}/end', at(mine.id)),
    () => other.client.GET('/api/v1/sessions/{id}/chat', at(mine.id)),
    () => other.client.POST('/api/v1/sessions/{id}/chat', { ...at(mine.id), body: { body: 'hi' } }),
    () => other.client.GET('/api/v1/sessions/{id}/consents', at(mine.id)),
    () => other.client.POST('/api/v1/sessions/{id}/consents', { ...at(mine.id), body: { kind: 'view_system_info' } }),
    () => other.client.GET('/api/v1/sessions/{id}/commands', at(mine.id)),
    () => other.client.GET('/api/v1/sessions/{id}/events', at(mine.id)),
    () => other.client.GET('/api/v1/sessions/{id}/snapshots', at(mine.id)),
    () => other.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(mine.id)),
  ]) {
    t.equal((await refused(call())).status, 404, 'another CSR’s session does not exist for them')
  }
  const stream = await h.inject({ method: 'GET', url: `/api/v1/sessions/${mine.id}/stream`, token: other.token })
  t.equal(stream.statusCode, 404, 'nor its stream')

  const { data: otherList } = await other.client.GET('/api/v1/sessions')
  t.notOk(otherList!.data.some((s) => s.id === mine.id), 'not in their list')
  const { data: adminView } = await h.admin.client.GET('/api/v1/sessions/{id}', at(mine.id))
  t.equal(adminView!.id, mine.id, 'an admin reads any session')
  const { data: adminMine } = await h.admin.client.GET('/api/v1/sessions', { params: { query: { mine: true } } })
  t.equal(adminMine!.total, 0, 'mine=true: only the admin’s own')
})

t.test('list filters: status, text, number, CSR, sorting', async (t) => {
  const s = await newSession('Zed Filterable')
  const { data: byName } = await csr.client.GET('/api/v1/sessions', { params: { query: { q: 'filterable' } } })
  t.same(byName!.data.map((x) => x.id), [s.id])
  const { data: byNumber } = await csr.client.GET('/api/v1/sessions', { params: { query: { q: s.number } } })
  t.same(byNumber!.data.map((x) => x.id), [s.id], 'found by its number, dashes or not')
  const { data: waiting } = await h.admin.client.GET('/api/v1/sessions', { params: { query: { status: 'waiting', csrId: csr.id, perPage: 100 } } })
  t.ok(waiting!.data.every((x) => x.status === 'waiting' && x.csr.id === csr.id))
  const { data: sorted } = await csr.client.GET('/api/v1/sessions', { params: { query: { sort: 'customerName', order: 'desc', perPage: 5 } } })
  const names = sorted!.data.map((x) => x.customerName)
  t.same(names, [...names].sort((a, b) => b.localeCompare(a)), 'sorted by customer name, descending')
  t.ok(sorted!.total > 5, 'total counts all matches')
})

t.test('end a session: 409 the second time; the number stops working', async (t) => {
  const s = await newSession()
  const { data: ended } = await csr.client.POST('/api/v1/sessions/{id}/end', at(s.id))
  t.equal(ended!.status, 'ended')
  t.equal(ended!.endedReason, 'ended')
  const again = await refused(csr.client.POST('/api/v1/sessions/{id}/end', at(s.id)))
  t.equal(again.status, 409)
  t.equal(again.code, 'SESSION_ENDED')
  const join = await h.inject({ method: 'POST', url: '/api/v1/agent/join', payload: { number: s.number, protocol: 1, agentVersion: '0.1.0', platform: { os: 'linux', osVersion: '', arch: 'x64', hostname: 'x' }, publicKey: 'k'.repeat(200) } })
  t.equal(join.statusCode, 404, 'an ended number is not found')
  t.equal(join.json().code, 'SESSION_NOT_FOUND')
  const chat = await refused(csr.client.POST('/api/v1/sessions/{id}/chat', { ...at(s.id), body: { body: 'too late' } }))
  t.equal(chat.status, 409)
})

t.test('a waiting session expires; the sweeper ends it with an event', async (t) => {
  const quick = await setupApp(t, { SESSION_WAITING_EXPIRY_HOURS: 0.5 / 3600, SWEEP_INTERVAL_MS: 100 })
  const u = await quick.createUser('csr')
  const { data: s } = await u.client.POST('/api/v1/sessions', { body: { customerName: 'Late' } })
  await new Promise((r) => setTimeout(r, 1200))
  const { data: after } = await u.client.GET('/api/v1/sessions/{id}', at(s!.id))
  t.equal(after!.status, 'ended')
  t.equal(after!.endedReason, 'expired')
  const { data: events } = await u.client.GET('/api/v1/sessions/{id}/events', at(s!.id))
  t.same(events!.data.map((e) => e.type), ['session.created', 'session.expired'])
})

t.test('consent: reserved kinds, not active, pending, granted, cancel', async (t) => {
  const s = await newSession()
  const waiting = await refused(csr.client.POST('/api/v1/sessions/{id}/consents', { ...at(s.id), body: { kind: 'view_system_info' } }))
  t.equal(waiting.status, 409)
  t.equal(waiting.code, 'SESSION_NOT_ACTIVE')
  const reserved = await refused(csr.client.POST('/api/v1/sessions/{id}/consents', { ...at(s.id), body: { kind: 'reboot' } }))
  t.equal(reserved.status, 422)
  t.equal(reserved.code, 'CONSENT_KIND_RESERVED')

  const agent = await joinAgent(h, s.number)
  const { data: consent } = await csr.client.POST('/api/v1/sessions/{id}/consents', { ...at(s.id), body: { kind: 'view_system_info' } })
  t.equal(consent!.status, 'pending')
  t.equal(consent!.requestedBy.name, 'Carla CSR')
  const pending = await refused(csr.client.POST('/api/v1/sessions/{id}/consents', { ...at(s.id), body: { kind: 'view_system_info' } }))
  t.equal(pending.code, 'CONSENT_PENDING')

  const { data: cancelled } = await csr.client.POST('/api/v1/sessions/{id}/consents/{itemId}/cancel', { params: { path: { id: s.id, itemId: consent!.id } } })
  t.equal(cancelled!.status, 'cancelled')
  const twice = await refused(csr.client.POST('/api/v1/sessions/{id}/consents/{itemId}/cancel', { params: { path: { id: s.id, itemId: consent!.id } } }))
  t.equal(twice.status, 409)
  const unknown = await refused(
    csr.client.POST('/api/v1/sessions/{id}/consents/{itemId}/cancel', { params: { path: { id: s.id, itemId: '00000000-0000-4000-8000-000000000000' } } }),
  )
  t.equal(unknown.status, 404)
  const answerCancelled = await refused(agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent!.id } }, body: { approved: true } }))
  t.equal(answerCancelled.code, 'CONSENT_CANCELLED')

  const { data: second } = await csr.client.POST('/api/v1/sessions/{id}/consents', { ...at(s.id), body: { kind: 'view_system_info' } })
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: second!.id } }, body: { approved: true } })
  const granted = await refused(csr.client.POST('/api/v1/sessions/{id}/consents', { ...at(s.id), body: { kind: 'view_system_info' } }))
  t.equal(granted.code, 'CONSENT_ALREADY_GRANTED')
  const { data: list } = await csr.client.GET('/api/v1/sessions/{id}/consents', { params: { path: { id: s.id }, query: { status: 'approved' } } })
  t.same(list!.data.map((c) => c.id), [second!.id])
  const { data: session } = await csr.client.GET('/api/v1/sessions/{id}', at(s.id))
  t.equal(session!.systemInfoConsent, 'approved')
  t.equal(session!.agent?.status, 'online')
  t.equal(session!.agent?.platform.hostname, 'customer-pc')
})

t.test('system information: refresh asks once, snapshots list/get/text, 409 while queued', async (t) => {
  const s = await newSession('Sysinfo')
  const waiting = await refused(csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id)))
  t.equal(waiting.code, 'SESSION_NOT_ACTIVE')
  const agent = await joinAgent(h, s.number)
  const { data: first } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  t.equal(first!.command!.status, 'awaiting_consent')
  t.equal(first!.consent?.status, 'pending')
  const queued = await refused(csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id)))
  t.equal(queued.status, 409)
  t.equal(queued.code, 'ALREADY_QUEUED')

  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: first!.consent!.id } }, body: { approved: true } })
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  t.same(feed!.commands.map((c) => c.id), [first!.command!.id])
  await agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: first!.command!.id } }, body: sampleUpload() })

  const { data: again } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  t.equal(again!.consent, null, 'consent lasts for the session: no new request')
  t.equal(again!.command!.status, 'queued', 'released at once')
  await agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: again!.command!.id } }, body: sampleUpload() })

  const { data: snaps } = await csr.client.GET('/api/v1/sessions/{id}/snapshots', { params: { path: { id: s.id }, query: { order: 'desc' } } })
  t.equal(snaps!.total, 2, 'older snapshots stay listed')
  t.equal(snaps!.data[0]!.hostname, 'customer-pc')
  t.equal(snaps!.data[0]!.os, 'Debian GNU/Linux 12')
  const { data: snap } = await csr.client.GET('/api/v1/sessions/{id}/snapshots/{itemId}', { params: { path: { id: s.id, itemId: snaps!.data[0]!.id } } })
  t.same(
    snap!.categories.map((c) => c.id),
    ['system', 'hardware', 'storage', 'network', 'software', 'processes', 'services', 'users', 'environment'],
  )
  const text = await h.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}/snapshots/${snap!.id}/text`, token: csr.token })
  t.equal(text.statusCode, 200)
  t.match(text.headers['content-disposition'], /attachment; filename="system-info-\d{3}-\d{3}-\d{3}-.*\.txt"/)
  for (const heading of ['SYSTEM', 'HARDWARE', 'STORAGE', 'NETWORK', 'SOFTWARE', 'PROCESSES', 'SERVICES', 'USERS', 'ENVIRONMENT']) {
    t.match(text.body, new RegExp(`^# ${heading}$`, 'm'), `${heading} heading`)
  }
  t.match(text.body, /^OS +: Debian GNU\/Linux$/m, 'aligned key/value lines')
  t.match(text.body, /Not available: systemd is not running/, 'an unavailable category says why')
  t.match(text.body, /^Name +Value\n-+ +-+\na +1$/m, 'tables with aligned columns')

  const missing = { params: { path: { id: s.id, itemId: '00000000-0000-4000-8000-000000000000' } } }
  t.equal((await refused(csr.client.GET('/api/v1/sessions/{id}/snapshots/{itemId}', missing))).code, 'SNAPSHOT_NOT_FOUND')
  const missingText = await h.inject({ method: 'GET', url: `/api/v1/sessions/${s.id}/snapshots/00000000-0000-4000-8000-000000000000/text`, token: csr.token })
  t.equal(missingText.statusCode, 404)
  const { data: cmds } = await csr.client.GET('/api/v1/sessions/{id}/commands', { params: { path: { id: s.id }, query: { status: 'succeeded' } } })
  t.equal(cmds!.total, 2)
})

t.test('chat: CSR and customer, system lines, after=seq', async (t) => {
  const s = await newSession('Chatty')
  const agent = await joinAgent(h, s.number)
  const { data: sent } = await csr.client.POST('/api/v1/sessions/{id}/chat', { ...at(s.id), body: { body: 'Hello, I am Carla' } })
  t.equal(sent!.sender, 'csr')
  t.equal(sent!.authorName, 'Carla CSR')
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  t.same(feed!.chat.map((m) => [m.authorName, m.body]), [['Carla CSR', 'Hello, I am Carla']], 'the agent receives the CSR’s message')
  const { data: reply } = await agent.client.POST('/api/v1/agent/chat', { body: { body: 'Hi Carla' } })
  t.equal(reply!.authorName, 'Chatty')
  const { data: all } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(s.id))
  t.same(
    all!.data.map((m) => m.sender),
    ['system', 'csr', 'customer'],
  )
  t.equal(all!.data[0]!.systemEvent?.type, 'agent.joined', 'system lines carry their event for translation')
  const { data: newer } = await csr.client.GET('/api/v1/sessions/{id}/chat', { params: { path: { id: s.id }, query: { after: sent!.seq } } })
  t.same(newer!.data.map((m) => m.body), ['Hi Carla'])
  const { data: feed2 } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: feed!.cursor, wait: 0 } } })
  t.same(feed2!.chat, [], 'the customer’s own messages are not echoed back')
})

t.test('session events are append-only, in the database too', async (t) => {
  const s = await newSession()
  await joinAgent(h, s.number)
  await csr.client.POST('/api/v1/sessions/{id}/end', at(s.id))
  const { data } = await csr.client.GET('/api/v1/sessions/{id}/events', at(s.id))
  t.same(
    data!.data.map((e) => e.type),
    ['session.created', 'agent.joined', 'session.ended'],
  )
  t.equal(data!.data[1]!.actorType, 'agent')
  const { db } = h.db.database
  const refusedBy = async (query: Promise<unknown>) =>
    query.then(
      () => 'allowed',
      (err: { message?: string; cause?: { message?: string } }) => String(err.cause?.message ?? err.message),
    )
  t.match(await refusedBy(db.execute(sql`update session_events set type = 'x' where session_id = ${s.id}`)), /append-only/, 'no update')
  t.match(await refusedBy(db.execute(sql`delete from session_events where session_id = ${s.id}`)), /append-only/, 'no delete')
})

t.test('the live stream replays and follows changes (SSE with the bearer header)', async (t) => {
  const s = await newSession('Streamed')
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
  const path = `/api/v1/sessions/${s.id}/stream`
  const stream = await openStream(address + path, { authorization: `Bearer ${csr.token}` })
  t.equal(stream.status, 200)
  t.match(stream.contentType, /^text\/event-stream/)
  const checked = checkResponse('GET', path, stream.status, stream.contentType, '')
  t.same(checked?.problems, [], 'documented in the contract')

  // until() reads more into the same array of events.
  const events = await stream.until(() => true)
  const until = (pred: () => boolean) => stream.until(pred)
  const agent = await joinAgent(h, s.number)
  await until(() => events.some((e) => e.event === 'agent') && events.some((e) => e.event === 'session'))
  t.equal(events.find((e) => e.event === 'session')!.data.status, 'active', 'session status change')
  t.equal(events.find((e) => e.event === 'agent')!.data.status, 'online', 'agent status')
  await agent.client.POST('/api/v1/agent/chat', { body: { body: 'streamed hello' } })
  await until(() => events.some((e) => e.event === 'chat' && e.data.body === 'streamed hello'))
  await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s.id))
  await until(() => events.some((e) => e.event === 'consent') && events.some((e) => e.event === 'command'))
  await agent.client.POST('/api/v1/agent/leave')
  await until(() => events.some((e) => e.event === 'agent' && e.data.status === 'left') && events.some((e) => e.event === 'chat' && e.data.body === 'Streamed left the session'))
  t.pass('the CSR sees the agent leave and “customer left” in the chat')
  const ids = events.map((e) => e.id)
  t.same(ids, [...ids].sort((a, b) => a - b), 'event ids increase')
  stream.close()

  // Reconnecting with Last-Event-ID replays only what came after it.
  const last = events[events.length - 2]!.id
  const again = await openStream(address + path, { authorization: `Bearer ${csr.token}`, 'last-event-id': String(last) })
  let replayed = ''
  while (!replayed.includes('event: chat')) replayed += await again.next()
  again.close()
  t.notMatch(replayed, new RegExp(`^id: ${last}$`, 'm'), 'nothing at or before Last-Event-ID')
  t.match(replayed, new RegExp(`^id: ${events[events.length - 1]!.id}$`, 'm'), 'what came after it')

  const bad = await h.inject({ method: 'GET', url: `${path}?after=-1`, token: csr.token })
  t.equal(bad.statusCode, 400)
})
