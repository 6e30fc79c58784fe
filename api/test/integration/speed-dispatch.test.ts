import t from 'tap'
import { eq } from 'drizzle-orm'
import { commands, sessionEvents, supportSessions } from '../../src/db/schema.ts'
import { setupApp } from '../helpers/app.ts'
import { consentedSession as consented } from '../helpers/consented.ts'
import { refused } from '../helpers/refused.ts'

/**
 * The dispatch's shortcuts, each with the behaviour that keeps it honest: the CSR's Refresh checks
 * access and state under the session's lock (no read before it), so a refused Refresh changes
 * nothing; with the consent already given it writes the command released in one statement, and
 * still exactly once when two arrive at once; the audit trail's head read with the change's own
 * reads keeps the chain whole under concurrent changes; and the held poll gets the command.
 */
const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: 10 })
const csr = await h.createUser('csr', { name: 'Dora Dispatch' })
const other = await h.createUser('csr', { name: 'Otto Other' })
const { db } = h.app.database
const at = (id: string) => ({ params: { path: { id } } })

const consentedSession = (name: string) => consented(h, csr, name)

const seqOf = async (id: string) => (await db.select({ seq: supportSessions.feedSeq }).from(supportSessions).where(eq(supportSessions.id, id)))[0]!.seq

t.test('a refused Refresh changes nothing: someone else’s session, a waiting one, an ended one', async (t) => {
  const { session } = await consentedSession('Refused')
  const before = await seqOf(session.id)
  const events = (await db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, session.id))).length
  t.equal((await refused(other.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id)))).code, 'SESSION_NOT_FOUND', 'another CSR’s session is unknown')
  t.equal((await refused(csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at('00000000-0000-4000-8000-000000000000')))).code, 'SESSION_NOT_FOUND')
  t.equal(await seqOf(session.id), before, 'no change number taken')
  t.equal((await db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, session.id))).length, events, 'no event written')

  const { data: waiting } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Waiting' } })
  t.equal((await refused(csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(waiting!.id)))).code, 'SESSION_NOT_ACTIVE')
  await csr.client.POST('/api/v1/sessions/{id}/end', at(session.id))
  t.equal((await refused(csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id)))).code, 'SESSION_ENDED')
  // An admin may, and the CSR's chat names them (the admin path runs after the shortcut too).
  const { session: s2 } = await consentedSession('Admin')
  const { data: byAdmin } = await h.admin.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s2.id))
  t.equal(byAdmin!.command!.status, 'queued', 'released at once: the consent lasts for the session')
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(s2.id))
  t.ok(chat!.data.some((m) => m.systemEvent?.type === 'admin.acted'), 'the admin is named in the chat')
})

t.test('with consent given: one command, released, handed to the held poll; two at once make one', async (t) => {
  const { session, agent, cursor } = await consentedSession('Fast')
  const holding = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 100))
  const [a, b] = await Promise.allSettled([
    csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id)),
    csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id)),
  ])
  const ok = [a, b].filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ data?: { command: { id: string; status: string } | null; consent: unknown } }>).value.data!)
  const no = [a, b].filter((r) => r.status === 'rejected')
  t.equal(ok.length, 1, 'one Refresh is taken')
  t.equal(no.length, 1, 'the other is refused')
  t.equal(((no[0] as PromiseRejectedResult).reason as { code: string }).code, 'ALREADY_QUEUED')
  t.equal(ok[0]!.command!.status, 'delivered', 'delivered by its own commit: the agent’s poll holds here')
  t.equal(ok[0]!.consent, null, 'no new consent asked')
  const [row] = await db.select().from(commands).where(eq(commands.id, ok[0]!.command!.id))
  t.equal(row!.status, 'delivered', 'stored as delivered')
  t.ok(row!.dispatchSeq !== null, 'with its dispatch number')
  const { data: woken } = await holding
  t.same(woken!.commands.map((c) => c.id), [ok[0]!.command!.id], 'the held poll carries the command')
  const { data: list } = await csr.client.GET('/api/v1/sessions/{id}/commands', { params: { path: { id: session.id }, query: { status: 'delivered' } } })
  t.same(list!.data.map((c) => c.id), [ok[0]!.command!.id], 'marked delivered once handed out')
  const trail = (await csr.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100, order: 'asc' } } })).data!.data
  const types = trail.filter((e) => e.data.commandId === ok[0]!.command!.id).map((e) => e.type)
  t.same(types, ['command.created', 'command.queued', 'command.delivered'], 'the same events as before, in order')
  const { data: verified } = await h.admin.client.GET('/api/v1/sessions/{id}/events/verify', at(session.id))
  t.match(verified, { ok: true, unchained: 0 }, 'the audit chain verifies')
})

t.test('many changes of one session at once keep its audit chain whole', async (t) => {
  const { session, agent } = await consentedSession('Busy')
  const work: Promise<unknown>[] = []
  for (let i = 0; i < 6; i++) {
    work.push(csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id)).catch(() => undefined))
    work.push(csr.client.POST('/api/v1/sessions/{id}/chat', { params: { path: { id: session.id } }, body: { body: `line ${i}` } }))
    work.push(agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } }))
  }
  await Promise.all(work)
  const { data: verified } = await h.admin.client.GET('/api/v1/sessions/{id}/events/verify', at(session.id))
  t.match(verified, { ok: true, unchained: 0, firstBroken: null })
  const open = (await db.select().from(commands).where(eq(commands.sessionId, session.id))).filter((c) => ['awaiting_consent', 'queued', 'delivered', 'running'].includes(c.status))
  t.equal(open.length, 1, 'one open collection at most')
})
