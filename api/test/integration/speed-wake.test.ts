import t from 'tap'
import { createClient } from '@helpline/sdk'
import { eq } from 'drizzle-orm'
import { supportSessions } from '../../src/db/schema.ts'
import type { SessionChange } from '../../src/lib/notifier.ts'
import { joinAgent, type TestAgent } from '../helpers/agent.ts'
import { secondInstance, setupApp } from '../helpers/app.ts'
import { createCategory, upload } from '../helpers/scripts.ts'
import { statements } from '../helpers/statements.ts'

/**
 * The held poll's wake-ups: a change declares what it means for the agent. Run output is the
 * console's: it wakes the console's stream, while the agent's held poll keeps holding without a
 * query and still answers with a valid cursor; a command released on this instance reaches the
 * poll holding at the change's start from what the commit knew (the same JSON as a read), on
 * another instance by a read; and a poll behind the change's start reads, missing nothing.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_POLL_WAIT_SECONDS: 10 })
const csr = await h.createUser('csr', { name: 'Wanda Wake' })
const at = (id: string) => ({ params: { path: { id } } })

/** The statements of an agent's feed read (AgentsService.read): its session row, its item queries. */
const isFeedRead = (q: string) => /left join users u on u\.id = s\.csr_id|from commands c left join consent_requests r/.test(q)

/** Polls with wait=0 until the answer is empty: the agent's cursor, caught up (memory knows it quiet). */
async function caughtUp(agent: TestAgent, from = 0): Promise<number> {
  let cursor = from
  for (;;) {
    const { data } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
    const empty = data!.consents.length + data!.commands.length + data!.chat.length + data!.cancelledCommands.length === 0
    if (empty && data!.cursor === cursor) return cursor
    cursor = data!.cursor
  }
}

async function activeSession(name: string) {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: name } })
  return { session: s!, agent: await joinAgent(h, s!.number) }
}

async function consentedSession(name: string) {
  const { session, agent } = await activeSession(name)
  const { data: first } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: first!.consent!.id } }, body: { approved: true } })
  await agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: first!.command!.id } }, body: { sequence: 0, status: 'failed', message: 'not now' } })
  return { session, agent, cursor: await caughtUp(agent) }
}

/** A session whose agent approved a one-script batch and started its run; the agent's cursor before the start. */
async function startedRun(name: string) {
  const { session, agent } = await activeSession(name)
  const script = await upload(csr, await createCategory(h, name), { name: `Talkative ${name}`, published: true })
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [session.id] } })
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const consent = feed!.consents.find((c) => c.kind === 'run_scripts' && c.status === 'pending')!
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved: true } })
  const runId = batch!.sessions[0]!.runs[0]!.id
  const cursor = await caughtUp(agent, feed!.cursor)
  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...at(runId), body: { startId: `start-${runId}` } })
  return { session, agent, runId, cursor }
}

const postOutput = (agent: TestAgent, runId: string, sequence: number) =>
  h.inject({
    method: 'POST',
    url: `/api/v1/agent/script-runs/${runId}/output`,
    token: agent.token,
    payload: { chunks: [{ sequence, stream: 'stdout', data: `line ${sequence}\n` }] },
  })

t.test('run output wakes the console, not the agent’s held poll; a CSR’s chat line reaches it at once', async (t) => {
  const { session, agent, runId, cursor } = await startedRun('Output')

  let consoleWoken = 0
  const stopConsole = h.app.services.feed.subscribe(session.id, () => consoleWoken++)
  t.teardown(stopConsole)
  const count = statements(h.app.database)
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 2 } } })
  await new Promise((r) => setTimeout(r, 50)) // the poll subscribes before its first (memory) answer
  for (let i = 0; i < 3; i++) t.equal((await postOutput(agent, runId, i)).statusCode, 200)
  const { data: answer } = await held
  count.stop()
  t.ok(consoleWoken >= 3, `the console's stream was woken by each post (${consoleWoken})`)
  t.same(count.list.filter(isFeedRead), [], 'the held poll read nothing: output is not in the agent’s feed')
  t.ok(count.list.length > 0, 'the posts themselves were counted')
  t.same({ ...answer, cursor: 0 }, { cursor: 0, session: answer!.session, consents: [], commands: [], chat: [], cancelledCommands: [] }, 'an empty answer at the hold’s end')
  t.ok(answer!.cursor > cursor, `its cursor moved past the output (${cursor} → ${answer!.cursor})`)
  // The cursor is one a read agrees with: nothing is behind it, and a poll from it is not refused.
  const { data: fromRead } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  t.equal(fromRead!.chat.length + fromRead!.commands.length + fromRead!.consents.length, 0, 'a read from the old cursor finds nothing either')

  // The next change the agent sees (the CSR's chat line) reaches the poll holding at that cursor.
  const next = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: answer!.cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 50))
  const sent = Date.now()
  await csr.client.POST('/api/v1/sessions/{id}/chat', { ...at(session.id), body: { body: 'Still there?' } })
  const { data: chat } = await next
  t.same(chat!.chat.map((m) => m.body), ['Still there?'], 'the chat line, not the end of the hold')
  t.ok(Date.now() - sent < 8_000, 'long before the 10 s hold ended')
})

t.test('a consent withdrawn while the agent holds: the wake-up covers every number the close took, one read', async (t) => {
  const { session, agent } = await activeSession('Withdrawn')
  // A request nothing waits on: the close's chat line is the change's last number.
  const { data: consent } = await csr.client.POST('/api/v1/sessions/{id}/consents', { ...at(session.id), body: { kind: 'view_system_info' } })
  const cursor = await caughtUp(agent)
  const changes: (SessionChange | undefined)[] = []
  const stop = h.app.services.feed.subscribe(session.id, (change) => changes.push(change))
  t.teardown(stop)
  const count = statements(h.app.database)
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 50)) // the poll subscribes before its first (memory) answer
  await csr.client.POST('/api/v1/sessions/{id}/consents/{itemId}/cancel', { params: { path: { id: session.id, itemId: consent!.id } } })
  const { data: answer } = await held
  count.stop()
  const [row] = await h.app.database.db.select({ seq: supportSessions.feedSeq }).from(supportSessions).where(eq(supportSessions.id, session.id))
  t.same(answer!.consents.map((c) => [c.id, c.status]), [[consent!.id, 'cancelled']], 'the held poll carries the withdrawn request')
  t.same(changes, [{ from: cursor + 1, to: row!.seq, agentSees: true }], 'woken once, with the whole range: up to the session’s number after the close')
  t.equal(answer!.cursor, row!.seq, 'the answer’s cursor is the session’s number')
  // A read is its session row, then the item queries (isFeedRead matches both kinds).
  t.equal(count.list.filter((q) => /left join users u on u\.id = s\.csr_id/.test(q)).length, 1, 'one read of the feed')
})

t.test('a command released on this instance reaches the held poll from memory, the same JSON as a read', async (t) => {
  const { session, agent, cursor } = await consentedSession('Memory')
  const count = statements(h.app.database)
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 50))
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { data: answer } = await held
  count.stop()
  t.same(answer!.commands.map((c) => c.id), [refresh!.command!.id], 'the held poll carries the command')
  t.same(count.list.filter(isFeedRead), [], 'answered without a read of the feed')
  // A second agent connection polling from the same cursor reads: the same items, the same JSON.
  const { data: read } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  t.same({ ...answer, cursor: 0 }, { ...read, cursor: 0 }, 'the same answer as a read')
  t.equal(JSON.stringify({ ...answer, cursor: 0 }), JSON.stringify({ ...read, cursor: 0 }), 'byte for byte')
  t.ok(answer!.cursor <= read!.cursor, 'a cursor no further than the read’s')
  const { data: after } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: answer!.cursor, wait: 0 } } })
  t.same(after!.commands, [], 'nothing more after the memory’s cursor')
  const { data: delivered } = await csr.client.GET('/api/v1/sessions/{id}/commands', { params: { path: { id: session.id }, query: { status: 'delivered' } } })
  t.same(delivered!.data.map((c) => c.id), [refresh!.command!.id], 'recorded as delivered before the answer left')
  const trail = (await csr.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100, order: 'asc' } } })).data!.data
  t.same(trail.filter((e) => e.data.commandId === refresh!.command!.id).map((e) => e.type), ['command.created', 'command.queued', 'command.delivered'])
  const { data: verified } = await h.admin.client.GET('/api/v1/sessions/{id}/events/verify', at(session.id))
  t.match(verified, { ok: true, unchained: 0 }, 'the audit chain verifies')
})

t.test('a poll behind the change’s start reads, and gets every item', async (t) => {
  const { session, agent, cursor: old } = await consentedSession('Behind')
  await csr.client.POST('/api/v1/sessions/{id}/chat', { ...at(session.id), body: { body: 'One moment' } })
  const now = await caughtUp(agent, old) // memory knows the session quiet at `now`, not at `old`
  t.ok(now > old)
  // The agent lost the answer that carried the chat line and polls again from its old cursor.
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: old, wait: 10 } } })
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { data: answer } = await held
  const { data: rest } = answer!.commands.length > 0 ? { data: answer } : await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: answer!.cursor, wait: 0 } } })
  t.same(answer!.chat.map((m) => m.body), ['One moment'], 'the chat line after its cursor')
  t.same(rest!.commands.map((c) => c.id), [refresh!.command!.id], 'and the command')
})

t.test('an output post announces its change in its last write: no statement of its own for the wake-up', async (t) => {
  const { session, agent, runId } = await startedRun('Announce')
  const b = h.db.url ? await secondInstance(t, h) : undefined
  const heard: (SessionChange | undefined)[] = []
  if (b) t.teardown(b.app.services.feed.subscribe(session.id, (change) => heard.push(change)))
  const count = statements(h.app.database)
  t.equal((await postOutput(agent, runId, 0)).statusCode, 200)
  count.stop()
  const [row] = await h.app.database.db.select({ seq: supportSessions.feedSeq }).from(supportSessions).where(eq(supportSessions.id, session.id))
  // The post's own statements (the server's sweeps may run meanwhile): those naming its session or run.
  const mine = count.list.filter((q) => q.includes(session.id) || q.includes(runId))
  t.equal(mine.length, 3, `the lock, the run, the chunks (${mine.length}: ${mine.map((q) => q.trim().slice(0, 40)).join(' | ')})`)
  if (!b) return
  const announcing = mine.filter((q) => /pg_notify/.test(q))
  t.equal(announcing.length, 1, 'one statement announces')
  t.match(announcing[0], /update script_runs/, 'and it is the chunks’ write')
  for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
  t.same(heard, [{ from: row!.seq, to: row!.seq, agentSees: false }], 'the other instance heard the change: its number, console-only')
})

t.test('on a second instance (PostgreSQL) the held poll is woken and reads', { skip: h.db.url ? false : 'PostgreSQL only' }, async (t) => {
  const b = await secondInstance(t, h, { AGENT_POLL_WAIT_SECONDS: 10 })
  const { session, agent, cursor } = await consentedSession('Elsewhere')
  const onB = createClient({ baseUrl: b.address, token: agent.token })
  await onB.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } }) // B knows the session quiet too
  const count = statements(b.app.database)
  const held = onB.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 100))
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { data: answer } = await held
  count.stop()
  t.same(answer!.commands.map((c) => c.id), [refresh!.command!.id], 'the command reached the poll on the other instance')
  t.ok(count.list.filter(isFeedRead).length >= 1, 'by a read there (that instance never saw the commit)')
})
