/**
 * Running scripts without a browser: the Run scripts form's helpers (order, arguments, timeouts,
 * where the API's field errors go), run statuses and output merging, the session page's live
 * state for `script_run` / `script_output`, and the script-batch calls over the real SDK.
 */
import t from 'tap'
import { createClient, type Schemas } from '@helpline/sdk'
import { toSessionEvent } from '../src/api/session-stream.ts'
import { runActions, scriptBatchesAdapter, type OutputChunk, type ScriptRun } from '../src/api/resources/script-batches.ts'
import { initialState, liveReducer, scriptRunView, type LiveState } from '../src/resources/sessions/live.ts'
import {
  argsBytes,
  moveDown,
  moveUp,
  parseArgs,
  parseTimeout,
  placeErrors,
  removeAt,
  runScriptsPath,
  toBatchCreate,
  tooLongArgs,
  type PlanItem,
} from '../src/resources/script-batches/plan.ts'
import { formatDuration, isFinal, laterStatus, mayHaveOutput, mergeChunks, statusChip } from '../src/resources/script-batches/status.ts'

const SID = '5e551040-0000-4000-8000-000000000001'
const OTHER_SID = '5e551040-0000-4000-8000-000000000002'
const BATCH = 'ba7c0000-0000-4000-8000-000000000001'
const RUN = 'a0000000-0000-4000-8000-000000000001'
const SCRIPT_A = '5c000000-0000-4000-8000-00000000000a'
const SCRIPT_B = '5c000000-0000-4000-8000-00000000000b'

const session: Schemas['Session'] = {
  id: SID,
  number: '123-456-789',
  status: 'active',
  customerName: 'Jane Doe',
  customerEmail: null,
  description: null,
  csr: { id: '7d1c7c1e-0000-4000-8000-000000000001', name: 'Casey' },
  createdAt: '2026-05-01T09:59:00.000Z',
  startedAt: '2026-05-01T10:00:00.000Z',
  endedAt: null,
  endedReason: null,
  expiresAt: null,
  agent: null,
  joinAttempt: null,
  admission: null,
  systemInfoConsent: null,
  cursor: 7,
}

function run(status: ScriptRun['status'], extra: Partial<ScriptRun> = {}): ScriptRun {
  return {
    id: RUN,
    batchId: BATCH,
    sessionId: SID,
    commandId: 'c0000000-0000-4000-8000-000000000001',
    position: 0,
    scriptId: SCRIPT_A,
    scriptName: 'first.sh',
    version: 2,
    digest: 'a'.repeat(64),
    args: [],
    timeoutSeconds: 60,
    status,
    exitCode: null,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    error: null,
    outputBytes: 0,
    outputTruncated: false,
    ...extra,
  }
}

function chunk(sequence: number, data: string, stream: OutputChunk['stream'] = 'stdout'): OutputChunk {
  return { sequence, stream, data, createdAt: '2026-05-01T10:01:00.000Z' }
}

function runLine(status: ScriptRun['status'], extra: Record<string, unknown> = {}): Schemas['ChatMessage'] {
  return {
    id: 'c4a70000-0000-4000-8000-000000000001',
    seq: 9,
    sender: 'system',
    authorName: 'Helpline',
    body: `"first.sh" v2 (1/2): ${status}`,
    systemEvent: {
      type: 'script_run',
      data: { runId: RUN, batchId: BATCH, scriptName: 'first.sh', version: 2, position: 0, count: 2, status, exitCode: null, durationMs: null, ...extra },
    },
    createdAt: '2026-05-01T10:01:00.000Z',
  }
}

function state(scriptRuns: ScriptRun[] = []): LiveState {
  return initialState({ session, chat: [], consents: [], commands: [], snapshots: [], scriptRuns })
}

const item = (key: string, extra: Partial<PlanItem> = {}): PlanItem => ({
  key,
  scriptId: SCRIPT_A,
  name: key,
  version: 1,
  defaultTimeoutSeconds: 60,
  argsText: '',
  timeoutText: '',
  ...extra,
})

t.test('moving the plan’s scripts up and down', async (t) => {
  const list = ['a', 'b', 'c']
  t.same(moveUp(list, 1), ['b', 'a', 'c'])
  t.same(moveUp(list, 2), ['a', 'c', 'b'])
  t.same(moveUp(list, 0), list, 'the first stays first')
  t.same(moveDown(list, 0), ['b', 'a', 'c'])
  t.same(moveDown(list, 1), ['a', 'c', 'b'])
  t.same(moveDown(list, 2), list, 'the last stays last')
  t.same(moveDown(list, 7), list, 'out of range: unchanged')
  t.same(moveUp(list, -1), list)
  t.same(removeAt(list, 1), ['a', 'c'])
  t.same(list, ['a', 'b', 'c'], 'the input is never changed')
  t.same(moveUp(moveDown(list, 0), 1), list, 'down then up is where it was')
})

t.test('arguments: one per line, as typed', async (t) => {
  t.same(parseArgs(''), [])
  t.same(parseArgs('--verbose\n/tmp/my dir\n'), ['--verbose', '/tmp/my dir'], 'a trailing newline adds nothing; spaces stay inside')
  t.same(parseArgs('a\r\nb\rc'), ['a', 'b', 'c'], 'any line ending')
  t.same(parseArgs('a\n\n   \nb'), ['a', 'b'], 'blank lines are left out')
  t.same(parseArgs('  indented  \n"quoted"'), ['  indented  ', '"quoted"'], 'no trimming, no shell quoting')
  t.equal(argsBytes([{ argsText: 'abc\nd' }, { argsText: 'é' }]), 6, 'UTF-8 bytes, newlines not counted')
  t.notOk(tooLongArgs([{ argsText: 'x'.repeat(8192) }]), '8 KiB exactly is allowed')
  t.ok(tooLongArgs([{ argsText: 'x'.repeat(8192) }, { argsText: 'y' }]), 'one byte more is not, across scripts')
})

t.test('timeouts and the request the form stands for', async (t) => {
  t.equal(parseTimeout(''), undefined, 'empty: the script’s default')
  t.equal(parseTimeout(' 90 '), 90)
  t.ok(Number.isNaN(parseTimeout('0')), 'below 1')
  t.ok(Number.isNaN(parseTimeout('3601')), 'above an hour')
  t.ok(Number.isNaN(parseTimeout('1.5')), 'not whole')
  t.ok(Number.isNaN(parseTimeout('abc')))

  const body = toBatchCreate(
    [item('one', { argsText: '--fast\n' }), item('two', { scriptId: SCRIPT_B, timeoutText: '120' }), item('three', { timeoutText: 'x' })],
    [SID, OTHER_SID],
    true,
  )
  t.same(body, {
    scripts: [{ scriptId: SCRIPT_A, args: ['--fast'] }, { scriptId: SCRIPT_B, timeoutSeconds: 120 }, { scriptId: SCRIPT_A }],
    sessionIds: [SID, OTHER_SID],
    stopOnFailure: true,
  })
  t.equal(runScriptsPath([]), '/run-scripts')
  t.equal(runScriptsPath([SID, OTHER_SID]), `/run-scripts?session=${SID}&session=${OTHER_SID}`)
})

t.test('the API’s field errors land next to what was sent', async (t) => {
  const sent = [item('k1'), item('k2')]
  const placed = placeErrors(
    { 'scripts.1.args': 'No NUL characters', scripts: 'At most 50', 'sessionIds.1': 'Not active', sessionIds: 'Choose one', other: 'Hm' },
    sent,
    [SID, OTHER_SID],
  )
  t.same(placed.scripts, { k2: 'No NUL characters' }, 'by the item that was at that place')
  t.equal(placed.scriptList, 'At most 50')
  t.same(placed.sessions, { [OTHER_SID]: 'Not active' }, 'by the session that was at that place')
  t.equal(placed.sessionList, 'Choose one')
  t.same(placed.other, ['Hm'])
  t.same(placeErrors({ 'scripts.9': 'gone' }, sent, []).scriptList, 'gone', 'a place that was not sent is about the list')
})

t.test('run statuses', async (t) => {
  t.ok(isFinal('succeeded'))
  t.ok(isFinal('skipped'))
  t.notOk(isFinal('running'))
  t.notOk(isFinal('awaiting_consent'))
  t.equal(laterStatus('running', 'succeeded'), 'succeeded')
  t.equal(laterStatus('succeeded', 'running'), 'succeeded', 'a late report does not undo a finish')
  t.equal(laterStatus('queued', 'awaiting_consent'), 'queued')
  t.notOk(mayHaveOutput('queued'))
  t.ok(mayHaveOutput('running'))
  t.ok(mayHaveOutput('failed'))
  t.same(statusChip('succeeded'), { color: 'success', variant: 'filled' }, 'green')
  for (const s of ['failed', 'timed_out', 'lost']) t.equal(statusChip(s).color, 'error', `${s} is red`)
  t.equal(statusChip('running').color, 'info', 'running is blue')
  t.same(statusChip('queued'), { color: 'default', variant: 'filled' }, 'waiting is grey')
  for (const s of ['denied', 'expired', 'cancelled', 'skipped']) t.same(statusChip(s), { color: 'default', variant: 'outlined' }, `${s} is neutral`)
  t.same(statusChip('mystery'), { color: 'default', variant: 'outlined' }, 'an unknown status is neutral')
  t.equal(formatDuration(850), '850 ms')
  t.equal(formatDuration(12_345), '12.3 s')
  t.equal(formatDuration(125_000), '2 min 5 s')
  t.equal(formatDuration(3_725_000), '1 h 2 min')
})

t.test('output chunks merge in sequence order, each once', async (t) => {
  const a = [chunk(0, 'a'), chunk(1, 'b')]
  t.same(
    mergeChunks(a, [chunk(2, 'c')]).map((c) => c.sequence),
    [0, 1, 2],
    'the next one is appended',
  )
  t.equal(mergeChunks(a, [chunk(1, 'b'), chunk(0, 'a')]), a, 'nothing new: the same array')
  t.same(
    mergeChunks([chunk(0, 'a'), chunk(3, 'd')], [chunk(2, 'c'), chunk(1, 'b'), chunk(3, 'd')]).map((c) => c.data),
    ['a', 'b', 'c', 'd'],
    'late chunks go in their place',
  )
  t.same(a.length, 2, 'the input is never changed')
})

t.test('the stream’s script events are known', async (t) => {
  t.same(toSessionEvent({ id: '10', event: 'script_run', data: JSON.stringify(run('running')) })?.event, 'script_run')
  const out = toSessionEvent({ id: '11', event: 'script_output', data: JSON.stringify({ runId: RUN, ...chunk(0, 'hi\n') }) })
  t.same(out, { event: 'script_output', data: { runId: RUN, ...chunk(0, 'hi\n') } })
})

t.test('the live state follows script runs and accumulates their output', async (t) => {
  let s = state([run('queued')])
  t.equal(s.runs[RUN]?.status, 'queued', 'the runs read with the page')
  s = liveReducer(s, { event: 'script_run', data: run('running', { startedAt: '2026-05-01T10:01:00.000Z' }) })
  t.equal(s.runs[RUN]?.status, 'running')

  for (const c of [chunk(0, 'first\n'), chunk(2, 'third\n', 'stderr'), chunk(1, 'second\n'), chunk(2, 'third\n', 'stderr')]) {
    s = liveReducer(s, { event: 'script_output', data: { runId: RUN, ...c } })
  }
  t.same(
    s.output[RUN]!.map((c) => `${c.sequence}:${c.stream}:${c.data}`),
    ['0:stdout:first\n', '1:stdout:second\n', '2:stderr:third\n'],
    'in sequence order, a repeated chunk once',
  )
  const same = liveReducer(s, { event: 'script_output', data: { runId: RUN, ...chunk(1, 'second\n') } })
  t.equal(same, s, 'a replayed chunk changes nothing')

  // The page's own read of the output overlaps the stream.
  s = liveReducer(s, {
    event: 'script_output_read',
    data: { runId: RUN, status: 'running', outputBytes: 30, outputTruncated: false, chunks: [chunk(0, 'first\n'), chunk(3, 'fourth\n')], next: null },
  })
  t.same(
    s.output[RUN]!.map((c) => c.sequence),
    [0, 1, 2, 3],
  )

  s = liveReducer(s, { event: 'script_run', data: run('succeeded', { exitCode: 0, durationMs: 1200 }) })
  t.equal(s.runs[RUN]?.status, 'succeeded')
  const late = liveReducer(s, { event: 'script_run', data: run('running') })
  t.equal(late.runs[RUN]?.status, 'succeeded', 'a late "running" does not undo the finish')
  t.equal(liveReducer(s, { event: 'script_run', data: run('running', { sessionId: OTHER_SID }) }), s, 'another session’s run is ignored')
  t.equal(liveReducer(s, { event: 'script_output', data: {} as never }), s, 'an empty answer changes nothing')

  const other = 'a0000000-0000-4000-8000-000000000002'
  s = liveReducer(s, { event: 'script_output', data: { runId: other, ...chunk(0, 'other\n') } })
  t.same(Object.keys(s.output).sort(), [RUN, other].sort(), 'output is kept per run')
})

t.test('a script_run chat line becomes a log box with the latest news', async (t) => {
  const plain = { ...runLine('running'), systemEvent: { type: 'agent.joined', data: {} } }
  t.equal(scriptRunView(state(), plain), undefined, 'other system lines stay lines')

  let s = state()
  const early = scriptRunView(s, runLine('running'))!
  t.match(early, { runId: RUN, batchId: BATCH, scriptName: 'first.sh', version: 2, position: 0, count: 2, status: 'running', chunks: [] })

  s = liveReducer(s, { event: 'script_run', data: run('failed', { exitCode: 3, durationMs: 40, error: 'boom' }) })
  s = liveReducer(s, { event: 'script_output', data: { runId: RUN, ...chunk(0, 'oops\n', 'stderr') } })
  const view = scriptRunView(s, runLine('running'))!
  t.equal(view.status, 'failed', 'the run’s record is further along than the line')
  t.equal(view.exitCode, 3)
  t.equal(view.error, 'boom')
  t.equal(view.chunks.length, 1)

  const finished = scriptRunView(state([run('running')]), runLine('succeeded', { exitCode: 0, durationMs: 900 }))!
  t.match(finished, { status: 'succeeded', exitCode: 0, durationMs: 900 }, 'the rewritten line is further along than the record')
})

t.test('the script batch calls over the SDK', async (t) => {
  const seen: { method: string; path: string; query: URLSearchParams; body: unknown }[] = []
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
  const fakeFetch = async (input: Request): Promise<Response> => {
    const url = new URL(input.url)
    const text = await input.text()
    seen.push({ method: input.method, path: url.pathname, query: url.searchParams, body: text ? JSON.parse(text) : undefined })
    const key = `${input.method} ${url.pathname}`
    if (key === 'GET /api/v1/script-batches') return json({ data: [], total: 0 })
    if (key === 'POST /api/v1/script-batches') {
      return json(
        {
          statusCode: 422,
          code: 'SESSION_NOT_ACTIVE',
          error: 'Unprocessable Entity',
          message: 'Session 123-456-789 is not active',
          errors: { 'sessionIds.1': 'Session 123-456-789 is not active' },
        },
        422,
      )
    }
    if (key === `POST /api/v1/script-batches/${BATCH}/cancel`) {
      return json({ statusCode: 409, code: 'BATCH_FINISHED', error: 'Conflict', message: 'done' }, 409)
    }
    if (key === `GET /api/v1/script-runs/${RUN}/output`) {
      const after = Number(url.searchParams.get('after'))
      // Two pages: 0-1, then 2.
      const chunks = after < 1 ? [chunk(0, 'a'), chunk(1, 'b')] : [chunk(2, 'c')]
      return json({ runId: RUN, status: 'running', outputBytes: 3, outputTruncated: false, chunks, next: after < 1 ? 1 : null })
    }
    return json({ statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: key }, 404)
  }
  const client = createClient({ baseUrl: 'http://helpline.test', token: 'tok', fetch: fakeFetch as typeof fetch })
  const adapter = scriptBatchesAdapter(client)
  const actions = runActions(client)

  await adapter.getList!({ page: 2, perPage: 10, sort: 'scriptNames', order: 'asc', status: 'running', sessionId: SID, bogus: 1 })
  t.same(
    Object.fromEntries(seen.at(-1)!.query),
    { page: '2', perPage: '10', sort: 'createdAt', order: 'asc', status: 'running', sessionId: SID },
    'only what the endpoint knows',
  )
  await adapter.getList!({ page: 1, perPage: 25, status: 'nope' })
  t.same(Object.fromEntries(seen.at(-1)!.query), { page: '1', perPage: '25', sort: 'createdAt', order: 'desc' }, 'newest first')

  const body = toBatchCreate([item('one', { argsText: 'x' })], [SID, OTHER_SID], false)
  await t.rejects(
    actions.createScriptBatch(body),
    { status: 422, message: 'helpline.errors.SESSION_NOT_ACTIVE', body: { errors: { 'sessionIds.1': 'helpline.errors.SESSION_NOT_ACTIVE' } } },
    'a refusal in react-admin’s terms, with the field at fault',
  )
  t.same(seen.at(-1)!.body, body, 'the form’s request as it is')
  await t.rejects(actions.cancelScriptBatch(BATCH), { status: 409, message: 'helpline.errors.BATCH_FINISHED' })

  seen.length = 0
  const output = await actions.scriptRunOutput(RUN)
  t.same(
    output.chunks.map((c) => c.data),
    ['a', 'b', 'c'],
    'every page',
  )
  t.equal(output.next, null)
  t.same(
    seen.map((s) => s.query.get('after')),
    ['-1', '1'],
    'from the start, then after=next',
  )
})
