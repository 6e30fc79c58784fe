import t from 'tap'
import { eq } from 'drizzle-orm'
import { commandReports, commands, sessionEvents } from '../../src/db/schema.ts'
import { HoldStop } from '../../src/services/feed.ts'
import { setupApp } from '../helpers/app.ts'
import { consentedSession as consented, refreshWhileHeld } from '../helpers/consented.ts'
import { refused } from '../helpers/refused.ts'
import { statements } from '../helpers/statements.ts'

/**
 * The dispatch's fifth round: a Refresh while the agent's poll holds on this instance is delivered
 * by the Refresh's own commit, and the held poll answers from what that commit recorded, with no
 * transaction of its own (the POST says `delivered`). Without a held poll, the path is as before.
 * When the hold ends between the commit and its answer, the agent's next poll gets the command, as
 * after a lost answer. And the agent's report on a command without an observer is console-only:
 * its re-poll holds without a query.
 */
const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: 10 })
const csr = await h.createUser('csr', { name: 'Hana Handover' })
const { db } = h.app.database
const { commands: queue, agents, feed } = h.app.services
const at = (id: string) => ({ params: { path: { id } } })

const consentedSession = (name: string) => consented(h, csr, name)

const eventsOf = async (commandId: string) =>
  (await db.select().from(sessionEvents).orderBy(sessionEvents.id)).filter((e) => (e.data as { commandId?: string }).commandId === commandId).map((e) => e.type)

const starts = (list: string[], prefix: RegExp) => list.filter((q) => prefix.test(q.trim())).length
const DELIVERY_MARK = /^with done as/i
const RESERVE = /^update support_sessions s set feed_seq = s\.feed_seq \+ r\.n/i
const FEED_READ = /^select s\.id::text as id, s\.number/i
const TOKEN_LOOKUP = /^select id::text as id, session_id::text as session_id, state::text as state, last_seen_at from agents/i

t.test('a Refresh while the agent’s poll holds here is delivered by its own commit', async (t) => {
  const { session, agent, cursor } = await consentedSession('Held')
  const { refresh, answer, statements: list } = await refreshWhileHeld(h, csr, agent, session.id, cursor)
  t.match(refresh.command, { status: 'delivered', deliveredAt: String }, 'the POST says delivered')
  t.same(answer.commands.map((c) => c.id), [refresh.command!.id], 'the held poll carries it')
  t.equal(starts(list, DELIVERY_MARK), 0, 'no delivery mark of its own')
  t.equal(starts(list, RESERVE), 0, 'no second change')
  t.equal(starts(list, /^update support_sessions set feed_seq = feed_seq \+ 1/i), 1, 'one lock: the Refresh’s')
  const [row] = await db.select().from(commands).where(eq(commands.id, refresh.command!.id))
  t.match(row, { status: 'delivered', kind: 'collect_system_info' })
  t.ok(row!.deliveredAt, 'with its delivery time')
  t.equal(row!.seq, row!.dispatchSeq, 'one change number: released and delivered in one commit')
  t.same(await eventsOf(refresh!.command!.id), ['command.created', 'command.queued', 'command.delivered'], 'the same events as two commits wrote')
  const { data: verified } = await h.admin.client.GET('/api/v1/sessions/{id}/events/verify', at(session.id))
  t.match(verified, { ok: true, unchained: 0 }, 'the audit chain verifies')
  const { data: again } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  t.same(again!.commands.map((c) => c.id), [refresh.command!.id], 'a poll from the old cursor (a lost answer) gets it again')
})

t.test('without a held poll, the Refresh queues and the next poll delivers, as before', async (t) => {
  const { session, agent, cursor } = await consentedSession('Not held')
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  t.match(refresh!.command, { status: 'queued', deliveredAt: null }, 'queued: nobody holds it yet')
  const count = statements(h.app.database)
  const { data: answer } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  count.stop()
  t.same(answer!.commands.map((c) => c.id), [refresh!.command!.id])
  t.equal(starts(count.list, DELIVERY_MARK), 1, 'the poll records the delivery')
  const [row] = await db.select().from(commands).where(eq(commands.id, refresh!.command!.id))
  t.equal(row!.status, 'delivered')
  t.ok(row!.seq > row!.dispatchSeq!, 'delivered by a later change')
})

t.test('the hold ends between the commit and its answer: the agent’s next poll gets the command', async (t) => {
  const { session, agent, cursor } = await consentedSession('Hung up')
  const principal = { agentId: agent.joined.agentId, sessionId: session.id }
  const stop = new HoldStop()
  const holding = agents.poll(principal, cursor, 10_000, stop)
  await new Promise((r) => setTimeout(r, 50))
  // The agent hangs up inside the Refresh's transaction: after it chose to deliver, before its commit.
  const recordApproved = queue.recordApproved
  queue.recordApproved = async (s, row) => {
    stop.stop()
    return recordApproved.call(queue, s, row)
  }
  t.teardown(() => void (queue.recordApproved = recordApproved))
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  queue.recordApproved = recordApproved
  t.equal(refresh!.command!.status, 'delivered', 'recorded delivered: the poll held when the Refresh looked')
  const ended = await holding
  t.same(ended.commands, [], 'the hung-up poll answered nothing')
  t.notOk(feed.holding(session.id), 'nobody holds now')
  // From memory (the commit's offer is still there)…
  const { data: next } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  t.same(next!.commands.map((c) => c.id), [refresh!.command!.id], 'the agent’s next poll, from its old cursor, gets it')
  // …and from the database, as another instance (or this one after a restart) reads it.
  const read = await agents.read(principal, cursor)
  t.same(read.commands.map((c) => c.id), [refresh!.command!.id], 'a read from the old cursor hands it out too')
  t.same(await eventsOf(refresh!.command!.id), ['command.created', 'command.queued', 'command.delivered'], 'delivered once')
})

t.test('a cancel right after the Refresh cannot fall between its delivery and the answer', async (t) => {
  const { session, agent, cursor } = await consentedSession('Cancel')
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 50))
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  await feed.change(session.id, (s) => queue.cancelOpen(s, 'Another computer took the session over'))
  const { data: answer } = await held
  t.same(answer!.commands.map((c) => c.id), [refresh!.command!.id], 'the agent got it: it was delivered first')
  const [row] = await db.select().from(commands).where(eq(commands.id, refresh!.command!.id))
  t.match(row, { status: 'cancelled' })
  t.ok(row!.deliveredAt, 'the CSR sees it was delivered before it was cancelled')
  const { data: later } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: answer!.cursor, wait: 0 } } })
  t.same(later!.cancelledCommands, [refresh!.command!.id], 'and the agent is told of the cancel')
})

t.test('the agent’s report on a collection leaves its re-poll holding without a query', async (t) => {
  const { session, agent, cursor } = await consentedSession('Report')
  const { data: first } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } }) // quiet from here
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: first!.cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 50))
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { data: answer } = await held
  t.same(answer!.commands.map((c) => c.id), [refresh!.command!.id])
  const count = statements(h.app.database)
  const repoll = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: answer!.cursor, wait: 10 } } })
  const { data: report } = await agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: refresh!.command!.id } }, body: { sequence: 0, status: 'succeeded' } })
  t.match(report, { duplicate: false, commandStatus: 'succeeded' })
  await new Promise((r) => setTimeout(r, 100))
  count.stop()
  t.equal(starts(count.list, /^with c as/i), 1, 'the report: the command, the report stored and the trail’s head in one statement')
  t.equal(starts(count.list, /^update support_sessions set feed_seq = feed_seq \+ 1/i), 1, 'one lock, whose number the finished command takes')
  t.equal(starts(count.list, /^select distinct on \(session_id\)/i), 0, 'no read of the trail’s head of its own')
  t.equal(starts(count.list, FEED_READ), 0, 'the re-poll read nothing, before or after the report')
  t.equal(starts(count.list, TOKEN_LOOKUP), 0, 'nor looked up a token (the report kept them)')
  // Still holding, and still woken by what the agent does see.
  await csr.client.POST('/api/v1/sessions/{id}/chat', { params: { path: { id: session.id } }, body: { body: 'still there?' } })
  const { data: woken } = await repoll
  t.same(woken!.chat.map((m) => m.body), ['still there?'], 'a CSR line reaches the held re-poll')
  const { data: read } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: answer!.cursor, wait: 0 } } })
  t.same(read!.commands, [], 'nothing the agent missed: a read from the same cursor agrees')
  t.same(read!.chat.map((m) => m.body), ['still there?'])
})

t.test('a report on a command the agent was not given, or a cancelled one, stores nothing', async (t) => {
  const { session, agent, cursor } = await consentedSession('Refused reports')
  const { agent: other } = await consentedSession('Someone else')
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  const id = refresh!.command!.id
  const report = (who: typeof agent, sequence: number) =>
    refused(who.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id } }, body: { sequence, status: 'succeeded' } }))
  t.equal((await report(other, 0)).code, 'COMMAND_NOT_FOUND', 'another session’s agent does not know it')
  await feed.change(session.id, (s) => queue.cancelOpen(s, 'Cancelled by the CSR'))
  t.equal((await report(agent, 0)).code, 'COMMAND_CANCELLED')
  t.same(await db.select().from(commandReports).where(eq(commandReports.commandId, id)), [], 'no report kept')
  const [row] = await db.select().from(commands).where(eq(commands.id, id))
  t.equal(row!.status, 'cancelled', 'still cancelled')
})
