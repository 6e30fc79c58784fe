import t from 'tap'
import { count, eq } from 'drizzle-orm'
import type { Schemas } from '@helpline/sdk'
import { runBatches, scriptOutputChunks, scriptRuns } from '../../src/db/schema.ts'
import { joinAgent, type TestAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, sha256, upload } from '../helpers/scripts.ts'

/**
 * Script batches through the API, with the SDK playing the agent: validation, consent per
 * session, the agent's start/output/finish protocol and its guarantees, cancel, lost runs,
 * what the console's stream and chat show, and who may see what.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_POLL_WAIT_SECONDS: 1 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const other = await h.createUser('csr', { name: 'Olga Other' })
const category = await createCategory(h, 'Runs')
const { db } = h.app.database
const at = (id: string) => ({ params: { path: { id } } })

const hello = await upload(csr, category, {
  name: 'Hello',
  published: true,
  defaultTimeoutSeconds: 42,
  executable: { name: 'hello.sh', content: '#!/bin/sh\necho hello "$1"\n' },
  inputs: [{ name: 'input.txt', content: 'some input\n' }],
})
const second = await upload(csr, category, { name: 'Second', executable: { name: 'second.py', content: 'print(2)\n' } })
const othersPrivate = await upload(other, category, { name: 'Olga private', executable: { name: 'p.sh', content: '#!/bin/sh\necho p\n' } })

async function activeSession(user = csr, name = 'Alice') {
  const { data: s } = await user.client.POST('/api/v1/sessions', { body: { customerName: name } })
  const agent = await joinAgent(h, s!.number)
  return { session: s!, agent }
}

/** What the agent sees in one poll from the start. */
async function poll(agent: TestAgent, cursor = 0) {
  const { data } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 0 } } })
  return data!
}

async function approve(agent: TestAgent, approved = true) {
  const feed = await poll(agent)
  const consent = feed.consents.filter((c) => c.kind === 'run_scripts' && c.status === 'pending').at(-1)!
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved } })
  return consent
}

const batchCount = async () => (await db.select({ n: count() }).from(runBatches))[0]!.n
const runPath = (id: string) => ({ params: { path: { id } } })

t.test('bad requests: a clear 422 or 404 naming the problem, and nothing is created', async (t) => {
  const { session } = await activeSession()
  const { data: waiting } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Not joined' } })
  const { session: olgas } = await activeSession(other, 'Olga’s customer')
  const before = await batchCount()
  const post = (body: { scripts: { scriptId: string; args?: string[] }[]; sessionIds: string[] }) => csr.client.POST('/api/v1/script-batches', { body })
  const one = [{ scriptId: hello.id }]

  let err = await refused(post({ scripts: [], sessionIds: [session.id] }))
  t.same([err.status, err.code], [422, 'NO_SCRIPTS'])
  err = await refused(post({ scripts: Array.from({ length: 51 }, () => ({ scriptId: hello.id })), sessionIds: [session.id] }))
  t.same([err.status, err.code], [422, 'TOO_MANY_SCRIPTS'], 'more than 50 scripts')
  t.match(err.message, /at most 50 scripts; 51/)
  const fifty = await post({ scripts: Array.from({ length: 50 }, () => ({ scriptId: hello.id })), sessionIds: [session.id] })
  t.equal(fifty.response.status, 201, '50 is fine')
  await csr.client.POST('/api/v1/script-batches/{id}/cancel', at(fifty.data!.id))
  err = await refused(post({ scripts: one, sessionIds: [] }))
  t.same([err.status, err.code], [422, 'NO_SESSIONS'])
  err = await refused(post({ scripts: one, sessionIds: [session.id, session.id] }))
  t.same([err.status, err.code, err.body.errors], [422, 'DUPLICATE_SESSION', { 'sessionIds.1': 'Chosen twice' }])
  err = await refused(post({ scripts: [{ scriptId: hello.id, args: ['x'.repeat(4096)] }, { scriptId: hello.id, args: ['y'.repeat(4097)] }], sessionIds: [session.id] }))
  t.same([err.status, err.code], [422, 'ARGUMENTS_TOO_LONG'], 'over 8 KiB of arguments together')
  t.match(err.message, /8193 bytes/)
  err = await refused(post({ scripts: [{ scriptId: hello.id, args: ['a\u0000b'] }], sessionIds: [session.id] }))
  t.same([err.status, err.code], [422, 'INVALID_ARGUMENT'])
  err = await refused(post({ scripts: [{ scriptId: othersPrivate.id }], sessionIds: [session.id] }))
  t.same([err.status, err.code], [404, 'SCRIPT_NOT_FOUND'], 'someone else’s unpublished script does not exist for you')
  err = await refused(post({ scripts: one, sessionIds: [session.id, waiting!.id, olgas.id] }))
  t.same([err.status, err.code], [422, 'SESSION_NOT_ACTIVE'])
  t.match(err.body.errors?.['sessionIds.1'], new RegExp(`Session ${waiting!.number} \\(Not joined\\) is not active`), 'naming the session that is not active')
  t.match(err.body.errors?.['sessionIds.2'], /is not one of your sessions/, 'and the one that is not yours')
  t.notOk(err.body.errors?.['sessionIds.0'], 'not the good one')
  await csr.client.POST('/api/v1/sessions/{id}/end', at(session.id))
  err = await refused(post({ scripts: one, sessionIds: [session.id] }))
  t.match(err.message, /is not active/, 'an ended session is not active')
  t.equal(await batchCount(), before + 1, 'no refused request created a batch')
})

t.test('a batch: consent lists every script exactly; the agent downloads, starts, streams and finishes; the chat and stream follow', async (t) => {
  const { session, agent } = await activeSession()
  const { data: batch, response } = await csr.client.POST('/api/v1/script-batches', {
    body: { scripts: [{ scriptId: hello.id, args: ['world', 'two words'] }, { scriptId: second.id, timeoutSeconds: 5 }], sessionIds: [session.id] },
  })
  t.equal(response.status, 201)
  t.same(
    batch!.scripts.map((s) => [s.name, s.version, s.timeoutSeconds, s.args]),
    [
      ['Hello', 1, 42, ['world', 'two words']],
      ['Second', 1, 5, []],
    ],
    'versions, default and chosen timeouts, arguments',
  )
  t.equal(batch!.sessions[0]!.status, 'awaiting_consent')
  t.same(batch!.sessions[0]!.runs.map((r) => r.status), ['awaiting_consent', 'awaiting_consent'])

  const feed = await poll(agent)
  const consent = feed.consents.find((c) => c.kind === 'run_scripts')!
  const details = consent.details as { scripts: { name: string; version: number; size: number; digest: string; files: { name: string; sha256: string }[]; args: string[] }[] }
  t.same(
    details.scripts.map((s) => [s.name, s.version, s.size, s.digest, s.args]),
    [
      ['Hello', 1, hello.size, hello.digest, ['world', 'two words']],
      ['Second', 1, second.size, second.digest, []],
    ],
    'the customer is asked about each script: name, version, size, sha256, arguments, in order',
  )
  t.same(details.scripts[0]!.files.map((f) => f.sha256), [sha256('#!/bin/sh\necho hello "$1"\n'), sha256('some input\n')], 'and every file’s sha256')
  t.equal(feed.commands.length, 0, 'nothing is handed out before the answer')

  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved: true } })
  const { commands } = await poll(agent)
  const command = commands.find((c) => c.kind === 'run_scripts')!
  const payload = command.payload as Schemas['RunScriptsPayload']
  const [r1, r2] = payload.scripts
  t.same([r1!.executable, r1!.args, r2!.timeoutSeconds], ['hello.sh', ['world', 'two words'], 5], 'the command carries what to run')

  const file = await h.inject({ method: 'GET', url: `/api/v1/agent/script-runs/${r1!.runId}/files/input.txt`, token: agent.token })
  t.equal(file.statusCode, 200)
  t.equal(file.body, 'some input\n', 'the agent downloads the exact bytes')
  t.equal(file.headers.etag, `"${sha256('some input\n')}"`)
  const missing = await h.inject({ method: 'GET', url: `/api/v1/agent/script-runs/${r1!.runId}/files/nope.txt`, token: agent.token })
  t.same([missing.statusCode, missing.json().code], [404, 'FILE_NOT_FOUND'])

  let err = await refused(agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(r1!.runId), body: { chunks: [{ sequence: 0, stream: 'stdout', data: 'x' }] } }))
  t.same([err.status, err.code], [409, 'RUN_NOT_STARTED'], 'no output before the start')
  err = await refused(agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(r2!.runId), body: { startId: 'start-two-0001' } }))
  t.same([err.status, err.code], [409, 'RUN_OUT_OF_ORDER'], 'the second script cannot start before the first finished')

  const { data: started } = await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(r1!.runId), body: { startId: 'start-one-0001' } })
  t.same(started, { duplicate: false, status: 'running' })
  const { data: retried } = await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(r1!.runId), body: { startId: 'start-one-0001' } })
  t.same(retried, { duplicate: true, status: 'running' }, 'a retried start with the same id is answered again')
  err = await refused(agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(r1!.runId), body: { startId: 'someone-else-02' } }))
  t.same([err.status, err.code], [409, 'RUN_ALREADY_STARTED'], 'another start is refused: at most once')

  const chunks = [
    { sequence: 0, stream: 'stdout' as const, data: 'hello world\n' },
    { sequence: 1, stream: 'stderr' as const, data: 'a warning\n' },
  ]
  const { data: ack } = await agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(r1!.runId), body: { chunks } })
  t.same(ack, { stored: 2, duplicates: 0, status: 'running' })
  const { data: again } = await agent.client.POST('/api/v1/agent/script-runs/{id}/output', {
    ...runPath(r1!.runId),
    body: { chunks: [...chunks, { sequence: 2, stream: 'stdout', data: 'more\n' }] },
  })
  t.same(again, { stored: 1, duplicates: 2, status: 'running' }, 'a retried post stores only what is new')

  const { data: live } = await csr.client.GET('/api/v1/script-runs/{id}/output', at(r1!.runId))
  t.same(live!.chunks.map((c) => [c.sequence, c.stream, c.data]), [
    [0, 'stdout', 'hello world\n'],
    [1, 'stderr', 'a warning\n'],
    [2, 'stdout', 'more\n'],
  ], 'the CSR reads the output while it runs, stdout and stderr apart')
  t.equal(live!.outputBytes, 27)
  const { data: page } = await csr.client.GET('/api/v1/script-runs/{id}/output', { params: { path: { id: r1!.runId }, query: { after: 0, limit: 1 } } })
  t.same([page!.chunks.map((c) => c.sequence), page!.next], [[1], 1], 'paged by sequence')

  const { data: done } = await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(r1!.runId), body: { status: 'succeeded', exitCode: 0, durationMs: 120 } })
  t.same(done, { duplicate: false, status: 'succeeded' })
  const { data: dup } = await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(r1!.runId), body: { status: 'succeeded', exitCode: 0, durationMs: 120 } })
  t.same(dup, { duplicate: true, status: 'succeeded' }, 'a retried finish changes nothing')
  err = await refused(agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(r1!.runId), body: { status: 'failed', exitCode: 1 } }))
  t.same([err.status, err.code], [409, 'RUN_FINISHED'], 'a finished run cannot change its outcome')
  const gone = await h.inject({ method: 'GET', url: `/api/v1/agent/script-runs/${r1!.runId}/files/hello.sh`, token: agent.token })
  t.same([gone.statusCode, gone.json().code], [409, 'RUN_FINISHED'], 'files are not served after the run')

  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(r2!.runId), body: { startId: 'start-two-0001' } })
  await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(r2!.runId), body: { status: 'failed', exitCode: 3, durationMs: 10, error: 'Exited with code 3' } })
  const { data: final } = await csr.client.GET('/api/v1/script-batches/{id}', at(batch!.id))
  t.equal(final!.status, 'finished')
  t.equal(final!.sessions[0]!.status, 'failed', 'one script failed: the session’s run failed')
  t.same(final!.counts, { succeeded: 1, failed: 1 })
  t.same(final!.sessions[0]!.runs.map((r) => [r.status, r.exitCode, r.durationMs]), [
    ['succeeded', 0, 120],
    ['failed', 3, 10],
  ])
  const { data: cmds } = await csr.client.GET('/api/v1/sessions/{id}/commands', at(session.id))
  t.same(cmds!.data.map((c) => [c.kind, c.status]), [['run_scripts', 'failed']], 'the command is done when its scripts are')

  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  const lines = chat!.data.filter((m) => m.systemEvent?.type === 'script_run')
  t.same(lines.map((m) => m.body), ['"Hello" v1 (1/2): succeeded (exit 0, 0.1 s)', '"Second" v1 (2/2): failed (exit 3, 0.0 s) — Exited with code 3'], 'one chat line per script, with how it ended')

  const stream = await h.app.services.stream.read(session.id, 0)
  const kinds = stream.events.map((e) => e.event)
  t.ok(kinds.includes('script_run'), 'the console’s stream carries the runs')
  t.same(
    stream.events.filter((e) => e.event === 'script_output').map((e) => (e.data as { sequence: number }).sequence),
    [0, 1, 2],
    'and every chunk once, in order',
  )
  const { data: history } = await csr.client.GET('/api/v1/sessions/{id}/script-runs', at(session.id))
  t.same(history!.data.map((r) => r.scriptName), ['Hello', 'Second'], 'the session’s runs, for the report')
  const { data: one } = await csr.client.GET('/api/v1/script-runs/{id}', at(r2!.runId))
  t.equal(one!.error, 'Exited with code 3')
})

t.test('denied and expired consents close that session’s runs; other sessions carry on', async (t) => {
  const a = await activeSession(csr, 'Says no')
  const b = await activeSession(csr, 'Says nothing')
  const c = await activeSession(csr, 'Says yes')
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }], sessionIds: [a.session.id, b.session.id, c.session.id] } })
  t.same(batch!.sessions.map((s) => s.customerName), ['Says no', 'Says nothing', 'Says yes'], 'sessions in the order given')
  await approve(a.agent, false)
  await approve(c.agent, true)
  await h.app.services.consents.expireDue(new Date(Date.now() + 3_600_000))
  const { data } = await csr.client.GET('/api/v1/script-batches/{id}', at(batch!.id))
  t.same(data!.sessions.map((s) => [s.status, s.runs[0]!.status]), [
    ['denied', 'denied'],
    ['expired', 'expired'],
    ['queued', 'queued'],
  ])
  t.equal(data!.status, 'running')
  const { data: list } = await csr.client.GET('/api/v1/script-batches', { params: { query: { status: 'running', sessionId: c.session.id } } })
  t.same(list!.data.map((b) => b.id), [batch!.id], 'listed as running, found by session')
  t.same(list!.data[0]!.scriptNames, ['Hello'])
})

t.test('cancel: one session’s run, then the batch; the agent is told; a finished part is 409', async (t) => {
  const a = await activeSession(csr, 'Cancel me')
  const b = await activeSession(csr, 'Cancel later')
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }, { scriptId: second.id }], sessionIds: [a.session.id, b.session.id] } })
  await approve(a.agent)
  const { commands } = await poll(a.agent)
  const command = commands.find((c) => c.kind === 'run_scripts')!
  const runId = (command.payload as Schemas['RunScriptsPayload']).scripts[0]!.runId
  await a.agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(runId), body: { startId: 'cancel-start-1' } })
  const before = await poll(a.agent)

  const { data: afterOne } = await csr.client.POST('/api/v1/script-batches/{id}/sessions/{sessionId}/cancel', { params: { path: { id: batch!.id, sessionId: a.session.id } } })
  t.same(afterOne!.sessions.map((s) => s.status), ['cancelled', 'awaiting_consent'], 'only that session’s run is cancelled')
  t.same(afterOne!.sessions[0]!.runs.map((r) => r.status), ['cancelled', 'cancelled'], 'the running script and the rest')
  const told = await poll(a.agent, before.cursor)
  t.same(told.cancelledCommands, [command.id], 'the agent’s next poll says to stop')
  const { data: ack } = await a.agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(runId), body: { chunks: [{ sequence: 0, stream: 'stdout', data: 'last words\n' }] } })
  t.equal(ack!.status, 'cancelled', 'output still arriving is kept, and the answer says cancelled')
  const { data: running } = await csr.client.GET('/api/v1/script-runs/{id}', at(runId))
  t.equal(running!.durationMs, null, 'until the agent says how it ended, its duration is unknown')
  const { data: completed } = await a.agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runId), body: { status: 'cancelled', exitCode: null, durationMs: 900, outputChunks: 1 } })
  t.same(completed, { duplicate: false, status: 'cancelled' }, 'the agent’s report completes the cancelled run')
  const { data: ended } = await csr.client.GET('/api/v1/script-runs/{id}', at(runId))
  t.same([ended!.status, ended!.durationMs], ['cancelled', 900], 'it stays cancelled, with the duration the agent measured')
  const { data: retriedEnd } = await a.agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runId), body: { status: 'cancelled', exitCode: null, durationMs: 900 } })
  t.same(retriedEnd, { duplicate: true, status: 'cancelled' }, 'a retried report changes nothing')
  const late = await refused(a.agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(runId), body: { chunks: [{ sequence: 1, stream: 'stdout', data: 'too late\n' }] } }))
  t.same([late.status, late.code], [409, 'RUN_FINISHED'], 'output after the agent reported the end is refused')
  const err = await refused(a.agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath((command.payload as Schemas['RunScriptsPayload']).scripts[1]!.runId), body: { startId: 'cancel-start-2' } }))
  t.same([err.status, err.code], [409, 'RUN_CANCELLED'], 'a cancelled run does not start')
  const again = await refused(csr.client.POST('/api/v1/script-batches/{id}/sessions/{sessionId}/cancel', { params: { path: { id: batch!.id, sessionId: a.session.id } } }))
  t.same([again.status, again.code], [409, 'RUN_FINISHED'])
  const notPart = await refused(csr.client.POST('/api/v1/script-batches/{id}/sessions/{sessionId}/cancel', { params: { path: { id: batch!.id, sessionId: '00000000-0000-4000-8000-000000000000' } } }))
  t.equal(notPart.status, 404, 'a session not in the batch')

  const { data: all } = await csr.client.POST('/api/v1/script-batches/{id}/cancel', at(batch!.id))
  t.same(all!.sessions.map((s) => s.status), ['cancelled', 'cancelled'], 'cancelling the batch withdraws the pending consent too')
  t.ok(all!.cancelledAt)
  const prompt = (await poll(b.agent)).consents.find((c) => c.kind === 'run_scripts')!
  t.equal(prompt.status, 'cancelled', 'the customer’s prompt is closed')
  const finished = await refused(csr.client.POST('/api/v1/script-batches/{id}/cancel', at(batch!.id)))
  t.same([finished.status, finished.code], [409, 'BATCH_FINISHED'])
})

t.test('output has no gaps: a skipped chunk is refused with where to resend from, each chunk is stored once, the end needs every chunk and nothing comes after it', async (t) => {
  const { session, agent } = await activeSession(csr, 'Gaps')
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }], sessionIds: [session.id] } })
  await approve(agent)
  const runId = batch!.sessions[0]!.runs[0]!.id
  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(runId), body: { startId: 'gaps-start-01' } })
  const line = (sequence: number) => ({ sequence, stream: 'stdout' as const, data: `line ${sequence}\n` })
  const post = (...sequences: number[]) => agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(runId), body: { chunks: sequences.map(line) } })
  const finish = (outputChunks?: number) =>
    agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runId), body: { status: 'succeeded', exitCode: 0, durationMs: 50, ...(outputChunks === undefined ? {} : { outputChunks }) } })
  const storedSequences = async () =>
    (await db.select({ sequence: scriptOutputChunks.sequence }).from(scriptOutputChunks).where(eq(scriptOutputChunks.runId, runId))).map((r) => r.sequence).sort((a, b) => a - b)

  let err = await refused(post(1))
  t.same([err.status, err.code, err.errors], [409, 'OUTPUT_SEQUENCE_GAP', { expectedSequence: '0' }], 'a run’s output starts at chunk 0')
  t.match(err.message, /chunk 0 is missing/)
  t.same((await post(0, 1)).data, { stored: 2, duplicates: 0, status: 'running' })
  err = await refused(post(2, 4))
  t.same([err.status, err.code, err.errors], [409, 'OUTPUT_SEQUENCE_GAP', { expectedSequence: '2' }], 'a hole inside a post')
  t.match(err.message, /chunk 3 is missing/, 'naming the missing chunk')
  err = await refused(post(1, 3))
  t.same([err.code, err.errors], ['OUTPUT_SEQUENCE_GAP', { expectedSequence: '2' }], 'a post that skips the expected chunk, even with a duplicate in it')
  t.same(await storedSequences(), [0, 1], 'nothing of a refused post is stored')

  // Five agents' worth of the same retried post at once: each chunk is stored once.
  const acks = await Promise.all(Array.from({ length: 5 }, () => post(1, 2, 3, 4)))
  t.equal(acks.reduce((n, a) => n + a.data!.stored, 0), 3, 'the new chunks are stored by one post')
  t.equal(acks.reduce((n, a) => n + a.data!.duplicates, 0), 17, 'every other copy is counted as a duplicate')
  t.same(await storedSequences(), [0, 1, 2, 3, 4], 'once each, in order')

  err = await refused(finish(7))
  t.same([err.status, err.code, err.errors], [409, 'OUTPUT_SEQUENCE_GAP', { expectedSequence: '5' }], 'the end is refused while chunks are missing')
  t.match(err.message, /holds 5 of the 7 output chunks/)
  const { data: stillRunning } = await csr.client.GET('/api/v1/script-runs/{id}', at(runId))
  t.equal(stillRunning!.status, 'running', 'and the run is not recorded as having ended')
  t.same((await post(5, 6)).data, { stored: 2, duplicates: 0, status: 'running' }, 'the agent sends what was missing')
  t.same((await finish(7)).data, { duplicate: false, status: 'succeeded' }, 'then the end is taken')
  err = await refused(post(7))
  t.same([err.status, err.code], [409, 'RUN_FINISHED'], 'output after the end is refused')
  err = await refused(post(6))
  t.same([err.status, err.code], [409, 'RUN_FINISHED'], 'even a repeat of a stored chunk')
  const { data: out } = await csr.client.GET('/api/v1/script-runs/{id}/output', at(runId))
  t.same(out!.chunks.map((c) => c.data).join(''), [0, 1, 2, 3, 4, 5, 6].map((n) => `line ${n}\n`).join(''), 'the CSR reads every line once, in order')
})

t.test('an agent that goes away mid-run: lost after its timeout, never handed out again; the rest cancelled', async (t) => {
  const { session, agent } = await activeSession(csr, 'Vanishes')
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id, timeoutSeconds: 1 }, { scriptId: second.id }], sessionIds: [session.id] } })
  await approve(agent)
  const runId = batch!.sessions[0]!.runs[0]!.id
  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(runId), body: { startId: 'lost-start-01' } })
  t.equal(await h.app.services.runs.markLost(new Date(Date.now() + 30_000)), 0, 'not within its timeout and the grace')
  t.equal(await h.app.services.runs.markLost(new Date(Date.now() + 120_000)), 1, 'past them')
  const { data } = await csr.client.GET('/api/v1/script-batches/{id}', at(batch!.id))
  t.same(data!.sessions[0]!.runs.map((r) => r.status), ['lost', 'cancelled'])
  t.match(data!.sessions[0]!.runs[0]!.error, /not run again/)
  const late = await refused(agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(runId), body: { startId: 'lost-start-02' } }))
  t.equal(late.code, 'RUN_ALREADY_STARTED', 'a lost run can never be started again')
  const { commands } = await poll(agent)
  t.notOk(commands.some((c) => c.kind === 'run_scripts'), 'and its command is no longer handed out')
})

t.test('output is capped at 1 MiB per run; the agent’s notes are kept', async (t) => {
  const { agent } = await activeSession(csr, 'Chatty')
  const { session } = { session: (await csr.client.GET('/api/v1/sessions', { params: { query: { q: 'Chatty' } } })).data!.data[0]! }
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }], sessionIds: [session.id] } })
  await approve(agent)
  const runId = batch!.sessions[0]!.runs[0]!.id
  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(runId), body: { startId: 'chatty-start1' } })
  const piece = 'y'.repeat(60 * 1024)
  let sequence = 0
  for (let post = 0; post < 2; post++) {
    const chunks = Array.from({ length: 10 }, () => ({ sequence: sequence++, stream: 'stdout' as const, data: piece }))
    await agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(runId), body: { chunks } })
  }
  await agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...runPath(runId), body: { chunks: [{ sequence: sequence++, stream: 'info', data: '[output cut]' }] } })
  const { data: run } = await csr.client.GET('/api/v1/script-runs/{id}', at(runId))
  t.equal(run!.outputBytes, 1024 * 1024, 'exactly 1 MiB kept')
  t.equal(run!.outputTruncated, true, 'marked truncated')
  const [stored] = await db.select({ n: count() }).from(scriptOutputChunks).where(eq(scriptOutputChunks.runId, runId))
  t.ok(stored!.n <= 19, 'chunks past the limit are not stored')
  const { data: out } = await csr.client.GET('/api/v1/script-runs/{id}/output', { params: { path: { id: runId }, query: { limit: 5000 } } })
  t.equal(out!.chunks.at(-1)!.data, '[output cut]', 'the agent’s note past the limit is kept')
})

t.test('output keeps what text cannot hold as U+FFFD; the chat line’s tail is the last lines of a long output', async (t) => {
  const { session, agent } = await activeSession(csr, 'Tail')
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }], sessionIds: [session.id] } })
  await approve(agent)
  const runId = batch!.sessions[0]!.runs[0]!.id
  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...runPath(runId), body: { startId: 'tail-start-01' } })
  // 40 KiB of numbered lines in 10 KiB chunks (lines cut across chunks), ending with NUL, a lone
  // surrogate and a pair: far more than the window the tail is read from.
  const text = Array.from({ length: 4000 }, (_, i) => `line ${i} ${'z'.repeat(i % 7)}\n`).join('')
  const pieces = [...Array.from({ length: Math.ceil(text.length / 10_240) }, (_, i) => text.slice(i * 10_240, (i + 1) * 10_240)), 'odd \u0000 \uD800 \uD83D\uDE00 end\n']
  const { data: ack } = await agent.client.POST('/api/v1/agent/script-runs/{id}/output', {
    ...runPath(runId),
    body: { chunks: pieces.map((data, sequence) => ({ sequence, stream: 'stdout' as const, data })) },
  })
  t.same(ack, { stored: pieces.length, duplicates: 0, status: 'running' })
  const { data: out } = await csr.client.GET('/api/v1/script-runs/{id}/output', { params: { path: { id: runId }, query: { limit: 5000 } } })
  t.equal(out!.chunks.map((c) => c.data).join(''), text + 'odd \uFFFD \uFFFD \uD83D\uDE00 end\n', 'stored in order; NUL and the lone surrogate as U+FFFD, the pair kept')
  t.equal(out!.outputBytes, Buffer.byteLength(text) + Buffer.byteLength('odd \uFFFD \uFFFD \uD83D\uDE00 end\n'))
  await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...runPath(runId), body: { status: 'succeeded', exitCode: 0, durationMs: 5 } })
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(session.id))
  const tail = (chat!.data.find((m) => m.systemEvent?.type === 'script_run')!.systemEvent!.data as { tail: string[] }).tail
  t.same(tail, [...text.trimEnd().split('\n').slice(-9), 'odd \uFFFD \uFFFD \uD83D\uDE00 end'], 'the last 10 lines, as written')
})

t.test('ending the session cancels its runs; who sees what', async (t) => {
  const { session, agent } = await activeSession(csr, 'Ends')
  const { data: batch } = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }], sessionIds: [session.id] } })
  await approve(agent)
  await csr.client.POST('/api/v1/sessions/{id}/end', at(session.id))
  const { data } = await csr.client.GET('/api/v1/script-batches/{id}', at(batch!.id))
  t.same([data!.status, data!.sessions[0]!.status], ['finished', 'cancelled'])
  const [row] = await db.select().from(scriptRuns).where(eq(scriptRuns.batchId, batch!.id))
  t.equal(row!.status, 'cancelled')

  const runId = batch!.sessions[0]!.runs[0]!.id
  for (const [what, call] of [
    ['batch', () => other.client.GET('/api/v1/script-batches/{id}', at(batch!.id))],
    ['cancel', () => other.client.POST('/api/v1/script-batches/{id}/cancel', at(batch!.id))],
    ['run', () => other.client.GET('/api/v1/script-runs/{id}', at(runId))],
    ['output', () => other.client.GET('/api/v1/script-runs/{id}/output', at(runId))],
    ['session runs', () => other.client.GET('/api/v1/sessions/{id}/script-runs', at(session.id))],
  ] as const) {
    const err = await refused(call())
    t.equal(err.status, 404, `another CSR: ${what} not found`)
  }
  const { data: mine } = await other.client.GET('/api/v1/script-batches')
  t.notOk(mine!.data.some((b) => b.id === batch!.id), 'another CSR does not list it')
  const { data: admins } = await h.admin.client.GET('/api/v1/script-batches', { params: { query: { perPage: 100, order: 'desc' } } })
  t.ok(admins!.data.some((b) => b.id === batch!.id), 'a site admin lists every batch')
  const { data: adminRun } = await h.admin.client.GET('/api/v1/script-runs/{id}', at(runId))
  t.equal(adminRun!.id, runId, 'and reads every run')

  const { agent: stranger } = await activeSession(other, 'Stranger')
  const foreign = await h.inject({ method: 'GET', url: `/api/v1/agent/script-runs/${runId}/files/hello.sh`, token: stranger.token })
  t.same([foreign.statusCode, foreign.json().code], [404, 'RUN_NOT_FOUND'], 'an agent reaches only its own session’s runs')
  for (const path of ['start', 'output', 'finish'] as const) {
    const body = path === 'start' ? { startId: 'foreign-start' } : path === 'output' ? { chunks: [{ sequence: 0, stream: 'stdout', data: 'x' }] } : { status: 'succeeded' }
    const res = await h.inject({ method: 'POST', url: `/api/v1/agent/script-runs/${runId}/${path}`, token: stranger.token, payload: body })
    t.equal(res.statusCode, 404, `${path}: not found for another session’s agent`)
  }
  const queueing = await activeSession(csr, 'Busy')
  for (let i = 0; i < 5; i++) await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }], sessionIds: [queueing.session.id] } })
  const full = await refused(csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }], sessionIds: [queueing.session.id] } }))
  t.same([full.status, full.code], [409, 'RUN_QUEUE_FULL'], 'a session takes at most 5 open runs')
})
