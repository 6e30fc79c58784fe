import t from 'tap'
import { asc, count, eq, inArray } from 'drizzle-orm'
import type { HelplineClient } from '@helpline/sdk'
import { agents, chatMessages, commands, consentRequests, scriptRuns, sessionEvents, supportSessions } from '../../src/db/schema.ts'
import { hashToken, newToken } from '../../src/lib/crypto.ts'
import { testPlatform, testPublicKey } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * Script batches on many sessions are written set-based (a constant number of statements): the
 * rows each session gets are exactly those one session's request always got (consent request and
 * chat line, command awaiting consent, runs, the admin's line on another CSR's session, audit
 * events that verify), with change numbers in the same order; and one refused session refuses
 * the whole batch, leaving nothing behind.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const category = await createCategory(h, 'Speed')
const { db } = h.app.database
const scripts = await Promise.all(['One', 'Two', 'Three'].map((name) => upload(csr, category, { name, published: true })))

// 100 active sessions, each with its agent, written directly: joining 100 agents through the API
// would take most of this file's time (the join itself is tested elsewhere).
const base = 100_000_000 + Math.floor(Math.random() * 800_000_000)
const created = await db
  .insert(supportSessions)
  .values(Array.from({ length: 100 }, (_, i) => ({ number: String(base + i), status: 'active' as const, customerName: `Customer ${i}`, csrId: csr.id, expiresAt: new Date(Date.now() + 3_600_000), startedAt: new Date() })))
  .returning({ id: supportSessions.id })
const tokens = created.map(() => newToken('hla'))
await db.insert(agents).values(created.map((r, i) => ({ sessionId: r.id, tokenHash: hashToken(tokens[i]!), agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey })))
const sessions: { id: string; agent: { client: HelplineClient; token: string } }[] = created.map((r, i) => ({ id: r.id, agent: { client: h.client(tokens[i]), token: tokens[i]! } }))
const ids = sessions.map((s) => s.id)
const body = { scripts: scripts.map((s) => ({ scriptId: s.id })), sessionIds: ids }

/** Row counts of everything a batch writes, and the sessions' change numbers. */
async function footprint() {
  const n = async (table: typeof consentRequests | typeof commands | typeof scriptRuns | typeof chatMessages | typeof sessionEvents) =>
    (await db.select({ n: count() }).from(table))[0]!.n
  const seqs = await db.select({ id: supportSessions.id, seq: supportSessions.feedSeq }).from(supportSessions).where(inArray(supportSessions.id, ids)).orderBy(asc(supportSessions.id))
  return { consents: await n(consentRequests), commands: await n(commands), runs: await n(scriptRuns), chat: await n(chatMessages), events: await n(sessionEvents), seqs }
}

t.test('a batch of 3 scripts on 100 sessions: each session gets exactly its rows, in change order', async (t) => {
  const before = await footprint()
  const started = performance.now()
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body })
  t.comment(`POST /script-batches on 100 sessions: ${Math.round(performance.now() - started)} ms`)
  t.equal(batch!.sessions.length, 100)
  t.ok(batch!.sessions.every((s) => s.status === 'awaiting_consent' && s.runs.length === 3))
  const after = await footprint()
  t.same(
    { consents: after.consents - before.consents, commands: after.commands - before.commands, runs: after.runs - before.runs, chat: after.chat - before.chat, events: after.events - before.events },
    { consents: 100, commands: 100, runs: 300, chat: 100, events: 300 },
    'one request, one command, three runs, one chat line and three audit events per session',
  )
  after.seqs.forEach((s, i) => t.equal(s.seq - before.seqs[i]!.seq, 5, 'five change numbers per session, as one session’s request took'))

  for (const { id: sessionId } of [sessions[0]!, sessions[57]!, sessions[99]!]) {
    const part = batch!.sessions.find((s) => s.sessionId === sessionId)!
    const [consent] = await db.select().from(consentRequests).where(eq(consentRequests.id, part.consentId))
    const [command] = await db.select().from(commands).where(eq(commands.id, part.commandId))
    const runs = await db.select().from(scriptRuns).where(eq(scriptRuns.commandId, part.commandId)).orderBy(asc(scriptRuns.position))
    const [line] = await db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(asc(chatMessages.seq)).then((rows) => rows.slice(-1))
    const [session] = await db.select().from(supportSessions).where(eq(supportSessions.id, sessionId))
    const top = session!.feedSeq
    t.match(consent, { kind: 'run_scripts', status: 'pending', requestedBy: csr.id, seq: top - 3 })
    t.same((consent!.details as { scripts: { name: string }[] }).scripts.map((s) => s.name), ['One', 'Two', 'Three'])
    t.match(line, { sender: 'system', body: 'Asked the customer: Run scripts', seq: top - 2, systemEvent: { type: 'consent.requested', data: { consentId: consent!.id } } })
    t.match(command, { kind: 'run_scripts', status: 'awaiting_consent', consentId: consent!.id, createdBy: csr.id, seq: top - 1, dispatchSeq: null })
    const payload = command!.payload as { scripts: { runId: string }[] }
    t.same(payload.scripts.map((s) => s.runId), runs.map((r) => r.id), 'the payload names the runs')
    t.same(runs.map((r) => [r.position, r.scriptName, r.status, r.seq, r.consentId]), [0, 1, 2].map((p) => [p, ['One', 'Two', 'Three'][p], 'awaiting_consent', top, consent!.id]))
    const events = await db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.id))
    t.same(events.slice(-3).map((e) => e.type), ['consent.requested', 'command.created', 'script_batch.requested'])
    t.match((await h.app.services.audit.verifySession(sessionId)), { ok: true }, 'the session’s audit chain verifies')
  }

  // The agents see their request, and approving releases the command as before.
  const { agent } = sessions[42]!
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const consent = feed!.consents.find((c) => c.kind === 'run_scripts' && c.status === 'pending')!
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved: true } })
  const { data: released } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: feed!.cursor, wait: 0 } } })
  t.same(released!.commands.map((c) => c.kind), ['run_scripts'])

  // Cancel one waiting part and one approved part one session at a time (the one-session path),
  // then the whole batch (set-based): their rows must look the same.
  const partOf = (i: number) => batch!.sessions.find((s) => s.sessionId === sessions[i]!.id)!
  const other = sessions[43]!.agent
  const { data: feed43 } = await other.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const consent43 = feed43!.consents.find((c) => c.kind === 'run_scripts' && c.status === 'pending')!
  await other.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent43.id } }, body: { approved: true } })
  await other.client.GET('/api/v1/agent/poll', { params: { query: { cursor: feed43!.cursor, wait: 0 } } }) // takes its command, as 42 did
  const marks = new Map<number, number>()
  for (const i of [1, 2, 42, 43]) marks.set(i, await seqOf(sessions[i]!.id))
  await csr.client.POST('/api/v1/script-batches/{id}/sessions/{sessionId}/cancel', { params: { path: { id: batch!.id, sessionId: sessions[1]!.id } } })
  await csr.client.POST('/api/v1/script-batches/{id}/sessions/{sessionId}/cancel', { params: { path: { id: batch!.id, sessionId: sessions[43]!.id } } })
  const cancelled = performance.now()
  const { data: whole } = await csr.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch!.id } } })
  t.comment(`cancel on 98 sessions: ${Math.round(performance.now() - cancelled)} ms`)
  t.ok(whole!.sessions.every((s) => s.status === 'cancelled'))
  t.same(await trace(sessions[2]!.id, partOf(2), marks.get(2)!), await trace(sessions[1]!.id, partOf(1), marks.get(1)!), 'a waiting part: the same rows as one session’s cancel')
  t.same(await trace(sessions[42]!.id, partOf(42), marks.get(42)!), await trace(sessions[43]!.id, partOf(43), marks.get(43)!), 'an approved part: the same rows as one session’s cancel')
  t.match(await h.app.services.audit.verifySession(sessions[42]!.id), { ok: true })
  t.match(await h.app.services.audit.verifySession(sessions[2]!.id), { ok: true })
})

async function seqOf(sessionId: string) {
  return (await db.select({ seq: supportSessions.feedSeq }).from(supportSessions).where(eq(supportSessions.id, sessionId)))[0]!.seq
}

/** What a cancel wrote in a session after change number `mark`, ids and instants left out, numbers relative to the mark. */
async function trace(sessionId: string, part: { consentId: string; commandId: string }, mark: number) {
  const rel = (seq: number) => (seq > mark ? seq - mark : 'before')
  const [consent] = await db.select().from(consentRequests).where(eq(consentRequests.id, part.consentId))
  const [command] = await db.select().from(commands).where(eq(commands.id, part.commandId))
  const runs = await db.select().from(scriptRuns).where(eq(scriptRuns.commandId, part.commandId)).orderBy(asc(scriptRuns.position))
  const chat = (await db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(asc(chatMessages.seq))).filter((m) => m.seq > mark)
  const events = await db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.id))
  const cancelAt = events.map((e) => e.type).lastIndexOf('script_batch.requested')
  const strip = (data: Record<string, unknown>) => Object.fromEntries(Object.entries(data).filter(([k]) => !/Id$/.test(k)))
  return {
    seq: (await seqOf(sessionId)) - mark,
    consent: [consent!.status, rel(consent!.seq), consent!.answeredAt === null],
    command: [command!.status, command!.error, rel(command!.seq), command!.finishedAt !== null],
    runs: runs.map((r) => [r.status, r.error, rel(r.seq), r.exitCode, r.durationMs, r.finishedAt !== null]),
    chat: chat.map((m) => [m.body, m.sender, rel(m.seq), m.systemEvent?.type]),
    events: events.slice(cancelAt + 1).filter((e) => e.type !== 'consent.approved' && e.type !== 'command.queued').map((e) => [e.type, e.actorType, strip(e.data)]),
  }
}

t.test('an admin’s batch on CSRs’ sessions names the admin in each chat, as one request did', async (t) => {
  const some = ids.slice(0, 10)
  const { data: batch } = await h.admin.client.POST('/api/v1/script-batches', { body: { ...body, sessionIds: some } })
  for (const sessionId of some) {
    const lines = await db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(asc(chatMessages.seq))
    const [session] = await db.select().from(supportSessions).where(eq(supportSessions.id, sessionId))
    t.match(lines.at(-1), { body: /^Site admin .+ asked to run scripts$/, seq: session!.feedSeq, systemEvent: { type: 'admin.acted', data: { action: 'run_scripts' } } })
    const events = await db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.id))
    t.same(events.slice(-4).map((e) => e.type), ['consent.requested', 'command.created', 'admin.acted', 'script_batch.requested'])
    t.match(await h.app.services.audit.verifySession(sessionId), { ok: true })
  }
  await h.admin.client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch!.id } } })
})

t.test('all or nothing: one refused session of 100 refuses the batch and writes nothing', async (t) => {
  // One session ends between the CSR's choice and the batch: refused inside the transaction.
  const ended = sessions[63]!
  const before = await footprint()
  const ending = h.app.services.runs
  const check = ending['checkTargets'].bind(ending)
  // The target check passes (as it would have a moment earlier), then the session ends.
  ending['checkTargets'] = async (...args: Parameters<typeof check>) => {
    await check(...args)
    await db.update(supportSessions).set({ status: 'ended' }).where(eq(supportSessions.id, ended.id))
  }
  t.teardown(() => {
    ending['checkTargets'] = check
  })
  const err = await refused(csr.client.POST('/api/v1/script-batches', { body }))
  t.same([err.status, err.code, err.body.errors], [422, 'SESSION_NOT_ACTIVE', { 'sessionIds.63': 'Not active' }])
  ending['checkTargets'] = check
  t.same(await footprint(), before, 'no request, command, run, chat line, event or change number was written')

  // A full queue on one session: 409, nothing written either.
  const full = sessions[5]!
  const others = ids.filter((id) => id !== ended.id)
  for (let i = 0; i < 5; i++) await csr.client.POST('/api/v1/script-batches', { body: { ...body, sessionIds: [full.id] } })
  const beforeFull = await footprint()
  const err2 = await refused(csr.client.POST('/api/v1/script-batches', { body: { ...body, sessionIds: others } }))
  t.same([err2.status, err2.code], [409, 'RUN_QUEUE_FULL'])
  t.same(await footprint(), beforeFull, 'nothing written')
})
