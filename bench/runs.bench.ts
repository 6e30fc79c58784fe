/**
 * Running library scripts on sessions, on PGlite and, when one answers, on PostgreSQL. The server
 * is the built one (`api/dist/server.js`, plain node; lib/server.ts) on a fresh PGlite data
 * directory, then on a scratch PostgreSQL database; the CSR and the customers' agents are a load
 * generator in a process of its own (lib/runs-agents.ts: real HTTP on kept-alive sockets, driven
 * over IPC), so that they do not share the server's event loop.
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
 *    start to the last finish; the CSR then reads every run's output back, and each chunk must be
 *    there exactly once. Then one run posts its whole 1 MiB in one post.
 *
 * Next to each figure: the server's CPU per operation (user + system, all threads, from /proc),
 * and on PostgreSQL its backends' — what a figure taken on a loaded machine can be read by.
 *
 *   npx tsx bench/runs.bench.ts                   or   npm run bench -- runs
 *   BENCH_RUN_SESSIONS=100  BENCH_RUN_SCRIPTS=3  BENCH_RUN_ROUNDS=5  BENCH_RUN_EXECUTE=1  dispatch
 *   BENCH_RUN_AGENTS=10  BENCH_RUN_RUNS=5  BENCH_RUN_CHUNKS_PER_POST=16                  streaming
 *   BENCH_DATABASE_URL=postgres://…                                                    PostgreSQL
 *   BENCH_RUN_PARTS=streaming                                                      one part only
 *   BENCH_RUN_DATABASES=postgres                    one database only (pglite, postgres; both by default)
 *   BENCH_PROFILE_DIR=/tmp/prof     the server writes a CPU profile when it stops (runs-server-<db>.cpuprofile)
 */
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { createClient, uploadScript } from '@helpline/sdk'
import { MAX_BATCH_SESSIONS } from '../api/src/schemas/runs.ts'
import { driven } from './lib/children.ts'
import { total, type Cpu } from './lib/proc.ts'
import { ms, report } from './lib/report.ts'
import type { Reply, Request } from './lib/runs-agents.ts'
import { postgresReachable, postgresUrl } from './lib/scratch.ts'
import { adminToken, load, startServer, type Server } from './lib/server.ts'
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
const EXECUTE = process.env.BENCH_RUN_EXECUTE === '1'

type Db = 'PGlite' | 'PostgreSQL'

/** What the parts share on one server: the CSR's token and a few small library scripts. */
interface Library {
  csrToken: string
  scriptIds: string[]
}

/** A CSR of its own (signed in over the API) and `count` small scripts in a category of their own. */
async function library(server: Server, count: number): Promise<Library> {
  const admin = createClient({ baseUrl: server.url, token: await adminToken(server.url) })
  const email = `bench-csr-${randomBytes(3).toString('hex')}@example.com`
  const password = 'bench-password-1'
  await admin.POST('/api/v1/users', { body: { email, name: 'Bench CSR', role: 'csr', password } })
  const { data: login } = await createClient({ baseUrl: server.url }).POST('/api/v1/auth/login', { body: { email, password } })
  const csr = createClient({ baseUrl: server.url, token: login!.token })
  const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: `Bench ${randomBytes(3).toString('hex')}` } })
  const scriptIds: string[] = []
  for (let i = 0; i < count; i++) {
    const script = await uploadScript(csr, {
      name: `Bench script ${i} ${randomBytes(3).toString('hex')}`,
      categoryId: category!.id,
      executable: { name: 'run.sh', content: `#!/bin/sh\necho "bench ${i}"\nuname -a\ndf -h\n` },
    })
    scriptIds.push(script.id)
  }
  return { csrToken: login!.token, scriptIds }
}

/** The load generator with `sessions` joined agents polling `server`. */
async function agentsOn(server: Server, lib: Library, sessions: number) {
  const agents = driven<Request, Reply>('runs-agents.ts')
  const errors: string[] = []
  /** Each reply carries the errors met since the previous one. */
  const ask = async <T extends Reply['type']>(request: Request, type: T) => {
    const reply = await agents.ask(request, type)
    errors.push(...reply.errors)
    return reply
  }
  try {
    await ask({ type: 'join', api: server.url, csrToken: lib.csrToken, sessions, watch: { pid: server.pid, database: server.database } }, 'joined')
  } catch (err) {
    agents.stop({ type: 'stop' })
    throw err
  }
  return { ask, errors, stop: () => agents.stop({ type: 'stop' }) }
}

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(0)} s in all`

/** CPU per operation, e.g. `server 42 ms + PostgreSQL 31 ms`: `n` operations took `cpu`. */
function cpuEach(cpu: Cpu, n: number, db: Db): string {
  const each = (v: number) => ms(v / n)
  return db === 'PGlite' ? `server ${each(cpu.server)}` : `server ${each(cpu.server)} + PostgreSQL ${each(cpu.database)}`
}

/** Of the server's CPU, the system time: socket work (on loopback also the peer's receive path). */
const systemShare = (cpu: Cpu) => `${cpu.server > 0 ? ((cpu.serverSystem / cpu.server) * 100).toFixed(0) : '0'} % of the server's in the kernel`

/** One line of the issue's table: the figure (with its CPU), the issue's "today" and the target, ok or falls short. */
const verdict = (what: string, db: Db, value: number, cpu: string, targetMs: number, today: string, errors = 0) =>
  report({ what, db, today, figure: `${ms(value)} (CPU ${cpu})`, target: `< ${ms(targetMs)}`, ok: value < targetMs, errors })

const row = (what: string, samples: number[]) => {
  const s = summarize(samples)
  return `  ${what.padEnd(48)} p50 ${fmt(s.p50).padStart(9)}   p99 ${fmt(s.p99).padStart(9)}   max ${fmt(s.max).padStart(9)}   n=${s.n}`
}

// ── 1. One batch on 100 sessions: how soon every agent holds its command ──────────────────────

async function dispatch(db: Db, label: string, server: Server, lib: Library) {
  const began = performance.now()
  const agents = await agentsOn(server, lib, SESSIONS)
  try {
    const posts: number[] = []
    const each: number[] = []
    const seen: number[] = []
    const all: number[] = []
    const cancels: number[] = []
    const cpu: { post: Cpu[]; dispatch: Cpu[]; cancel: Cpu[] } = { post: [], dispatch: [], cancel: [] }
    // One small batch first, to warm up the code paths without the cost of a full round.
    const warmup = Math.min(10, SESSIONS)
    for (let round = 0; round <= ROUNDS; round++) {
      const b = await agents.ask({ type: 'batch', scriptIds: lib.scriptIds.slice(0, SCRIPTS), sessions: round === 0 ? warmup : SESSIONS, execute: EXECUTE }, 'batch')
      if (round === 0) continue
      posts.push(b.postMs)
      each.push(...b.held)
      seen.push(...b.seen)
      all.push(Math.max(...b.held))
      cpu.post.push(b.cpu.post)
      cpu.dispatch.push(b.cpu.dispatch)
      if (b.cancelMs !== undefined) cancels.push(b.cancelMs)
      if (b.cpu.cancel) cpu.cancel.push(b.cpu.cancel)
    }
    console.log(
      `runs: one batch of ${SCRIPTS} scripts on ${SESSIONS} simulated sessions (${label}; ${ROUNDS} batches after a warm-up on ${warmup}; ` +
        `${EXECUTE ? 'agents run the scripts' : 'each cancelled once held'}; ${seconds(began)}; load average ${load()})`,
    )
    console.log(row('POST /script-batches (the CSR’s answer)', posts))
    console.log(row('POST sent → agent sees the consent', seen))
    console.log(row('POST sent → agent holds its run_scripts command', each))
    console.log(row(`POST sent → all ${SESSIONS} agents hold it`, all))
    if (cancels.length > 0) console.log(row('POST /script-batches/{id}/cancel', cancels))
    const cpuPost = cpuEach(total(cpu.post), ROUNDS, db)
    const cpuDispatch = cpuEach(total(cpu.dispatch), ROUNDS, db)
    const cpuCancel = cpuEach(total(cpu.cancel), cpu.cancel.length, db)
    console.log(
      `  CPU per batch: POST sent → answered ${cpuPost}; sent → all hold it (consents, answers, deliveries) ${cpuDispatch}` +
        `${cpu.cancel.length > 0 ? `; the cancel ${cpuCancel}` : ''} (dispatch: ${systemShare(total(cpu.dispatch))})`,
    )
    // The issue's lines, with today's figures (before the set-based work) and the targets.
    const today = db === 'PGlite' ? { post: '2.7 s', held: '10.8 s', cancel: '2.8 s' } : { post: '1.5 s', held: '4.3 s', cancel: '3.5 s' }
    const errors = agents.errors.length
    verdict(`POST /script-batches, ${SCRIPTS} scripts × ${SESSIONS} sessions: p99`, db, summarize(posts).p99, `${cpuPost}/batch`, 300, today.post, errors)
    verdict(`POST sent → every agent holds its command (${SESSIONS}): p99`, db, summarize(each).p99, `${cpuDispatch}/batch`, 1000, today.held)
    if (cancels.length > 0) verdict(`cancel a batch on ${SESSIONS} sessions: p50`, db, summarize(cancels).p50, `${cpuCancel}/cancel`, 300, today.cancel)
    for (const e of agents.errors.slice(0, 3)) console.log(`  error: ${e}`)
  } finally {
    agents.stop()
  }
}

// ── 2. Output from 10 agents at once: bytes stored per second ─────────────────────────────────

async function streaming(db: Db, label: string, server: Server, lib: Library) {
  const began = performance.now()
  const agents = await agentsOn(server, lib, STREAM_AGENTS)
  try {
    const scriptId = lib.scriptIds[0]!
    const s = await agents.ask({ type: 'stream', scriptId, runs: STREAM_RUNS, chunksPerPost: CHUNKS_PER_POST }, 'streamed')
    const MiB = s.stored / 1024 / 1024
    const rate = s.stored / 1e6 / s.seconds
    // Exactly once: what the runs count, what the CSR reads back, and every sequence of every run once.
    const intact = s.stored === s.sent && s.readBack === s.stored && s.missing === 0 && s.duplicated === 0
    const cpuPerMiB = cpuEach(s.cpu, MiB, db)
    console.log(
      `runs: output streaming from ${STREAM_AGENTS} agents at once (${label}; ${STREAM_RUNS} runs each, 32 chunks of 32 KiB per run, ${CHUNKS_PER_POST} per post; ${seconds(began)})`,
    )
    console.log(
      `  stored ${s.stored.toLocaleString('en-US')} of ${s.sent.toLocaleString('en-US')} bytes sent in ${s.seconds.toFixed(2)} s: ` +
        `${rate.toFixed(1)} MB/s (${(MiB / s.seconds).toFixed(1)} MiB/s); read back by the CSR: ${s.readBack.toLocaleString('en-US')} bytes` +
        `${s.missing + s.duplicated > 0 ? `, ${s.missing} chunks missing, ${s.duplicated} there twice or more` : ', every chunk once'}`,
    )
    console.log(
      `  CPU meanwhile: ${cpuEach(s.cpu, 1, db)} (${cpuPerMiB} per MiB stored; ${systemShare(s.cpu)}); the load generator ${ms(s.loadgenMs)} (its own process); load average ${load()}`,
    )
    if (process.env.BENCH_SERVER_NODE_ARGS?.includes('--cpu-prof')) console.log(`  the window in the profile's clock (PROF_FROM PROF_TO): ${s.profileWindow}`)
    report({
      what: `output stored from ${STREAM_AGENTS} agents`,
      db,
      today: '11–14 MB/s',
      figure: `${rate.toFixed(1)} MB/s${intact ? '' : ` (stored ${s.stored} of ${s.sent} bytes)`} (CPU ${cpuPerMiB}/MiB)`,
      target: '≥ 50 MB/s, none lost or duplicated',
      ok: rate >= 50 && intact,
      errors: s.refused.length + agents.errors.length + (intact ? 0 : 1),
    })
    console.log(row(`POST …/output (${CHUNKS_PER_POST} × 32 KiB, ${(s.postBytes / 1024).toFixed(0)} KiB of JSON)`, s.latencies))
    if (s.refused.length > 0) console.log(`  ${s.refused.length} posts refused, e.g. ${s.refused[0]}`)
    if (s.batch.status !== 'finished') console.log(`  the batch is ${s.batch.status}: ${JSON.stringify(s.batch.counts)}`)

    const p = await agents.ask({ type: 'probe', scriptId }, 'probed')
    console.log(`  one post of a run's whole 1 MiB (32 × 32 KiB, ${p.postBytes.toLocaleString('en-US')} bytes of JSON): ${p.status}${p.code ? ` ${p.code}` : ''}`)
    for (const e of agents.errors.slice(0, 3)) console.log(`  error: ${e}`)
  } finally {
    agents.stop()
  }
}

// ── Databases ─────────────────────────────────────────────────────────────────────────────────

/** Runs the parts on the built server over a fresh PGlite data directory, then over a scratch PostgreSQL database. */
export async function run(): Promise<void> {
  // BENCH_RUN_PARTS=streaming (or dispatch) runs one part alone, e.g. to profile it.
  const parts = (process.env.BENCH_RUN_PARTS ?? 'dispatch,streaming').split(',')
  const benches = [dispatch, streaming].filter((bench) => parts.includes(bench.name))
  const databases = (process.env.BENCH_RUN_DATABASES ?? 'pglite,postgres').split(',')
  for (const [db, name] of [['PGlite', 'pglite'], ['PostgreSQL', 'postgres']] as const) {
    if (!databases.includes(name)) continue
    if (db === 'PostgreSQL' && !(await postgresReachable(postgresUrl))) {
      console.log(`runs (PostgreSQL): skipped, nothing answers at ${postgresUrl.replace(/\/\/[^@]*@/, '//…@')}`)
      continue
    }
    const dir = process.env.BENCH_PROFILE_DIR
    const began = performance.now()
    const server = await startServer({
      postgres: db === 'PostgreSQL' ? postgresUrl : undefined,
      nodeArgs: dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=runs-server-${name}.cpuprofile`] : [],
    })
    try {
      const started = performance.now()
      const lib = await library(server, SCRIPTS)
      console.log(`runs (${db}): the server answered in ${((started - began) / 1000).toFixed(1)} s, the CSR and the scripts took ${((performance.now() - started) / 1000).toFixed(1)} s`)
      const label = `${db === 'PGlite' ? 'PGlite, fresh data directory' : 'PostgreSQL'}; built server, agents in their own process`
      for (const bench of benches) await bench(db, label, server, lib)
    } finally {
      await server.stop()
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
