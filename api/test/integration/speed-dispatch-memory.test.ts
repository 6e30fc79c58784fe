import t, { type Test } from 'tap'
import type { AgentPrincipal } from '../../src/services/agents.service.ts'
import { setupApp } from '../helpers/app.ts'
import { consentedSession as consented, refreshWhileHeld } from '../helpers/consented.ts'

/**
 * The dispatch's sixth round: the agent's report (a console-only change) often commits while the
 * agent's re-poll reads its feed. The read's snapshot is from before the report, so it ends one
 * number short of the session's; remembered as it was, the next Refresh's change did not follow on
 * what memory knew, dropped its offer, and the held poll read (five statements and a delivery
 * mark) instead of answering from the Refresh's commit. The fleet bench's every timed dispatch
 * went that way. Memory now keeps the console-only changes that came in while a read ran.
 */
const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: 10 })
const csr = await h.createUser('csr', { name: 'Mona Memory' })
const { db } = h.app.database
const { agents } = h.app.services
const at = (id: string) => ({ params: { path: { id } } })

const starts = (list: string[], prefix: RegExp) => list.filter((q) => prefix.test(q.trim())).length
const FEED_READ = /^select s\.id::text as id, s\.number/i
const DELIVERY_MARK = /^with done as/i

/**
 * Runs `agents.read` with its first statement's answer held back until `meanwhile` is done: what
 * `meanwhile` commits is not in the read's snapshot, but announced before the read ends.
 */
async function readAround(t: Test, principal: AgentPrincipal, cursor: number, meanwhile: () => Promise<unknown>) {
  const execute = db.execute
  let answered!: () => void
  const snapshot = new Promise<void>((resolve) => (answered = resolve))
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  db.execute = (async (query: Parameters<typeof execute>[0]) => {
    db.execute = execute
    const result = await execute.call(db, query)
    answered()
    await gate
    return result
  }) as typeof execute
  t.teardown(() => void (db.execute = execute))
  const reading = agents.read(principal, cursor)
  await snapshot
  await meanwhile()
  release()
  return reading
}

/**
 * A session whose agent got a collection by a read and reported it while its re-poll's read ran
 * (then `also`); that read's cursor.
 */
async function reportDuringRead(t: Test, name: string, also?: (sessionId: string) => Promise<unknown>) {
  const { session, agent, cursor } = await consented(h, csr, name)
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { data: got } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  t.same(got!.commands.map((c) => c.id), [refresh!.command!.id], 'a read delivered the collection')
  const principal = { agentId: agent.joined.agentId, sessionId: session.id }
  const repoll = await readAround(t, principal, got!.cursor, async () => {
    const { data: report } = await agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: refresh!.command!.id } }, body: { sequence: 0, status: 'succeeded' } })
    t.match(report, { duplicate: false, commandStatus: 'succeeded' }, 'the report committed while the re-poll read')
    await also?.(session.id)
  })
  t.same(repoll.commands, [], 'the re-poll found nothing for the agent')
  t.same(repoll.chat, [], 'nor any chat line')
  return { session, agent, cursor: repoll.cursor }
}

t.test('a report committed while the re-poll read: the next Refresh is answered from its commit, without a read', async (t) => {
  const { session, agent, cursor } = await reportDuringRead(t, 'Report during read')
  const { refresh, answer, statements } = await refreshWhileHeld(h, csr, agent, session.id, cursor)
  t.equal(refresh.command!.status, 'delivered', 'delivered by the Refresh’s commit')
  t.same(answer.commands.map((c) => c.id), [refresh.command!.id], 'the held poll carries it')
  t.equal(starts(statements, FEED_READ), 0, 'the held poll read nothing: memory knew the report’s number')
  t.equal(starts(statements, DELIVERY_MARK), 0, 'nor marked a delivery')
  const { data: again } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  t.same(again!.commands.map((c) => c.id), [refresh.command!.id], 'a poll from the old cursor gets it again (a lost answer)')
})

t.test('a change the agent sees after the report, during the same read, still reaches its next poll', async (t) => {
  const { agent, cursor } = await reportDuringRead(t, 'Chat during read', (sessionId) =>
    csr.client.POST('/api/v1/sessions/{id}/chat', { params: { path: { id: sessionId } }, body: { body: 'during the read' } }),
  )
  const { data: next } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  t.same(next!.chat.map((m) => m.body), ['during the read'], 'the next poll, from the read’s cursor, gets the line (not “nothing” from memory)')
})
