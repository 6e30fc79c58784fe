import t from 'tap'
import type { Schemas } from '@helpline/sdk'
import { joinAgent, type TestAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { consentedSession } from '../helpers/consented.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, upload } from '../helpers/scripts.ts'
import { statements } from '../helpers/statements.ts'

/**
 * A batch cancelled on many sessions: its commit offers each agent's held poll on this instance
 * its cancelled command (BulkTx.offer), so the woken polls answer without reading their feed; the
 * offer is exactly what a read from the same cursor returns (a lost answer is redelivered by that
 * read). The cancel itself is a constant number of statements, and its answer, built from what it
 * wrote, is what the batch reads back afterwards. And an agent handed a command by a read polls
 * again without a read (the cancel's measured CPU included 100 such reads right after delivery).
 */
const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: 10, JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Cora Cancel' })
const category = await createCategory(h, 'Cancel')
const scripts = await Promise.all(['First', 'Second'].map((name) => upload(csr, category, { name, published: true })))
const { feed } = h.app.services

type Poll = Schemas['AgentFeed']
type Part = { session: { id: string; number: string }; agent: TestAgent; cursor: number }

const poll = async (agent: TestAgent, cursor: number, wait: number): Promise<Poll> =>
  (await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait } } })).data!

/** `n` sessions with their agents, quiet at their cursors. */
async function sessions(n: number): Promise<Part[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const { data: session } = await csr.client.POST('/api/v1/sessions', { body: { customerName: `Customer ${i}` } })
      const agent = await joinAgent(h, session!.number)
      return { session: session!, agent, cursor: (await poll(agent, 0, 0)).cursor }
    }),
  )
}

async function batchOn(parts: Part[]) {
  const { data } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: scripts.map((s) => ({ scriptId: s.id })), sessionIds: parts.map((p) => p.session.id) } })
  return data!
}

/** The agent approves the batch's request and takes its command (delivered); its cursor after. */
async function approveAndTake(part: Part) {
  const asked = await poll(part.agent, part.cursor, 0)
  const consent = asked.consents.find((c) => c.kind === 'run_scripts' && c.status === 'pending')!
  await part.agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved: true } })
  const taken = await poll(part.agent, asked.cursor, 0)
  part.cursor = (await poll(part.agent, taken.cursor, 0)).cursor
  return taken.commands.find((c) => c.kind === 'run_scripts')!
}

/** Held polls of the agents at their cursors, once each holds on this instance. */
async function hold(parts: Part[]) {
  const held = parts.map((p) => poll(p.agent, p.cursor, 10))
  const deadline = Date.now() + 5000
  while (!parts.every((p) => feed.holding(p.session.id))) {
    if (Date.now() > deadline) throw new Error('the polls did not hold')
    await new Promise((r) => setTimeout(r, 5))
  }
  return held
}

/** The statements of a poll's feed read (its first: the session with its CSR's name). */
const feedReads = (list: string[]) => list.filter((q) => /left join users u on u\.id = s\.csr_id/i.test(q)).length

t.test('held polls get their cancelled command from the cancel’s commit, exactly as a read gives it', async (t) => {
  const parts = await sessions(3)
  const batch = await batchOn(parts)
  const commandIds = []
  for (const part of parts) commandIds.push((await approveAndTake(part)).id)
  const held = await hold(parts)
  const count = statements(h.app.database)
  const { data: cancelled } = await csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch.id } } })
  const answers = await Promise.all(held)
  count.stop()
  t.equal(feedReads(count.list), 0, 'no woken poll read its feed')
  t.ok(cancelled!.sessions.every((s) => s.status === 'cancelled'))
  for (const [i, part] of parts.entries()) {
    const answer = answers[i]!
    t.same(answer.cancelledCommands, [commandIds[i]], 'the poll carries its command’s cancellation')
    t.same([answer.consents, answer.commands, answer.chat], [[], [], []], 'and nothing else')
    // A lost answer: the agent polls again from its old cursor, and a read gives the same.
    const read = await poll(part.agent, part.cursor, 0)
    t.same(answer, read, 'the offer is what a read from the same cursor returns')
    t.equal((await poll(part.agent, answer.cursor, 0)).cancelledCommands.length, 0, 'nothing more after it')
  }
})

t.test('an admin’s cancel over a waiting and a delivered part: every held poll answers as a read does', async (t) => {
  const parts = await sessions(2)
  const batch = await batchOn(parts)
  const [waiting, delivered] = parts as [Part, Part]
  waiting.cursor = (await poll(waiting.agent, waiting.cursor, 0)).cursor
  const deliveredCommand = await approveAndTake(delivered)
  const held = await hold(parts)
  // An admin acting on the CSR's sessions: each change also writes the admin's system line (one
  // more change number, which the offer accounts for).
  const { data: cancelled } = await h.admin.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch.id } } })
  const answers = await Promise.all(held)
  t.ok(cancelled!.sessions.every((s) => s.status === 'cancelled'))
  for (const [i, part] of parts.entries()) t.same(answers[i], await poll(part.agent, part.cursor, 0), `part ${i}: the held poll’s answer is what a read returns`)
  t.same(answers[0]!.cancelledCommands, [], 'a request never approved: no command to cancel')
  t.match(answers[0]!.consents, [{ kind: 'run_scripts', status: 'cancelled' }], 'the request withdrawn')
  t.same(answers[1]!.cancelledCommands, [deliveredCommand.id])
  const { data: chat } = await h.admin.client.GET('/api/v1/sessions/{id}/chat', { params: { path: { id: delivered.session.id }, query: {} } })
  t.ok(chat!.data.some((m) => m.sender === 'system' && /Site admin/.test(m.body)), 'the admin’s line was written in the same change')
})

t.test('the cancel is a constant number of statements, and answers what the batch reads back', async (t) => {
  const counted: number[] = []
  const lists: string[][] = []
  // Only the cancel's statements: the background work that shares the client (the sweeper and
  // the webhook worker, each on a 1 s timer, and the last-seen write a second after a poll) is
  // stopped and flushed first (under CI's load one of them once landed inside the count); the
  // notifier’s heartbeat is left out by statements().
  const { sweeper, webhookWorker, agents } = h.app.services
  await Promise.all([sweeper.stop(), webhookWorker.stop()]) // (the rest of this file needs neither)
  for (const n of [2, 5]) {
    const parts = await sessions(n)
    const batch = await batchOn(parts)
    // One part approved and taken, the rest waiting for the customer.
    await approveAndTake(parts[0]!)
    await agents.flushSeen()
    const count = statements(h.app.database)
    const { data: cancelled } = await csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch.id } } })
    count.stop()
    counted.push(count.list.length)
    lists.push(count.list)
    const { data: read } = await csr.client.GET('/api/v1/script-batches/{id}', { params: { path: { id: batch.id } } })
    t.same(cancelled, read, `${n} sessions: the answer is what the batch reads back`)
    t.ok(cancelled!.cancelledAt, 'marked cancelled')
    t.match(cancelled!.counts, { cancelled: n * scripts.length })
    t.equal(cancelled!.status, 'finished')
  }
  t.equal(counted[0], counted[1], `the same statements on 2 and 5 sessions (${counted[0]})`, { statements: lists })
  // PostgreSQL: batch, BEGIN, lock, runs, numbers, rows + batch + announcement, chat lines,
  // trails' heads, events, COMMIT (PGlite: no BEGIN and COMMIT among them).
  t.ok(counted[0]! <= 10, `at most 10 statements (${counted[0]})`)
})

t.test('a batch already finished is refused', async (t) => {
  const parts = await sessions(2)
  const batch = await batchOn(parts)
  await csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch.id } } })
  const error = await refused(csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch.id } } }))
  t.match(error, { status: 409, code: 'BATCH_FINISHED' })
})

t.test('a command handed out by a read: the agent’s next poll holds without a read, and still sees what follows', async (t) => {
  const { session, agent, cursor } = await consentedSession(h, csr, 'Read then held')
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: session.id } } })
  const taken = await poll(agent, cursor, 0)
  t.same(taken.commands.map((c) => c.id), [refresh!.command!.id], 'the read hands the command out')
  const count = statements(h.app.database)
  const next = await poll(agent, taken.cursor, 0)
  count.stop()
  t.equal(feedReads(count.list), 0, 'the next poll reads nothing', { statements: count.list })
  t.same(next, await poll(agent, taken.cursor, 0), 'and answers what a read would')
  t.same([next.commands, next.consents, next.chat, next.cancelledCommands], [[], [], [], []])
  // A change the agent sees after that is not hidden by what was remembered.
  const held = poll(agent, next.cursor, 10)
  await csr.client.POST('/api/v1/sessions/{id}/chat', { params: { path: { id: session.id } }, body: { body: 'Still there?' } })
  t.match((await held).chat, [{ body: 'Still there?' }], 'a held poll gets the CSR’s line')
})

t.test('a batch and its cancel answer the CSR before the held polls they wake, and each poll gets what a read gives', async (t) => {
  const parts = await sessions(6)
  const order: string[] = []
  const answered = <T>(who: string, p: Promise<T>) => p.then((v) => (order.push(who), v))
  /** Each part's held poll, answered in `order`; what each got equals a read from the same cursor. */
  async function woken<T>(change: () => Promise<T>) {
    order.length = 0
    const from = parts.map((p) => p.cursor)
    const held = (await hold(parts)).map((p, i) => answered(`poll ${i}`, p))
    const result = await answered('csr', change())
    const got = await Promise.all(held)
    for (const [i, part] of parts.entries()) {
      t.same(got[i], await poll(part.agent, from[i]!, 0), `poll ${i}: what a read from its cursor gives`)
      part.cursor = got[i]!.cursor
    }
    return { result, got }
  }

  const { result: batch, got: asked } = await woken(() => batchOn(parts))
  t.equal(order[0], 'csr', 'the batch’s CSR first', { order })
  asked.forEach((a, i) => t.same(a.consents.map((c) => [c.kind, c.status]), [['run_scripts', 'pending']], `poll ${i}: the batch’s consent request`))

  const { result: cancel, got: told } = await woken(() => csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch.id } } }))
  t.ok(cancel.data!.sessions.every((s) => s.status === 'cancelled'), 'every part cancelled')
  t.equal(order[0], 'csr', 'the cancel’s CSR first', { order })
  told.forEach((a, i) => t.equal(a.consents.length + a.cancelledCommands.length > 0, true, `poll ${i}: told of the cancel`))
})
