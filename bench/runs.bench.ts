/**
 * Running library scripts on sessions, on PGlite and, when one answers, on PostgreSQL:
 *
 * 1. Dispatch: one batch of 3 scripts on 100 sessions, each with a simulated agent long-polling
 *    and approving the run_scripts consent as soon as it sees it (like `--approve all`). Per
 *    agent, the time from the CSR's POST /script-batches being sent to the agent holding its
 *    run_scripts command in a poll answer; the time until all of them hold it; the POST itself.
 *    Each batch is then cancelled (also timed) so the next one starts from a quiet fleet; with
 *    BENCH_RUN_EXECUTE=1 the agents run the scripts instead (download, start, a line of output,
 *    finish) as soon as they get them, so agents served late also wait behind that work.
 * 2. Output streaming: 10 agents at once, each running its scripts one after another and posting
 *    1 MiB of output per run (the per-run cap) in chunks of 32 KiB, one post at a time. MB/s
 *    counts the bytes the server stored (the runs' outputBytes), over the time from the first
 *    start to the last finish. Then one run posts its whole 1 MiB in one post.
 *
 * A simulated agent is the SDK with the agent token, its fetch answered by app.inject: the whole
 * app (authentication, validation, the database) in-process, without the network.
 *
 *   npx tsx bench/runs.bench.ts                   or   npm run bench -- runs
 *   BENCH_RUN_SESSIONS=100  BENCH_RUN_SCRIPTS=3  BENCH_RUN_ROUNDS=5  BENCH_RUN_EXECUTE=1  dispatch
 *   BENCH_RUN_AGENTS=10  BENCH_RUN_RUNS=5  BENCH_RUN_CHUNKS_PER_POST=16                  streaming
 *   BENCH_DATABASE_URL=postgres://…                                                    PostgreSQL
 *   BENCH_RUN_PARTS=streaming                                                      one part only
 *   BENCH_RUN_DATABASES=postgres                    one database only (pglite, postgres; both by default)
 *   BENCH_PROFILE_DIR=/tmp/prof     a CPU profile of the streaming window (runs-output-<db>.cpuprofile)
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { Session } from 'node:inspector/promises'
import { pathToFileURL } from 'node:url'
import { inArray, sql } from 'drizzle-orm'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { createClient, uploadScript, type HelplineClient, type Schemas } from '@helpline/sdk'
import { buildApp } from '../api/src/app.ts'
import { loadConfig } from '../api/src/config.ts'
import { openDatabase, type Database } from '../api/src/db/client.ts'
import { scriptCategories, scriptOutputChunks } from '../api/src/db/schema.ts'
import { MAX_BATCH_SESSIONS, MAX_OUTPUT_BYTES, type RunScriptsPayload } from '../api/src/schemas/runs.ts'
import { ms, report } from './lib/report.ts'
import { postgresReachable, postgresUrl, scratchDatabase } from './lib/scratch.ts'
import { fmt, summarize } from './stats.ts'

const int = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`)
  return value
}
const QUICK = process.env.BENCH_QUICK === '1'
const SESSIONS = Math.min(int('BENCH_RUN_SESSIONS', QUICK ? 10 : 100), MAX_BATCH_SESSIONS)
const SCRIPTS = int('BENCH_RUN_SCRIPTS', 3)
const ROUNDS = int('BENCH_RUN_ROUNDS', QUICK ? 1 : 5)
const STREAM_AGENTS = Math.min(int('BENCH_RUN_AGENTS', QUICK ? 2 : 10), MAX_BATCH_SESSIONS)
const STREAM_RUNS = int('BENCH_RUN_RUNS', QUICK ? 1 : 5)
const CHUNKS_PER_POST = Math.min(int('BENCH_RUN_CHUNKS_PER_POST', 16), 64)
const CHUNK_CHARS = 32 * 1024
const EXECUTE = process.env.BENCH_RUN_EXECUTE === '1'
const publicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()

type Feed = Schemas['AgentFeed']
type PayloadScript = RunScriptsPayload['scripts'][number]

/** What a bench needs of the app: the app itself (raw requests), a CSR, clients by token, a category. */
export interface Harness {
  app: FastifyInstance
  csr: HelplineClient
  client(token?: string): HelplineClient
  categoryId: string
}

export async function harness(database: Database): Promise<Harness> {
  const config = loadConfig({}, {
    CONSOLE_DIR: '/nonexistent',
    LOG_LEVEL: 'silent',
    JOIN_MAX_ATTEMPTS_PER_IP: 100_000_000,
    JOIN_MAX_ATTEMPTS_PER_NUMBER: 100_000_000,
  })
  const app = await buildApp({ config, database, logger: false })
  await app.ready()
  // The SDK's fetch, answered by app.inject: the same code path as over the network.
  const injectFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    const headers: Record<string, string> = {}
    request.headers.forEach((v, k) => (headers[k] = v))
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    const res = await app.inject({ method: request.method as InjectOptions['method'], url: url.pathname + url.search, headers, ...(body ? { payload: body } : {}) })
    const resHeaders = new Headers()
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) resHeaders.set(k, String(v))
    return new Response(res.statusCode === 204 ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers: resHeaders })
  }
  const client = (token?: string) => createClient({ baseUrl: 'http://helpline.bench', token, fetch: injectFetch as typeof fetch })
  const email = `bench-csr-${randomBytes(3).toString('hex')}@example.com`
  await app.services.accounts.create({ email, name: 'Bench CSR', role: 'csr', password: 'bench-password-1' })
  const { token } = await app.services.auth.login(email, 'bench-password-1', '127.0.0.1')
  const [category] = await database.db.insert(scriptCategories).values({ name: `Bench ${randomBytes(3).toString('hex')}` }).returning()
  return { app, csr: client(token), client, categoryId: category!.id }
}

/** Errors the simulated agents met (failed polls, answers, runs): each bench reports its own. */
let agentErrors = 0
function agentError(message: string) {
  agentErrors++
  console.error(message)
}

/**
 * A customer's agent reduced to its protocol: long-polls, approves every consent at once, and
 * hands each run_scripts command to `runner`, one command at a time, as the real agent does.
 */
class SimAgent {
  cursor = 0
  stopped = false
  work: Promise<void> = Promise.resolve()
  private readonly seen = new Set<string>()

  constructor(
    readonly sessionId: string,
    readonly api: HelplineClient,
    readonly token: string,
    private readonly hooks: {
      consent(agent: SimAgent, at: number): void
      command(agent: SimAgent, payload: RunScriptsPayload, at: number): void
      runner(agent: SimAgent, payload: RunScriptsPayload): Promise<void>
    },
  ) {}

  async loop() {
    while (!this.stopped) {
      let feed: Feed
      try {
        feed = (await this.api.GET('/api/v1/agent/poll', { params: { query: { cursor: this.cursor, wait: 25 } } })).data!
      } catch (err) {
        if (this.stopped) return
        agentError(`poll failed: ${String(err)}`)
        await new Promise((r) => setTimeout(r, 1000))
        continue
      }
      const at = performance.now()
      this.cursor = feed.cursor
      for (const c of feed.consents) {
        if (c.status !== 'pending' || this.seen.has(c.id)) continue
        this.seen.add(c.id)
        this.hooks.consent(this, at)
        this.api.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: c.id } }, body: { approved: true } }).catch((err: unknown) => {
          agentError(`answer failed: ${String(err)}`)
        })
      }
      for (const c of feed.commands) {
        if (c.kind !== 'run_scripts' || this.seen.has(c.id)) continue
        this.seen.add(c.id)
        const payload = c.payload as unknown as RunScriptsPayload
        this.hooks.command(this, payload, at)
        this.work = this.work.then(() => this.hooks.runner(this, payload)).catch((err: unknown) => agentError(`runner failed: ${String(err)}`))
      }
      if (feed.session.status === 'ended') return
    }
  }

  async download(s: PayloadScript) {
    for (const f of s.files) {
      await this.api.GET('/api/v1/agent/script-runs/{id}/files/{name}', { params: { path: { id: s.runId, name: f.name } }, parseAs: 'arrayBuffer' })
    }
  }

  async start(s: PayloadScript) {
    await this.api.POST('/api/v1/agent/script-runs/{id}/start', { params: { path: { id: s.runId } }, body: { startId: randomBytes(12).toString('base64url') } })
  }

  async finish(s: PayloadScript, durationMs: number) {
    await this.api.POST('/api/v1/agent/script-runs/{id}/finish', { params: { path: { id: s.runId } }, body: { status: 'succeeded', exitCode: 0, durationMs } })
  }
}

/** Sessions opened by the CSR, each joined by a simulated agent that starts polling. */
async function fleet(h: Harness, n: number, hooks: ConstructorParameters<typeof SimAgent>[3]): Promise<SimAgent[]> {
  const agents: SimAgent[] = []
  for (let i = 0; i < n; i++) {
    const { data: session } = await h.csr.POST('/api/v1/sessions', { body: { customerName: `Bench customer ${i}` } })
    const { data: joined } = await h.client().POST('/api/v1/agent/join', {
      body: {
        number: session!.number,
        protocol: 1,
        agentVersion: '0.1.0',
        platform: { os: 'linux', osVersion: 'bench', arch: 'x64', hostname: `bench-${i}` },
        publicKey,
      },
    })
    agents.push(new SimAgent(session!.id, h.client(joined!.agentToken), joined!.agentToken, hooks))
  }
  for (const a of agents) void a.loop()
  return agents
}

async function until(what: string, done: () => boolean, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

async function smallScripts(h: Harness, count: number) {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const script = await uploadScript(h.csr, {
      name: `Bench script ${i} ${randomBytes(3).toString('hex')}`,
      categoryId: h.categoryId,
      executable: { name: 'run.sh', content: `#!/bin/sh\necho "bench ${i}"\nuname -a\ndf -h\n` },
    })
    ids.push(script.id)
  }
  return ids
}

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(0)} s in all`

/** One line of the issue's table: the figure, the issue's "today" and the target, ok or falls short. */
const verdict = (what: string, db: string, value: number, targetMs: number, today: string, errors = 0) =>
  report({ what, db, today, figure: ms(value), target: `< ${ms(targetMs)}`, ok: value < targetMs, errors })

const row = (what: string, samples: number[]) => {
  const s = summarize(samples)
  return `  ${what.padEnd(48)} p50 ${fmt(s.p50).padStart(9)}   p99 ${fmt(s.p99).padStart(9)}   max ${fmt(s.max).padStart(9)}   n=${s.n}`
}

// ── 1. One batch on 100 sessions: how soon every agent holds its command ──────────────────────

async function dispatch(label: string, database: Database) {
  const began = performance.now()
  const errorsBefore = agentErrors
  const h = await harness(database)
  const consentSeen = new Map<string, number>() // sessionId → when its agent saw the latest consent
  const held = new Map<string, Map<string, number>>() // batchId → sessionId → when
  const agents = await fleet(h, SESSIONS, {
    consent: (a, at) => consentSeen.set(a.sessionId, at),
    command: (a, payload, at) => {
      let bySession = held.get(payload.batchId)
      if (!bySession) held.set(payload.batchId, (bySession = new Map()))
      bySession.set(a.sessionId, at)
    },
    runner: async (a, payload) => {
      if (!EXECUTE) return
      for (const s of payload.scripts) await a.download(s)
      for (const s of payload.scripts) {
        const began = performance.now()
        await a.start(s)
        await a.api.POST('/api/v1/agent/script-runs/{id}/output', {
          params: { path: { id: s.runId } },
          body: { chunks: [{ sequence: 0, stream: 'stdout', data: `${s.name}: all good\n` }] },
        })
        await a.finish(s, Math.round(performance.now() - began))
      }
    },
  })
  try {
    const scriptIds = await smallScripts(h, SCRIPTS)
    const posts: number[] = []
    const each: number[] = []
    const seen: number[] = []
    const all: number[] = []
    const cancels: number[] = []
    // One small batch first, to warm up the code paths without the cost of a full round.
    const warmup = Math.min(10, agents.length)
    for (let round = 0; round <= ROUNDS; round++) {
      const targets = round === 0 ? agents.slice(0, warmup) : agents
      consentSeen.clear()
      const t0 = performance.now()
      const { data: batch } = await h.csr.POST('/api/v1/script-batches', {
        body: { scripts: scriptIds.map((scriptId) => ({ scriptId })), sessionIds: targets.map((a) => a.sessionId) },
      })
      const posted = performance.now() - t0
      await until(`every agent to hold batch ${batch!.id}`, () => (held.get(batch!.id)?.size ?? 0) === targets.length)
      const times = [...held.get(batch!.id)!.values()].map((at) => at - t0)
      if (EXECUTE) {
        await Promise.all(targets.map((a) => a.work))
        const { data: done } = await h.csr.GET('/api/v1/script-batches/{id}', { params: { path: { id: batch!.id } } })
        if (done!.status !== 'finished' || done!.counts.succeeded !== targets.length * SCRIPTS) {
          throw new Error(`batch ${batch!.id} ended ${done!.status} with ${JSON.stringify(done!.counts)}`)
        }
      } else {
        const t1 = performance.now()
        await h.csr.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch!.id } } })
        if (round > 0) cancels.push(performance.now() - t1)
      }
      // The agents' polls re-arm after the last answers before the next batch.
      await new Promise((r) => setTimeout(r, 200))
      if (round === 0) continue
      posts.push(posted)
      each.push(...times)
      seen.push(...[...consentSeen.values()].map((at) => at - t0))
      all.push(Math.max(...times))
    }
    console.log(
      `runs: one batch of ${SCRIPTS} scripts on ${agents.length} simulated sessions (${label}; ${ROUNDS} batches after a warm-up on ${warmup}; ` +
        `${EXECUTE ? 'agents run the scripts' : 'each cancelled once held'}; ${seconds(began)})`,
    )
    console.log(row('POST /script-batches (the CSR’s answer)', posts))
    console.log(row('POST sent → agent sees the consent', seen))
    console.log(row('POST sent → agent holds its run_scripts command', each))
    console.log(row(`POST sent → all ${agents.length} agents hold it`, all))
    if (cancels.length > 0) console.log(row('POST /script-batches/{id}/cancel', cancels))
    // The issue's lines, with today's figures (before the set-based work) and the targets.
    const db = label.startsWith('PGlite') ? 'PGlite' : 'PostgreSQL'
    const today = db === 'PGlite' ? { post: '2.7 s', held: '10.8 s', cancel: '2.8 s' } : { post: '1.5 s', held: '4.3 s', cancel: '3.5 s' }
    verdict(`POST /script-batches, ${SCRIPTS} scripts × ${agents.length} sessions: p99`, db, summarize(posts).p99, 300, today.post, agentErrors - errorsBefore)
    verdict(`POST sent → every agent holds its command (${agents.length}): p99`, db, summarize(each).p99, 1000, today.held)
    if (cancels.length > 0) verdict(`cancel a batch on ${agents.length} sessions: p50`, db, summarize(cancels).p50, 300, today.cancel)
  } finally {
    for (const a of agents) a.stopped = true
    await h.app.close()
  }
}

// ── 2. Output from 10 agents at once: bytes stored per second ─────────────────────────────────

/**
 * The posts' bodies, built once: every run numbers its chunks from 0, so post p of any run is the
 * same bytes. Posting them raw keeps the simulated agents' JSON work off the two cores the server
 * is measured on (a real agent does that on the customer's machine).
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

/** With BENCH_PROFILE_DIR: a CPU profile of this process (server and simulated agents) until `stop`. */
async function startProfile() {
  const dir = process.env.BENCH_PROFILE_DIR
  if (!dir) return undefined
  const inspector = new Session()
  inspector.connect()
  await inspector.post('Profiler.enable')
  await inspector.post('Profiler.start')
  return {
    async stop(name: string) {
      const { profile } = await inspector.post('Profiler.stop')
      writeFileSync(`${dir}/${name}.cpuprofile`, JSON.stringify(profile))
      inspector.disconnect()
    },
  }
}

async function streaming(label: string, database: Database) {
  const began = performance.now()
  const errorsBefore = agentErrors
  const h = await harness(database)
  const chunksPerRun = MAX_OUTPUT_BYTES / CHUNK_CHARS
  const bodies = outputBodies(chunksPerRun, CHUNKS_PER_POST)
  const latencies: number[] = []
  const refused: string[] = []
  let go: () => void = () => {}
  const started = new Promise<void>((resolve) => (go = resolve))
  let ready = 0
  // Afterwards one run posts its whole 1 MiB at once, as the agent does when a script writes that
  // much within one flush (250 ms): whether the server takes it.
  let probing = false
  let probed: { status: number; body: string } | undefined
  const whole = outputBodies(chunksPerRun, chunksPerRun)[0]!
  const post = async (a: SimAgent, runId: string, payload: string) => {
    const t = performance.now()
    const res = await h.app.inject({
      method: 'POST',
      url: `/api/v1/agent/script-runs/${runId}/output`,
      headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' },
      payload,
    })
    return { ms: performance.now() - t, status: res.statusCode, body: res.body }
  }
  const agents = await fleet(h, STREAM_AGENTS, {
    consent: () => {},
    command: () => {},
    runner: async (a, payload) => {
      for (const s of payload.scripts) await a.download(s)
      if (probing) {
        const s = payload.scripts[0]!
        await a.start(s)
        probed = await post(a, s.runId, whole)
        await a.finish(s, 1)
        return
      }
      ready++
      await started
      for (const s of payload.scripts) {
        const began = performance.now()
        await a.start(s)
        for (const body of bodies) {
          const res = await post(a, s.runId, body)
          latencies.push(res.ms)
          if (res.status !== 200) refused.push(`${res.status} ${res.body.slice(0, 200)}`)
        }
        await a.finish(s, Math.round(performance.now() - began))
      }
    },
  })
  try {
    const [scriptId] = await smallScripts(h, 1)
    const { data: batch } = await h.csr.POST('/api/v1/script-batches', {
      body: { scripts: Array.from({ length: STREAM_RUNS }, () => ({ scriptId: scriptId! })), sessionIds: agents.map((a) => a.sessionId) },
    })
    await until('every agent to download its files', () => ready === agents.length)
    const profiler = await startProfile()
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    go()
    await Promise.all(agents.map((a) => a.work))
    const elapsed = (performance.now() - t0) / 1000
    // This process's CPU time is the server's work plus the simulated agents' (small): unlike the
    // MB/s, it hardly moves with what else the machine runs.
    const cpu = process.cpuUsage(cpu0)
    await profiler?.stop(`runs-output-${label.startsWith('PGlite') ? 'pglite' : 'postgres'}`)

    const { data: done } = await h.csr.GET('/api/v1/script-batches/{id}', { params: { path: { id: batch!.id } } })
    const runs = done!.sessions.flatMap((s) => s.runs)
    const stored = runs.reduce((n, r) => n + r.outputBytes, 0)
    // The chunks themselves, to check outputBytes against what the table holds.
    const [inTable] = await database.db
      .select({ bytes: sql<string>`coalesce(sum(octet_length(${scriptOutputChunks.data})), 0)` })
      .from(scriptOutputChunks)
      .where(inArray(scriptOutputChunks.runId, runs.map((r) => r.id)))
    const sent = agents.length * STREAM_RUNS * chunksPerRun * CHUNK_CHARS
    console.log(
      `runs: output streaming from ${agents.length} agents at once (${label}; ${STREAM_RUNS} runs each, ${chunksPerRun} chunks of 32 KiB per run, ${CHUNKS_PER_POST} per post; ${seconds(began)})`,
    )
    console.log(
      `  stored ${stored.toLocaleString('en-US')} of ${sent.toLocaleString('en-US')} bytes sent in ${elapsed.toFixed(2)} s: ` +
        `${(stored / 1e6 / elapsed).toFixed(1)} MB/s (${(stored / 1024 / 1024 / elapsed).toFixed(1)} MiB/s)` +
        `${Number(inTable!.bytes) === stored ? '' : `; the chunk table holds ${Number(inTable!.bytes).toLocaleString('en-US')} bytes`}`,
    )
    console.log(
      `  this process's CPU meanwhile: ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, ${((cpu.user + cpu.system) / 1e3 / (stored / 1024 / 1024)).toFixed(1)} ms per MiB stored; load average ${loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')}`,
    )
    const rate = stored / 1e6 / elapsed
    const intact = stored === sent && Number(inTable!.bytes) === stored
    report({
      what: `output stored from ${agents.length} agents`,
      db: label.startsWith('PGlite') ? 'PGlite' : 'PostgreSQL',
      today: '11–14 MB/s',
      figure: `${rate.toFixed(1)} MB/s${intact ? '' : ` (stored ${stored} of ${sent} bytes)`}`,
      target: '≥ 50 MB/s, none lost or duplicated',
      ok: rate >= 50 && intact,
      errors: refused.length + (agentErrors - errorsBefore) + (intact ? 0 : 1),
    })
    console.log(row(`POST …/output (${CHUNKS_PER_POST} × 32 KiB, ${(bodies[0]!.length / 1024).toFixed(0)} KiB of JSON)`, latencies))
    if (refused.length > 0) console.log(`  ${refused.length} posts refused, e.g. ${refused[0]}`)
    if (done!.status !== 'finished') console.log(`  the batch is ${done!.status}: ${JSON.stringify(done!.counts)}`)

    probing = true
    await h.csr.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: scriptId! }], sessionIds: [agents[0]!.sessionId] } })
    await until('the one-post run', () => probed !== undefined)
    await agents[0]!.work
    const code = probed!.status === 200 ? '' : ` ${(JSON.parse(probed!.body) as { code?: string }).code ?? ''}`
    console.log(`  one post of a run's whole 1 MiB (${chunksPerRun} × 32 KiB, ${whole.length.toLocaleString('en-US')} bytes of JSON): ${probed!.status}${code}`)
  } finally {
    for (const a of agents) a.stopped = true
    await h.app.close()
  }
}

// ── Databases ─────────────────────────────────────────────────────────────────────────────────

/** Runs the benches on a fresh in-memory PGlite, then on a throwaway PostgreSQL database. */
async function onEachDatabase(benches: ((label: string, database: Database) => Promise<void>)[]) {
  const databases = (process.env.BENCH_RUN_DATABASES ?? 'pglite,postgres').split(',')
  if (databases.includes('pglite')) {
    const pglite = await openDatabase({ dataDir: 'memory://' })
    try {
      for (const bench of benches) await bench('PGlite, in memory', pglite)
    } finally {
      await pglite.close()
    }
  }
  if (!databases.includes('postgres')) return
  if (!(await postgresReachable(postgresUrl))) {
    console.log(`runs (PostgreSQL): skipped, nothing answers at ${postgresUrl.replace(/\/\/[^@]*@/, '//…@')}`)
    return
  }
  const scratch = await scratchDatabase(postgresUrl)
  try {
    const database = await openDatabase({ url: scratch.url, dataDir: 'memory://' })
    try {
      for (const bench of benches) await bench('PostgreSQL', database)
    } finally {
      await database.close()
    }
  } finally {
    await scratch.drop()
  }
}

export async function run(): Promise<void> {
  // BENCH_RUN_PARTS=streaming (or dispatch) runs one part alone, e.g. to profile it.
  const parts = (process.env.BENCH_RUN_PARTS ?? 'dispatch,streaming').split(',')
  await onEachDatabase([dispatch, streaming].filter((bench) => parts.includes(bench.name)))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
