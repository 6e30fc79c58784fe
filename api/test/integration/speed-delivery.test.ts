import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { commands, sessionEvents } from '../../src/db/schema.ts'
import { preparedRows, rows } from '../../src/db/raw.ts'
import { setupApp } from '../helpers/app.ts'
import { consentedSession as consented } from '../helpers/consented.ts'
import { statements } from '../helpers/statements.ts'

/**
 * The dispatch path's fourth round: the CSR's Refresh writes its command in the statement that
 * reads the consent (no statement of its own), the delivery mark and that statement are prepared
 * on PostgreSQL (one round trip each, not two), and a command closed between the poll's read (or
 * the commit's offer) and its delivery mark is never handed out: the change that closed it won,
 * and what the agent gets matches what the CSR sees.
 */
const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: 10 })
const csr = await h.createUser('csr', { name: 'Delia Delivery' })
const { db } = h.app.database
const { commands: queue, feed } = h.app.services
const at = (id: string) => ({ params: { path: { id } } })

const consentedSession = (name: string) => consented(h, csr, name)

const eventsOf = async (commandId: string) =>
  (await db.select().from(sessionEvents).orderBy(sessionEvents.id)).filter((e) => (e.data as { commandId?: string }).commandId === commandId).map((e) => e.type)

t.test('a Refresh with consent given writes its command in the statement that reads the consent', async (t) => {
  const { session, agent, cursor } = await consentedSession('Counted')
  // No poll holding: the poll that follows records the delivery (with one holding, the Refresh's
  // own commit does: speed-delivery-commit.test.ts).
  const count = statements(h.app.database)
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const { data: answer } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  count.stop()
  const starts = (prefix: RegExp) => count.list.filter((q) => prefix.test(q.trim())).length
  t.equal(starts(/^insert into commands/i), 0, 'no statement of its own for the command')
  t.equal(starts(/^with state as/i), 1, 'the read that writes it')
  t.equal(starts(/^update support_sessions set feed_seq = feed_seq \+ 1/i), 1, 'one lock')
  t.equal(starts(/^with done as/i), 1, 'one delivery mark')
  t.same(answer!.commands.map((c) => c.id), [refresh!.command!.id], 'the poll carries it')
  // The row and its events as before: released with the lock's change number, then delivered.
  const [row] = await db.select().from(commands).where(eq(commands.id, refresh!.command!.id))
  t.match(row, { status: 'delivered', kind: 'collect_system_info', payload: {}, createdBy: csr.id })
  t.ok(row!.dispatchSeq !== null && row!.dispatchSeq > cursor && row!.seq > row!.dispatchSeq, 'dispatched at the lock’s number, delivered after')
  t.ok(row!.consentId, 'with its consent')
  t.same(await eventsOf(refresh!.command!.id), ['command.created', 'command.queued', 'command.delivered'])
  const { data: verified } = await h.admin.client.GET('/api/v1/sessions/{id}/events/verify', at(session.id))
  t.match(verified, { ok: true, unchained: 0 }, 'the audit chain verifies')
})

t.test('preparedRows prepares its statement on PostgreSQL (one round trip, not two)', { skip: h.db.url ? false : 'PostgreSQL only' }, async (t) => {
  const found = await db.transaction(async (tx) => {
    const [one] = await preparedRows<{ n: number }>(tx, sql`select ${41}::int + 1 as n /* prepared-check */`)
    const [listed] = await rows<{ n: number }>(tx, sql`select count(*)::int as n from pg_prepared_statements where statement like '%prepared-check%'`)
    return { value: one!.n, prepared: listed!.n }
  })
  t.same(found, { value: 42, prepared: 1 }, 'the same answer, from a statement prepared on the connection')
})

/** Runs `close` (a change that closes the session's open commands) right before each delivery mark. */
function closeBeforeDelivery(t: { teardown(fn: () => void): void }, close: (sessionId: string) => Promise<unknown>) {
  const original = queue.markDelivered
  queue.markDelivered = async (sessionId, list) => {
    await close(sessionId)
    return original.call(queue, sessionId, list)
  }
  t.teardown(() => void (queue.markDelivered = original))
}

const takeOver = (sessionId: string) => feed.change(sessionId, (s) => queue.cancelOpen(s, 'Another computer took the session over'))

for (const how of ['held poll (the commit’s offer)', 'poll that reads']) {
  t.test(`a command closed between the ${how} and its delivery mark is not handed out`, async (t) => {
    const { session, agent, cursor } = await consentedSession(`Closed ${how}`)
    const held = how.startsWith('held') ? agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } }) : undefined
    if (held) {
      await new Promise((r) => setTimeout(r, 50))
      // As when the poll began holding after the Refresh looked (else the Refresh's own commit
      // delivers the command, and nothing can fall between: speed-delivery-commit.test.ts).
      const holding = feed.holding
      feed.holding = () => false
      t.teardown(() => void (feed.holding = holding))
    }
    closeBeforeDelivery(t, takeOver)
    const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
    const { data: answer } = held ? await held : await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
    t.same(answer!.commands, [], 'the agent does not get it')
    const { data: seen } = await csr.client.GET('/api/v1/sessions/{id}/commands', { params: { path: { id: session.id }, query: {} } })
    t.match(
      seen!.data.find((c) => c.id === refresh!.command!.id),
      { status: 'cancelled', deliveredAt: null, error: 'Another computer took the session over' },
      'the CSR sees it cancelled, never delivered',
    )
    t.same(await eventsOf(refresh!.command!.id), ['command.created', 'command.queued', 'command.cancelled'], 'no delivery recorded')
    const { data: later } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
    t.same(later!.commands, [], 'nor on its next poll')
  })
}

t.test('a cancel racing the delivery mark: exactly one wins, and the CSR sees what the agent got', async (t) => {
  for (let i = 0; i < 4; i++) {
    const { session, agent, cursor } = await consentedSession(`Race ${i}`)
    const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
    await new Promise((r) => setTimeout(r, 50))
    const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
    const [{ data: answer }] = await Promise.all([held, takeOver(session.id)])
    const got = answer!.commands.some((c) => c.id === refresh!.command!.id)
    const [row] = await db.select().from(commands).where(eq(commands.id, refresh!.command!.id))
    const events = await eventsOf(refresh!.command!.id)
    if (got) {
      // Delivered first: the take-over then cancelled a delivered command, which the agent is told.
      t.equal(row!.status, 'cancelled')
      t.ok(row!.deliveredAt, 'recorded as delivered before it left')
      t.same(events, ['command.created', 'command.queued', 'command.delivered', 'command.cancelled'])
    } else {
      t.equal(row!.status, 'cancelled')
      t.equal(row!.deliveredAt, null, 'never delivered')
      t.same(events, ['command.created', 'command.queued', 'command.cancelled'])
    }
  }
})
