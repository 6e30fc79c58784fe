import t from 'tap'
import { asc, eq } from 'drizzle-orm'
import { commands, scriptRuns, sessionEvents } from '../../src/db/schema.ts'
import { HoldStop } from '../../src/services/feed.ts'
import { joinAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { createCategory, upload } from '../helpers/scripts.ts'
import { statements } from '../helpers/statements.ts'

/**
 * The sixth round's "POST sent → every agent holds its command": a script batch's commit offers
 * each agent's held poll its consent request, which it answers without a read; the agent's answer
 * releases the command in one statement, written delivered in the answer's own commit when the
 * agent's poll holds here, and offers the answered request and the command to that poll, which
 * answers with no statement at all. What a held poll answers is exactly what a read from the same
 * cursor gives; without a held poll, or when it hangs up, the path is as before (a delivery mark,
 * the agent's next poll from its old cursor).
 */
const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: 10 })
const csr = await h.createUser('csr', { name: 'Consuela Consent' })
const category = await createCategory(h, 'Held')
const scripts = await Promise.all(['First', 'Second'].map((name) => upload(csr, category, { name, published: true })))
const { db } = h.app.database
const { commands: queue, agents, feed } = h.app.services

const starts = (list: string[], prefix: RegExp) => list.filter((q) => prefix.test(q.trim())).length
const DELIVERY_MARK = /^with done as/i
const FEED_READ = /^select s\.id::text as id, s\.number/i
const LOCK = /^update support_sessions set feed_seq = feed_seq \+ 1/i
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A session with a joined agent, and the agent's cursor after a read that found nothing (so its next poll holds from memory). */
async function quietSession(name: string) {
  const { data: session } = await csr.client.POST('/api/v1/sessions', { body: { customerName: name } })
  const agent = await joinAgent(h, session!.number)
  const { data: first } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const { data: quiet } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: first!.cursor, wait: 0 } } })
  return { session: session!, agent, cursor: quiet!.cursor, principal: { agentId: agent.joined.agentId, sessionId: session!.id } }
}

type Quiet = Awaited<ReturnType<typeof quietSession>>

const poll = (a: Quiet, cursor: number, seconds: number) => a.agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: seconds } } }).then((r) => r.data!)

/** A batch of both scripts on these sessions, while each agent's poll holds: what each held poll answered, and the statements the wake-ups cost. */
async function batchWhileHeld(targets: Quiet[]) {
  const held = targets.map((a) => poll(a, a.cursor, 10))
  await wait(50)
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: scripts.map((s) => ({ scriptId: s.id })), sessionIds: targets.map((a) => a.session.id) } })
  return { batch: batch!, answers: await Promise.all(held) }
}

const eventsOf = async (commandId: string) =>
  (await db.select().from(sessionEvents).orderBy(sessionEvents.id)).filter((e) => (e.data as { commandId?: string }).commandId === commandId).map((e) => e.type)

t.test('a batch’s commit hands each held poll its consent request without a read', async (t) => {
  const targets = [await quietSession('Offer one'), await quietSession('Offer two')]
  const count = statements(h.app.database)
  const { batch, answers } = await batchWhileHeld(targets)
  count.stop()
  t.equal(starts(count.list, FEED_READ), 0, 'no held poll read its feed')
  for (const [i, a] of targets.entries()) {
    const answer = answers[i]!
    const part = batch.sessions.find((s) => s.sessionId === a.session.id)!
    t.same(answer.consents.map((c) => [c.id, c.kind, c.status, c.requestedBy]), [[part.consentId, 'run_scripts', 'pending', 'Consuela Consent']], 'its consent request')
    // The offer is exactly the feed: a read from the same cursor (as another instance would) agrees.
    const read = await agents.read(a.principal, a.cursor)
    t.same(JSON.parse(JSON.stringify(answer)), JSON.parse(JSON.stringify(read)), 'what a read from the same cursor answers')
  }
})

t.test('the answer, while the agent’s re-poll holds, delivers the command in its own commit', async (t) => {
  const a = await quietSession('Answer held')
  const { batch, answers } = await batchWhileHeld([a])
  const asked = answers[0]!
  const consentId = asked.consents[0]!.id
  const commandId = batch.sessions[0]!.commandId
  const count = statements(h.app.database)
  const repoll = poll(a, asked.cursor, 10)
  await wait(50)
  await a.agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consentId } }, body: { approved: true } })
  const answer = await repoll
  count.stop()
  t.same(answer.commands.map((c) => c.id), [commandId], 'the held re-poll carries the command')
  t.same(answer.consents.map((c) => [c.id, c.status]), [[consentId, 'approved']], 'and the request as answered, as a read has it')
  t.equal(starts(count.list, FEED_READ), 0, 'the re-poll read nothing')
  t.equal(starts(count.list, DELIVERY_MARK), 0, 'no delivery mark of its own')
  t.equal(starts(count.list, LOCK), 1, 'one lock: the answer’s')
  t.equal(starts(count.list, /^select distinct on \(session_id\)/i), 0, 'the trail’s head read with the request')
  t.equal(starts(count.list, /^update "script_runs"/i), 0, 'its runs queued by the release’s statement')
  t.equal(starts(count.list, /^with n as/i), 0, 'released by the statement that approves')
  if (process.env.SHOW_STATEMENTS) t.comment(count.list.map((q) => q.trim().slice(0, 100)).join('\n'))
  const [row] = await db.select().from(commands).where(eq(commands.id, commandId))
  t.match(row, { status: 'delivered', kind: 'run_scripts' })
  t.ok(row!.deliveredAt, 'with its delivery time')
  t.equal(row!.seq, row!.dispatchSeq, 'released and delivered by one change')
  t.same((row!.payload as { scripts: unknown[] }).scripts.length, 2, 'the payload kept (only secrets are wiped at delivery)')
  t.same(answer.commands[0]!.payload, row!.payload, 'the agent got the payload as stored')
  const runs = await db.select().from(scriptRuns).where(eq(scriptRuns.commandId, commandId)).orderBy(asc(scriptRuns.position))
  t.same(runs.map((r) => [r.status, r.seq]), [['queued', row!.seq], ['queued', row!.seq]], 'its runs queued with the release’s number')
  t.same(await eventsOf(commandId), ['command.created', 'script_batch.requested', 'command.queued', 'command.delivered'], 'the events of a release and a delivery mark')
  const { data: verified } = await h.admin.client.GET('/api/v1/sessions/{id}/events/verify', { params: { path: { id: a.session.id } } })
  t.match(verified, { ok: true, unchained: 0 }, 'the audit chain verifies')
  // A lost answer: the agent's next poll from its old cursor gets it again, from a read too.
  const read = await agents.read(a.principal, asked.cursor)
  t.same(JSON.parse(JSON.stringify(read)), JSON.parse(JSON.stringify(answer)), 'a read from the same cursor answers the same')
  const { data: after } = await h.admin.client.GET('/api/v1/script-batches/{id}', { params: { path: { id: batch.id } } })
  t.same(after!.sessions[0]!.runs.map((r) => r.status), ['queued', 'queued'])
})

t.test('an answer with no poll held queues the command; the next poll records its delivery, as before', async (t) => {
  const a = await quietSession('Answer not held')
  const { batch, answers } = await batchWhileHeld([a])
  const asked = answers[0]!
  await a.agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: asked.consents[0]!.id } }, body: { approved: true } })
  const commandId = batch.sessions[0]!.commandId
  const [queued] = await db.select().from(commands).where(eq(commands.id, commandId))
  t.match(queued, { status: 'queued', deliveredAt: null }, 'nobody held: queued')
  const count = statements(h.app.database)
  const answer = await poll(a, asked.cursor, 10)
  count.stop()
  t.same(answer.commands.map((c) => c.id), [commandId])
  t.equal(starts(count.list, DELIVERY_MARK), 1, 'the poll records the delivery before it answers')
  t.equal(starts(count.list, FEED_READ), 0, 'from what the answer’s commit offered')
  const [row] = await db.select().from(commands).where(eq(commands.id, commandId))
  t.equal(row!.status, 'delivered')
  t.ok(row!.seq > row!.dispatchSeq!, 'delivered by a later change')
})

t.test('the hold ends inside the answer’s transaction: the agent’s next poll gets the command', async (t) => {
  const a = await quietSession('Hung up')
  const { batch, answers } = await batchWhileHeld([a])
  const asked = answers[0]!
  const commandId = batch.sessions[0]!.commandId
  const stop = new HoldStop()
  const holding = agents.poll(a.principal, asked.cursor, 10_000, stop)
  await wait(50)
  // The agent hangs up after the answer chose to deliver, before its commit.
  const offerReleased = queue.offerReleased
  queue.offerReleased = (s, consent, released, numbers) => {
    stop.stop()
    offerReleased.call(queue, s, consent, released, numbers)
  }
  t.teardown(() => void (queue.offerReleased = offerReleased))
  await a.agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: asked.consents[0]!.id } }, body: { approved: true } })
  queue.offerReleased = offerReleased
  const ended = await holding
  t.same(ended.commands, [], 'the hung-up poll answered nothing')
  const [row] = await db.select().from(commands).where(eq(commands.id, commandId))
  t.equal(row!.status, 'delivered', 'recorded delivered: the poll held when the answer looked')
  const next = await poll(a, asked.cursor, 10)
  t.same(next.commands.map((c) => c.id), [commandId], 'the agent’s next poll, from its old cursor, gets it')
  const read = await agents.read(a.principal, asked.cursor)
  t.same(read.commands.map((c) => c.id), [commandId], 'and so does a read from the database')
  t.same(await eventsOf(commandId), ['command.created', 'script_batch.requested', 'command.queued', 'command.delivered'], 'delivered once')
})

t.test('a cancel right after the answer cannot fall between its delivery and the agent', async (t) => {
  const a = await quietSession('Cancelled')
  const { batch, answers } = await batchWhileHeld([a])
  const asked = answers[0]!
  const commandId = batch.sessions[0]!.commandId
  const repoll = poll(a, asked.cursor, 10)
  await wait(50)
  await a.agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: asked.consents[0]!.id } }, body: { approved: true } })
  await feed.change(a.session.id, (s) => queue.cancelOpen(s, 'Cancelled by the CSR'))
  const answer = await repoll
  t.same(answer.commands.map((c) => c.id), [commandId], 'the agent got it: it was delivered first')
  const [row] = await db.select().from(commands).where(eq(commands.id, commandId))
  t.match(row, { status: 'cancelled' })
  t.ok(row!.deliveredAt, 'the CSR sees it was delivered before it was cancelled')
  const later = await poll(a, answer.cursor, 0)
  t.same(later.cancelledCommands, [commandId], 'and the agent is told of the cancel')
})

t.test('a denial reaches the held re-poll as a read would answer it, and hands out nothing', async (t) => {
  const a = await quietSession('Denied')
  const { batch, answers } = await batchWhileHeld([a])
  const asked = answers[0]!
  const repoll = poll(a, asked.cursor, 10)
  await wait(50)
  await a.agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: asked.consents[0]!.id } }, body: { approved: false } })
  const answer = await repoll
  t.same(answer.consents.map((c) => c.status), ['denied'])
  t.same(answer.commands, [], 'no command')
  const [row] = await db.select().from(commands).where(eq(commands.id, batch.sessions[0]!.commandId))
  t.match(row, { status: 'cancelled', deliveredAt: null, dispatchSeq: null })
  const read = await agents.read(a.principal, asked.cursor)
  t.same(JSON.parse(JSON.stringify(read)), JSON.parse(JSON.stringify(answer)))
})

t.test('after a read that found something, the re-poll holds without a read and takes the next offer', async (t) => {
  const a = await quietSession('Chatty')
  await csr.client.POST('/api/v1/sessions/{id}/chat', { params: { path: { id: a.session.id } }, body: { body: 'hello' } })
  const count = statements(h.app.database)
  const first = await poll(a, a.cursor, 0)
  t.same(first.chat.map((m) => m.body), ['hello'], 'the read hands out the line')
  const afterRead = starts(count.list, FEED_READ)
  const { answers } = await batchWhileHeld([{ ...a, cursor: first.cursor }])
  count.stop()
  t.equal(afterRead, 1, 'one read: the one that found the line')
  t.equal(starts(count.list, FEED_READ), 1, 'the re-poll from its cursor held without a read, and the batch’s offer answered it')
  t.equal(answers[0]!.consents.length, 1, 'with the consent request')
  const read = await agents.read(a.principal, first.cursor)
  t.same(JSON.parse(JSON.stringify(answers[0])), JSON.parse(JSON.stringify(read)), 'what a read from the same cursor answers')
})
