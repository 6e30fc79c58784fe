import t from 'tap'
import { asc, eq, sql } from 'drizzle-orm'
import { chatMessages, commands, scriptOutputChunks, scriptRuns, sessionEvents, supportSessions } from '../../src/db/schema.ts'
import { rows } from '../../src/db/raw.ts'
import { tailLines } from '../../src/services/runs.service.ts'
import { joinAgent, type TestAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'
import { statements } from '../helpers/statements.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * A run's start, output and finish are each a handful of statements (one read, one write): the
 * rules stay those of the longer version. Output is stored exactly once and in order whatever
 * arrives at once, a gap is refused without losing anything, nothing is taken after the end, a
 * retried post changes nothing; start and finish write the rows, change numbers and audit
 * events they always wrote, stop-on-failure included.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const category = await createCategory(h, 'Output speed')
const { db } = h.app.database
const scripts = await Promise.all(['One', 'Two', 'Three'].map((name) => upload(csr, category, { name, published: true })))
const runPath = (id: string) => ({ params: { path: { id } } })

async function approvedRuns(n: number, stopOnFailure = false) {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Speedy' } })
  const agent = await joinAgent(h, s!.number)
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', {
    body: { scripts: scripts.slice(0, n).map((x) => ({ scriptId: x.id })), sessionIds: [s!.id], stopOnFailure },
  })
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: feed!.consents.at(-1)!.id } }, body: { approved: true } })
  return { sessionId: s!.id, agent, part: batch!.sessions[0]!, runIds: batch!.sessions[0]!.runs.map((r) => r.id) }
}

const start = (agent: TestAgent, runId: string, startId = `start-${runId}`) =>
  agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(runId), body: { startId } })
const post = (agent: TestAgent, runId: string, chunks: { sequence: number; data: string }[]) =>
  agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(runId), body: { chunks: chunks.map((c) => ({ ...c, stream: 'stdout' as const })) } })
const feedSeq = async (sessionId: string) => (await db.select({ seq: supportSessions.feedSeq }).from(supportSessions).where(eq(supportSessions.id, sessionId)))[0]!.seq
/** What the database holds of a run's output: its text in order, its bytes, its sequences. */
async function stored(runId: string) {
  const found = await db.select().from(scriptOutputChunks).where(eq(scriptOutputChunks.runId, runId)).orderBy(asc(scriptOutputChunks.sequence))
  const [run] = await db.select().from(scriptRuns).where(eq(scriptRuns.id, runId))
  const [{ bytes }] = (await db.select({ bytes: sql<string>`coalesce(sum(octet_length(${scriptOutputChunks.data})), 0)` }).from(scriptOutputChunks).where(eq(scriptOutputChunks.runId, runId))) as [{ bytes: string }]
  return { text: found.map((r) => r.data).join(''), sequences: found.map((r) => r.sequence), tableBytes: Number(bytes), runBytes: run!.outputBytes, next: run!.outputNextSeq }
}

t.test('concurrent, overlapping and retried posts of one run: every chunk stored once, in order, the bytes exactly those sent', async (t) => {
  const { agent, runIds } = await approvedRuns(1)
  const runId = runIds[0]!
  await start(agent, runId)
  // 48 chunks of 4 KiB with multi-byte characters, so bytes and characters differ.
  const chunks = Array.from({ length: 48 }, (_, i) => ({ sequence: i, data: `chunk ${i} é✓ ${'x'.repeat(4000)}\n` }))
  // Six senders at once, each sending the whole run in posts of 8 from where the server says
  // (the agent's retry: resend from `expectedSequence` after a gap), so posts overlap and race.
  const sender = async (offset: number) => {
    let from = offset
    let posts = 0
    while (from < chunks.length && posts++ < 200) {
      try {
        const { data } = await post(agent, runId, chunks.slice(from, from + 8))
        from += data!.stored + data!.duplicates
      } catch (err) {
        const e = err as { code?: string; errors?: { expectedSequence?: string } }
        if (e.code !== 'OUTPUT_SEQUENCE_GAP') throw err
        from = Number(e.errors!.expectedSequence)
      }
    }
  }
  await Promise.all([0, 0, 8, 16, 24, 40].map(sender))
  const sent = chunks.map((c) => c.data).join('')
  const now = await stored(runId)
  t.same(now.sequences, chunks.map((c) => c.sequence), 'each sequence once, none missing')
  t.equal(now.text, sent, 'the stored text is exactly what was sent, in order')
  t.equal(now.tableBytes, Buffer.byteLength(sent, 'utf8'), 'no byte twice')
  t.equal(now.runBytes, now.tableBytes, 'the run counts exactly the bytes stored')
  t.equal(now.next, 48)
})

t.test('posts of 1 to 9 chunks and of 64: each stored exactly, by one statement text per power of two', async (t) => {
  const { agent, runIds } = await approvedRuns(1)
  const runId = runIds[0]!
  await start(agent, runId)
  const sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 64]
  const sent: string[] = []
  const texts: string[] = []
  for (const size of sizes) {
    const chunks = Array.from({ length: size }, (_, i) => ({ sequence: sent.length + i, data: `post of ${size}, chunk ${i} é\n` }))
    const count = statements(h.app.database)
    const { data } = await post(agent, runId, chunks)
    count.stop()
    t.same(data, { stored: size, duplicates: 0, status: 'running' }, `a post of ${size}: all stored`)
    texts.push(count.list.map((q) => q.split('\n-- ')[0]!).find((q) => /insert into script_output_chunks/.test(q)) ?? '')
    sent.push(...chunks.map((c) => c.data))
  }
  const now = await stored(runId)
  t.same(now.sequences, sent.map((_, i) => i), 'every sequence once: the padding stored nothing')
  t.equal(now.text, sent.join(''), 'the text exactly as sent, in order')
  t.equal(now.runBytes, Buffer.byteLength(sent.join(''), 'utf8'), 'the run counts exactly the bytes stored')
  const textOf = (size: number) => texts[sizes.indexOf(size)]!
  t.ok(texts.every((q) => q.length > 0), 'each post inserted its chunks')
  t.equal(new Set(texts).size, 6, 'one text per power of two: 1, 2, 4, 8, 16, 64')
  t.equal(textOf(3), textOf(4), '3 chunks go out as the text of 4')
  t.ok([5, 6, 7].every((n) => textOf(n) === textOf(8)), '5 to 7 as the text of 8')
  t.not(textOf(9), textOf(8), '9 as the text of 16')
})

t.test('long chunks are compressed with lz4 where the database has it (migrations/0010), else with pglz, and read back exactly', async (t) => {
  const { agent, runIds } = await approvedRuns(1)
  const runId = runIds[0]!
  await start(agent, runId)
  const line = (i: number) => `2026-12-04 13:${String(i % 60).padStart(2, '0')} spooler: job ${i} for printer HP-4F ✓ sent\n`
  const chunks = Array.from({ length: 4 }, (_, c) => ({ sequence: c, data: Array.from({ length: 500 }, (_, i) => line(c * 500 + i)).join('') }))
  t.same((await post(agent, runId, chunks)).data, { stored: 4, duplicates: 0, status: 'running' })
  const list = await rows<{ method: string | null; stored: number; length: number; lz4: boolean }>(
    db,
    sql`select pg_column_compression(data) as method, pg_column_size(data)::int as stored, octet_length(data)::int as length,
          (select 'lz4' = any(enumvals) from pg_settings where name = 'default_toast_compression') as lz4
        from script_output_chunks where run_id = ${runId}::uuid order by sequence`,
  )
  t.equal(list.length, 4)
  const expected = list[0]!.lz4 ? 'lz4' : 'pglz'
  t.same(list.map((r) => r.method), [expected, expected, expected, expected], `each chunk compressed with ${expected}`)
  t.ok(list.every((r) => r.stored < r.length / 2), 'in less than half the room')
  t.equal((await stored(runId)).text, chunks.map((c) => c.data).join(''), 'the text exactly as sent, in order')
})

t.test('the chat line’s tail is the last lines of the last 16,384 characters, however many bytes they take', async (t) => {
  const { sessionId, agent, runIds } = await approvedRuns(1)
  const runId = runIds[0]!
  await start(agent, runId)
  // Read from the end, the text is 11,000 newlines (1 byte each), one line of 1,900 '✓' (3 bytes
  // each), then the lines before them: those are 12,900 characters but 16,700 bytes back, so the
  // tail needs their chunk although more than the window's count of bytes come after it. The
  // chunk before that has 65,740 bytes after it (over 4 bytes × 16,384): it is not read.
  const pieces = ['way back\n', `${'x'.repeat(49_000)}\nfirst line\nsecond line é\nthird line ✓\n`, '✓'.repeat(1900), '\n'.repeat(11_000)]
  await post(agent, runId, pieces.map((data, sequence) => ({ sequence, data })))
  await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runId), body: { status: 'succeeded', exitCode: 0, durationMs: 5 } })
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', { params: { path: { id: sessionId } } })
  const line = chat!.data.find((m) => m.systemEvent?.type === 'script_run' && (m.systemEvent.data as { runId?: string }).runId === runId)
  const tail = (line!.systemEvent!.data as { tail: string[] }).tail
  const lastChars = Array.from(pieces.join('')).slice(-16_384).join('')
  t.same(tail, tailLines(lastChars), 'the last lines of the last 16,384 characters')
  t.same(tail, ['first line', 'second line é', 'third line ✓', '✓'.repeat(1900)], 'lines from the first chunk too')
})

t.test('a retried post with nothing new changes nothing: no change number spent, the same answer', async (t) => {
  const { sessionId, agent, runIds } = await approvedRuns(1)
  const runId = runIds[0]!
  await start(agent, runId)
  const chunks = [0, 1, 2].map((sequence) => ({ sequence, data: `line ${sequence}\n` }))
  t.same((await post(agent, runId, chunks)).data, { stored: 3, duplicates: 0, status: 'running' })
  const before = { seq: await feedSeq(sessionId), output: await stored(runId) }
  t.same((await post(agent, runId, chunks)).data, { stored: 0, duplicates: 3, status: 'running' }, 'counted as duplicates')
  t.same((await post(agent, runId, chunks.slice(1))).data, { stored: 0, duplicates: 2, status: 'running' })
  t.equal(await feedSeq(sessionId), before.seq, 'the session did not change: nobody is woken for it')
  t.same(await stored(runId), before.output, 'nothing stored')
  t.same((await post(agent, runId, [...chunks, { sequence: 3, data: 'line 3\n' }])).data, { stored: 1, duplicates: 3, status: 'running' }, 'a retry with one new chunk stores that one')
  t.equal(await feedSeq(sessionId), before.seq + 1, 'one change number for it')
})

t.test('an out-of-order post is refused with where to resend from and nothing is lost; after the end nothing is taken', async (t) => {
  const { agent, runIds } = await approvedRuns(1)
  const runId = runIds[0]!
  await start(agent, runId)
  const chunk = (sequence: number) => ({ sequence, data: `out ${sequence}\n` })
  await post(agent, runId, [0, 1, 2].map(chunk))
  let err = await refused(post(agent, runId, [4, 5].map(chunk)))
  t.same([err.status, err.code, err.errors], [409, 'OUTPUT_SEQUENCE_GAP', { expectedSequence: '3' }], 'chunk 3 missing')
  t.same((await stored(runId)).sequences, [0, 1, 2], 'nothing of the refused post stored, nothing before it lost')
  t.same((await post(agent, runId, [3, 4, 5].map(chunk))).data, { stored: 3, duplicates: 0, status: 'running' }, 'resent from 3')
  const { data: done } = await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runId), body: { status: 'succeeded', exitCode: 0, durationMs: 10, outputChunks: 6 } })
  t.same(done, { duplicate: false, status: 'succeeded' })
  const before = await stored(runId)
  err = await refused(post(agent, runId, [6].map(chunk)))
  t.same([err.status, err.code], [409, 'RUN_FINISHED'], 'a new chunk after the end')
  err = await refused(post(agent, runId, [5].map(chunk)))
  t.same([err.status, err.code], [409, 'RUN_FINISHED'], 'a repeat after the end')
  t.same(await stored(runId), before, 'the output is what it was at the end')
  t.equal(before.text, [0, 1, 2, 3, 4, 5].map((n) => `out ${n}\n`).join(''))
})

t.test('start and finish with stop-on-failure: the rows, change numbers, chat lines and audit events a run always had', async (t) => {
  const { sessionId, agent, part, runIds } = await approvedRuns(3, true)
  const seq0 = await feedSeq(sessionId)
  t.same((await start(agent, runIds[0]!, 'journaled-start-1')).data, { duplicate: false, status: 'running' })
  t.equal(await feedSeq(sessionId), seq0 + 4, 'a start: its change, the chat line, the run, the command')
  const [line] = await db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(asc(chatMessages.seq)).then((r) => r.slice(-1))
  const [run] = await db.select().from(scriptRuns).where(eq(scriptRuns.id, runIds[0]!))
  let [command] = await db.select().from(commands).where(eq(commands.id, part.commandId))
  t.match(line, { sender: 'system', body: 'Running "One" v1 (1/3)', seq: seq0 + 2, systemEvent: { type: 'script_run', data: { runId: runIds[0], status: 'running', count: 3 } } })
  t.match(run, { status: 'running', startId: 'journaled-start-1', chatMessageId: line!.id, seq: seq0 + 3 })
  t.ok(run!.startedAt)
  t.match(command, { status: 'running', seq: seq0 + 4 })
  t.same((await start(agent, runIds[0]!, 'journaled-start-1')).data, { duplicate: true, status: 'running' }, 'the same start again')
  let err = await refused(start(agent, runIds[0]!, 'another-start-1'))
  t.same([err.status, err.code], [409, 'RUN_ALREADY_STARTED'])
  err = await refused(start(agent, runIds[2]!))
  t.same([err.status, err.code], [409, 'RUN_OUT_OF_ORDER'], 'scripts start in order')
  t.match(err.message, /Script 1 of this batch/)

  await post(agent, runIds[0]!, Array.from({ length: 12 }, (_, i) => ({ sequence: i, data: `step ${i}\n` })))
  const seq1 = await feedSeq(sessionId)
  const { data: finished } = await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', {
    ...runPath(runIds[0]!),
    body: { status: 'failed', exitCode: 3, durationMs: 1500, error: 'disk full', outputChunks: 12 },
  })
  t.same(finished, { duplicate: false, status: 'failed' })
  t.equal(await feedSeq(sessionId), seq1 + 6, 'a finish: its change, the run, its chat line, two skipped scripts, the command')
  const runs = await db.select().from(scriptRuns).where(eq(scriptRuns.commandId, part.commandId)).orderBy(asc(scriptRuns.position))
  t.match(runs[0], { status: 'failed', exitCode: 3, durationMs: 1500, error: 'disk full', seq: seq1 + 2 })
  t.ok(runs[0]!.finishedAt)
  const skipped = 'Skipped: "One" failed and the batch stops at the first failure'
  t.match(runs[1], { status: 'skipped', error: skipped, exitCode: null, durationMs: null, startedAt: null, seq: seq1 + 4 })
  t.match(runs[2], { status: 'skipped', error: skipped, seq: seq1 + 5 })
  t.ok(runs[1]!.finishedAt && runs[2]!.finishedAt)
  ;[command] = await db.select().from(commands).where(eq(commands.id, part.commandId))
  t.match(command, { status: 'failed', error: '3 of 3 scripts did not succeed', seq: seq1 + 6 })
  t.ok(command!.finishedAt)
  const [ended] = await db.select().from(chatMessages).where(eq(chatMessages.id, line!.id))
  t.match(ended, { body: '"One" v1 (1/3): failed (exit 3, 1.5 s) — disk full', seq: seq1 + 3 })
  t.same(ended!.systemEvent!.data['tail'], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((n) => `step ${n}`), 'the chat line carries the last lines')
  t.same((await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runIds[0]!), body: { status: 'failed', exitCode: 3, durationMs: 1500 } })).data, {
    duplicate: true,
    status: 'failed',
  })
  err = await refused(start(agent, runIds[1]!))
  t.same([err.status, err.code], [409, 'RUN_SKIPPED'])

  const events = await db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.id))
  t.same(
    events.slice(-6).map((e) => [e.type, e.actorType]),
    [
      ['command.running', 'agent'],
      ['script_run.started', 'agent'],
      ['script_run.failed', 'agent'],
      ['script_run.skipped', 'system'],
      ['script_run.skipped', 'system'],
      ['command.failed', 'system'],
    ],
  )
  t.match(events.at(-3)!.data, { runId: runIds[1], status: 'skipped', error: skipped })
  t.match(await h.app.services.audit.verifySession(sessionId), { ok: true }, 'the session’s audit chain verifies')
  const { data: batch } = await csr.client.GET('/api/v1/script-batches/{id}', { params: { path: { id: runs[0]!.batchId } } })
  t.equal(batch!.status, 'finished')
  t.same(batch!.sessions[0]!.runs.map((r) => r.status), ['failed', 'skipped', 'skipped'])
})

t.test('the last script of a part finishing finishes its command; a lost run cancels the rest', async (t) => {
  const { sessionId, agent, part, runIds } = await approvedRuns(2)
  for (const [i, runId] of runIds.entries()) {
    await start(agent, runId)
    await post(agent, runId, [{ sequence: 0, data: `script ${i}\n` }])
    const seq = await feedSeq(sessionId)
    await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runId), body: { status: 'succeeded', exitCode: 0, durationMs: 20 } })
    const [command] = await db.select().from(commands).where(eq(commands.id, part.commandId))
    if (i === 0) {
      t.equal(command!.status, 'running', 'the first of two: the command goes on')
      t.equal(await feedSeq(sessionId), seq + 3)
    } else {
      t.match(command, { status: 'succeeded', error: null, seq: seq + 4 }, 'the last: the command succeeded')
    }
  }
  const types = (await db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.id))).map((e) => e.type)
  t.same(types.slice(-3), ['script_run.started', 'script_run.succeeded', 'command.succeeded'])
  t.match(await h.app.services.audit.verifySession(sessionId), { ok: true })

  const lost = await approvedRuns(3)
  await start(lost.agent, lost.runIds[0]!)
  t.same((await lost.agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(lost.runIds[0]!), body: { status: 'lost' } })).data, { duplicate: false, status: 'lost' })
  const runs = await db.select().from(scriptRuns).where(eq(scriptRuns.commandId, lost.part.commandId)).orderBy(asc(scriptRuns.position))
  t.same(runs.map((r) => r.status), ['lost', 'cancelled', 'cancelled'])
  t.match(runs[1], { error: 'Not run: the agent restarted while an earlier script of this batch was running' })
  const [command] = await db.select().from(commands).where(eq(commands.id, lost.part.commandId))
  t.match(command, { status: 'failed', error: '3 of 3 scripts did not succeed' })
  t.match(await h.app.services.audit.verifySession(lost.sessionId), { ok: true })
})

t.test('chunk text is bounded at 65,536 code points, counted as the schema counts them (a surrogate pair is one)', async (t) => {
  const { agent, runIds } = await approvedRuns(1)
  const runId = runIds[0]!
  await start(agent, runId)
  // 65,536 emoji are 131,072 UTF-16 units but 65,536 characters: within the bound.
  const { data } = await post(agent, runId, [{ sequence: 0, data: '😀'.repeat(65_536) }])
  t.match(data, { stored: 1, duplicates: 0 })
  for (const [what, text] of [
    ['one emoji more', '😀'.repeat(65_537)],
    ['one ASCII character more', 'x'.repeat(65_537)],
    ['an emoji past 65,535 ASCII characters', `${'x'.repeat(65_535)}😀😀`],
  ] as const) {
    const err = await refused(post(agent, runId, [{ sequence: 1, data: 'fine' }, { sequence: 2, data: text }]))
    t.equal(err.status, 400, what)
    t.match(err.body, { code: 'VALIDATION_FAILED', errors: { 'chunks.1.data': 'must NOT have more than 65536 characters' } }, what)
  }
  t.equal((await stored(runId)).next, 1, 'nothing of a refused post is kept')
})
