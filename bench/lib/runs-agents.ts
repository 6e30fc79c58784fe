/**
 * The runs bench's load generator, in its own process (forked by runs.bench.ts, which drives it
 * over IPC): the CSR and the customers' agents of a script batch, over real HTTP on kept-alive
 * sockets. Each agent long-polls with the hold the server gave it at join, approves every consent
 * at once (like `--approve all`) and hands its run_scripts commands, one at a time, to the
 * current phase's runner, as the real agent does. Messages: see `Request`.
 *
 * It also reads the server's CPU (and that of its PostgreSQL backends) from /proc at the moments
 * it times, so that each figure comes with what it cost the server: latencies on a shared
 * machine move with its load, CPU per operation hardly does.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { Schemas } from '@helpline/sdk'
import { MAX_OUTPUT_BYTES, type RunScriptsPayload } from '../../api/src/schemas/runs.ts'
import { request, type Answer } from './http.ts'
import { cpuReader, spent, type Cpu, type Reading, type Watched } from './proc.ts'

export type Request =
  /** Opens `sessions` sessions as the CSR, joins an agent to each and starts its polls. */
  | { type: 'join'; api: string; csrToken: string; sessions: number; watch: Watched }
  /** One batch of `scriptIds` on the first `sessions` agents, until every one holds it; then cancelled, or run (`execute`). */
  | { type: 'batch'; scriptIds: string[]; sessions: number; execute: boolean }
  /** Every agent runs `runs` copies of `scriptId`, posting 1 MiB of output per run. */
  | { type: 'stream'; scriptId: string; runs: number; chunksPerPost: number }
  /** The first agent posts one run's whole 1 MiB in one post. */
  | { type: 'probe'; scriptId: string }
  | { type: 'stop' }

/** Every reply carries the errors the agents met since the previous one. */
export type Reply = { errors: string[] } & (
  | { type: 'joined'; seconds: number; pollWaitSeconds: number }
  | {
      type: 'batch'
      /** The CSR's POST, sent → answered; when each agent saw the consent and held the command (ms after sending). */
      postMs: number
      seen: number[]
      held: number[]
      cancelMs?: number
      /** Server CPU: POST sent → answered; POST sent → every agent holds it; the cancel. */
      cpu: { post: Cpu; dispatch: Cpu; cancel?: Cpu }
    }
  | {
      type: 'streamed'
      seconds: number
      /** The measured window in µs of the monotonic clock, as a CPU profile counts it. */
      profileWindow: string
      /** Each output post, sent → answered (ms); the refused ones, with their answer. */
      latencies: number[]
      refused: string[]
      postBytes: number
      sent: number
      /** The runs' outputBytes as the CSR reads the batch. */
      stored: number
      /** The output as the CSR reads it back: bytes, and sequences missing or there twice. */
      readBack: number
      missing: number
      duplicated: number
      batch: { status: string; counts: Record<string, number> }
      cpu: Cpu
      /** This process's own CPU in the window (ms): the agents' side, off the server's books. */
      loadgenMs: number
    }
  | { type: 'probed'; status: number; code: string; postBytes: number }
  | { type: 'error'; message: string }
)

type Feed = Schemas['AgentFeed']
type Batch = Schemas['ScriptBatch']
type PayloadScript = RunScriptsPayload['scripts'][number]

interface Agent {
  sessionId: string
  token: string
  cursor: number
  /** Consents and commands already handled (a poll answer repeats what is still open). */
  seen: Set<string>
  /** The agent's run_scripts commands, one after another. */
  work: Promise<void>
}

/** The current phase's work for one run_scripts command. */
type Runner = (a: Agent, payload: RunScriptsPayload) => Promise<void>

const CHUNK_CHARS = 32 * 1024
const publicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
const sockets = new http.Agent({ keepAlive: true })

let api = new URL('http://127.0.0.1')
let csrToken = ''
let pollWaitSeconds = 50
let stopped = false
let read: (rescan?: boolean) => Reading = () => ({ server: { user: 0, system: 0 }, backends: new Map() })
const agents: Agent[] = []
let runner: Runner = async () => {}
/** Session id → when its agent saw the current batch's consent. */
const consentSeen = new Map<string, number>()
/** Batch id → session id → when its agent held the batch's command. */
const held = new Map<string, Map<string, number>>()
const errors: string[] = []

function fail(what: string) {
  if (!stopped) errors.push(what)
}

const call = (method: string, path: string, token: string | undefined, body?: unknown) => request(sockets, api, method, path, token, body)

/** The answer's body; throws on anything but 2xx. */
async function ok(what: string, answer: Promise<Answer>): Promise<string> {
  const res = await answer
  if (res.status < 200 || res.status > 299) throw new Error(`${what}: ${res.status} ${res.body.slice(0, 200)}`)
  return res.body
}

/** The answer's JSON; throws on anything but 2xx. */
const json = async <T>(what: string, answer: Promise<Answer>): Promise<T> => JSON.parse(await ok(what, answer)) as T

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs that failed: what waits for the agents gives up at once instead of at its deadline. */
let runFailures = 0

async function until(what: string, done: () => boolean, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (runFailures > 0) throw new Error(`${runFailures} runs failed while waiting for ${what}`)
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

async function pollLoop(a: Agent) {
  while (!stopped) {
    let feed: Feed
    try {
      feed = await json<Feed>('poll', call('GET', `/api/v1/agent/poll?cursor=${a.cursor}&wait=${pollWaitSeconds}`, a.token))
    } catch (err) {
      if (stopped) return
      fail(String(err))
      await sleep(1000)
      continue
    }
    const at = performance.now()
    a.cursor = feed.cursor
    for (const c of feed.consents) {
      if (c.status !== 'pending' || a.seen.has(c.id)) continue
      a.seen.add(c.id)
      consentSeen.set(a.sessionId, at)
      ok('consent answer', call('POST', `/api/v1/agent/consents/${c.id}/answer`, a.token, { approved: true })).catch((err: unknown) => fail(String(err)))
    }
    for (const c of feed.commands) {
      if (c.kind !== 'run_scripts' || a.seen.has(c.id)) continue
      a.seen.add(c.id)
      const payload = c.payload as unknown as RunScriptsPayload
      let bySession = held.get(payload.batchId)
      if (!bySession) held.set(payload.batchId, (bySession = new Map()))
      bySession.set(a.sessionId, at)
      a.work = a.work
        .then(() => runner(a, payload))
        .catch((err: unknown) => {
          runFailures++
          fail(`run: ${String(err)}`)
        })
    }
    if (feed.session.status === 'ended') return
  }
}

async function join(sessions: number): Promise<number> {
  const began = performance.now()
  let next = 0
  // A few CSRs at once: setting up is not measured.
  await Promise.all(
    Array.from({ length: Math.min(10, sessions) }, async () => {
      for (let i = next++; i < sessions; i = next++) {
        const session = await json<{ id: string; number: string }>('open a session', call('POST', '/api/v1/sessions', csrToken, { customerName: `Bench customer ${i}` }))
        const joined = await json<Schemas['AgentJoined']>(
          'join',
          call('POST', '/api/v1/agent/join', undefined, {
            number: session.number,
            protocol: 1,
            agentVersion: '0.1.0',
            platform: { os: 'linux', osVersion: 'bench', arch: 'x64', hostname: `bench-${i}` },
            publicKey,
          }),
        )
        pollWaitSeconds = joined.pollWaitSeconds
        agents[i] = { sessionId: session.id, token: joined.agentToken, cursor: 0, seen: new Set(), work: Promise.resolve() }
      }
    }),
  )
  for (const a of agents) void pollLoop(a)
  return (performance.now() - began) / 1000
}

// ── The agent's side of a run ───────────────────────────────────────────────────────────────────

async function download(a: Agent, s: PayloadScript) {
  for (const f of s.files) await ok(`download ${f.name}`, call('GET', `/api/v1/agent/script-runs/${s.runId}/files/${encodeURIComponent(f.name)}`, a.token))
}

const start = (a: Agent, s: PayloadScript) =>
  ok('start', call('POST', `/api/v1/agent/script-runs/${s.runId}/start`, a.token, { startId: randomBytes(12).toString('base64url') }))

const finish = (a: Agent, s: PayloadScript, durationMs: number) =>
  ok('finish', call('POST', `/api/v1/agent/script-runs/${s.runId}/finish`, a.token, { status: 'succeeded', exitCode: 0, durationMs }))

const postOutput = (a: Agent, s: PayloadScript, body: string) => call('POST', `/api/v1/agent/script-runs/${s.runId}/output`, a.token, body)

/** Download, start, a line of output, finish: a script that does little. */
const execute: Runner = async (a, payload) => {
  for (const s of payload.scripts) await download(a, s)
  for (const s of payload.scripts) {
    const began = performance.now()
    await start(a, s)
    await ok('output', postOutput(a, s, JSON.stringify({ chunks: [{ sequence: 0, stream: 'stdout', data: `${s.name}: all good\n` }] })))
    await finish(a, s, Math.round(performance.now() - began))
  }
}

// ── 1. Dispatch ─────────────────────────────────────────────────────────────────────────────────

async function batch(scriptIds: string[], sessions: number, executing: boolean): Promise<Reply> {
  const targets = agents.slice(0, sessions)
  runner = executing ? execute : async () => {}
  consentSeen.clear()
  const r0 = read(true)
  const t0 = performance.now()
  const created = await json<Batch>(
    'POST /script-batches',
    call('POST', '/api/v1/script-batches', csrToken, { scripts: scriptIds.map((scriptId) => ({ scriptId })), sessionIds: targets.map((a) => a.sessionId) }),
  )
  const postMs = performance.now() - t0
  const r1 = read()
  await until(`every agent to hold batch ${created.id}`, () => (held.get(created.id)?.size ?? 0) === targets.length)
  const r2 = read(true)
  const times = [...held.get(created.id)!.values()].map((at) => at - t0)
  let cancelMs: number | undefined
  let cancelCpu: Cpu | undefined
  if (executing) {
    await Promise.all(targets.map((a) => a.work))
    const done = await json<Batch>('GET /script-batches/{id}', call('GET', `/api/v1/script-batches/${created.id}`, csrToken))
    if (done.status !== 'finished' || done.counts.succeeded !== targets.length * scriptIds.length) {
      throw new Error(`batch ${created.id} ended ${done.status} with ${JSON.stringify(done.counts)}`)
    }
  } else {
    const t1 = performance.now()
    await ok('cancel', call('POST', `/api/v1/script-batches/${created.id}/cancel`, csrToken))
    cancelMs = performance.now() - t1
    cancelCpu = spent(r2, read(true))
  }
  const seen = [...consentSeen.values()].map((at) => at - t0)
  // The agents' polls re-arm after the last answers before the next batch.
  await sleep(200)
  return { type: 'batch', postMs, seen, held: times, cancelMs, cpu: { post: spent(r0, r1), dispatch: spent(r0, r2), cancel: cancelCpu }, errors: [] }
}

// ── 2. Output streaming ─────────────────────────────────────────────────────────────────────────

/**
 * The posts' bodies, built once: every run numbers its chunks from 0, so post p of any run is the
 * same bytes.
 */
function outputBodies(chunksPerRun: number, perPost: number): string[] {
  const line = `${'0123456789abcdef'.repeat(5)}bench output\n` // 93 characters
  const data = line.repeat(Math.ceil(CHUNK_CHARS / line.length)).slice(0, CHUNK_CHARS)
  const bodies: string[] = []
  for (let first = 0; first < chunksPerRun; first += perPost) {
    const chunks = Array.from({ length: Math.min(perPost, chunksPerRun - first) }, (_, i) => ({ sequence: first + i, stream: 'stdout', data }))
    bodies.push(JSON.stringify({ chunks }))
  }
  return bodies
}

const chunksPerRun = MAX_OUTPUT_BYTES / CHUNK_CHARS

/** The run's output as the CSR reads it: bytes, and how many sequences are missing or there more than once. */
async function readBack(runId: string): Promise<{ bytes: number; missing: number; duplicated: number }> {
  const count = new Map<number, number>()
  let bytes = 0
  for (let after = -1; ; ) {
    const page = await json<Schemas['ScriptRunOutput']>('read output', call('GET', `/api/v1/script-runs/${runId}/output?after=${after}&limit=5000`, csrToken))
    for (const c of page.chunks) {
      count.set(c.sequence, (count.get(c.sequence) ?? 0) + 1)
      bytes += Buffer.byteLength(c.data)
    }
    if (page.next === null) break
    after = page.next
  }
  let missing = 0
  for (let s = 0; s < chunksPerRun; s++) if (!count.has(s)) missing++
  const duplicated = [...count.values()].reduce((n, c) => n + c - 1, 0)
  return { bytes, missing, duplicated }
}

async function stream(scriptId: string, runs: number, perPost: number): Promise<Reply> {
  const bodies = outputBodies(chunksPerRun, perPost)
  const latencies: number[] = []
  const refused: string[] = []
  let go: () => void = () => {}
  const started = new Promise<void>((resolve) => (go = resolve))
  let ready = 0
  runner = async (a, payload) => {
    for (const s of payload.scripts) await download(a, s)
    ready++
    await started
    for (const s of payload.scripts) {
      const began = performance.now()
      await start(a, s)
      for (const body of bodies) {
        const t = performance.now()
        const res = await postOutput(a, s, body)
        latencies.push(performance.now() - t)
        if (res.status !== 200) refused.push(`${res.status} ${res.body.slice(0, 200)}`)
      }
      await finish(a, s, Math.round(performance.now() - began))
    }
  }
  const created = await json<Batch>(
    'POST /script-batches',
    call('POST', '/api/v1/script-batches', csrToken, { scripts: Array.from({ length: runs }, () => ({ scriptId })), sessionIds: agents.map((a) => a.sessionId) }),
  )
  await until('every agent to download its files', () => ready === agents.length)
  const r0 = read(true)
  const own0 = process.cpuUsage()
  const t0 = performance.now()
  const from = process.hrtime.bigint() / 1000n
  go()
  await Promise.all(agents.map((a) => a.work))
  const seconds = (performance.now() - t0) / 1000
  // The same monotonic clock as a CPU profile's (bench/prof-top.mjs PROF_FROM / PROF_TO).
  const profileWindow = `${from} ${process.hrtime.bigint() / 1000n}`
  const used = spent(r0, read(true))
  const own = process.cpuUsage(own0)

  const done = await json<Batch>('GET /script-batches/{id}', call('GET', `/api/v1/script-batches/${created.id}`, csrToken))
  const all = done.sessions.flatMap((s) => s.runs)
  const back = { bytes: 0, missing: 0, duplicated: 0 }
  for (const r of all) {
    const one = await readBack(r.id)
    back.bytes += one.bytes
    back.missing += one.missing
    back.duplicated += one.duplicated
  }
  return {
    type: 'streamed',
    seconds,
    profileWindow,
    latencies,
    refused,
    postBytes: bodies[0]!.length,
    sent: agents.length * runs * chunksPerRun * CHUNK_CHARS,
    stored: all.reduce((n, r) => n + r.outputBytes, 0),
    readBack: back.bytes,
    missing: back.missing,
    duplicated: back.duplicated,
    batch: { status: done.status, counts: done.counts },
    cpu: used,
    loadgenMs: (own.user + own.system) / 1000,
    errors: [],
  }
}

/** One run posts its whole 1 MiB at once, as the agent does when a script writes that much within one flush (250 ms). */
async function probe(scriptId: string): Promise<Reply> {
  const whole = outputBodies(chunksPerRun, chunksPerRun)[0]!
  let answer: Answer | undefined
  runner = async (a, payload) => {
    const s = payload.scripts[0]!
    await download(a, s)
    await start(a, s)
    answer = await postOutput(a, s, whole)
    await finish(a, s, 1)
  }
  const a = agents[0]!
  await ok('POST /script-batches', call('POST', '/api/v1/script-batches', csrToken, { scripts: [{ scriptId }], sessionIds: [a.sessionId] }))
  await until('the one-post run', () => answer !== undefined)
  await a.work
  const code = answer!.status === 200 ? '' : ((JSON.parse(answer!.body) as { code?: string }).code ?? '')
  return { type: 'probed', status: answer!.status, code, postBytes: whole.length, errors: [] }
}

process.on('message', (msg: Request) => {
  const answer = (work: () => Promise<Reply>) =>
    work().then(
      (reply) => process.send!({ ...reply, errors: errors.splice(0) }),
      (err: unknown) => {
        // What the agents met on the way is most often why.
        const met = errors.splice(0)
        const message = `${err instanceof Error ? err.message : String(err)}${met.length > 0 ? ` (the agents met ${met.length} errors, e.g. ${met.slice(0, 3).join('; ')})` : ''}`
        process.send!({ type: 'error', message, errors: met } satisfies Reply)
      },
    )
  switch (msg.type) {
    case 'join':
      api = new URL(msg.api)
      csrToken = msg.csrToken
      read = cpuReader(msg.watch)
      void answer(async () => ({ type: 'joined', seconds: await join(msg.sessions), pollWaitSeconds, errors: [] }))
      break
    case 'batch':
      void answer(() => batch(msg.scriptIds, msg.sessions, msg.execute))
      break
    case 'stream':
      void answer(() => stream(msg.scriptId, msg.runs, msg.chunksPerPost))
      break
    case 'probe':
      void answer(() => probe(msg.scriptId))
      break
    case 'stop':
      stopped = true
      sockets.destroy()
      process.exit(0)
  }
})
