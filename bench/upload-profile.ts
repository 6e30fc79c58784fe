/**
 * The upload line of poll.bench.ts alone, for measuring it: the built server (PostgreSQL, or
 * PGlite with UPLOAD_DB=pglite), the bare raw-body route and the load generator in three
 * processes, 4 connections posting the same 1 MiB multipart body (4 files) as poll.bench.ts.
 * Besides req/s it prints the CPU each process spent per upload (server, bare server, and the
 * server's PostgreSQL backends), which a busy machine does not blur the way it blurs req/s.
 *
 *   npx tsx bench/upload-profile.ts              UPLOAD_SECONDS (5), UPLOAD_DB (postgres | pglite)
 *   BENCH_PROFILE_DIR=/tmp/prof …                the server writes upload-server.cpuprofile
 *   UPLOAD_SERVER=/other/checkout/api/dist/server.js …   measure another build (before/after in the same minute)
 *   UPLOAD_NODE_ARGS='--trace-gc' …             more flags for the server's node
 *   UPLOAD_TEXT=1 …                               the files are text (a shell script repeated), not random bytes
 *
 * CPU is split into user and system time (system: mostly the kernel moving the bytes through sockets).
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { child, uploadBody } from './lib/children.ts'
import { adminToken, load, startServer, type Server } from './lib/server.ts'
import { postgresUrl } from './lib/scratch.ts'

const SECONDS = Number(process.env.UPLOAD_SECONDS ?? 5)
const CONNECTIONS = 4
const PGLITE = process.env.UPLOAD_DB === 'pglite'
const TEXT = process.env.UPLOAD_TEXT === '1'

interface Load {
  requests: number
  errors: number
  rps: number
  statuses: Record<string, number>
  /** The load generator's own CPU during the load. */
  cpuMs: number
}



/** User and system CPU seconds of a process. */
interface Cpu {
  user: number
  system: number
}

function cpuOf(pid: number): Cpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return { user: Number(stat[11]) / 100, system: Number(stat[12]) / 100 }
}

/** CPU seconds per thread name (the main thread is named after the process; V8's GC helpers are "V8 Worker" etc.). */
function threadsOf(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const raw = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = tid === String(pid) ? 'main' : raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')'))
      const stat = raw.slice(raw.lastIndexOf(')') + 2).split(' ')
      out.set(name, (out.get(name) ?? 0) + (Number(stat[11]) + Number(stat[12])) / 100)
    } catch {
      // the thread ended
    }
  }
  return out
}

const minus = (a: Cpu, b: Cpu): Cpu => ({ user: a.user - b.user, system: a.system - b.system })

/** CPU seconds of the PostgreSQL backends serving the server's scratch database. */
async function backendCpu(sql: postgres.Sql | undefined, database: string | undefined): Promise<Cpu> {
  const total = { user: 0, system: 0 }
  if (!sql || !database) return total
  const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${database} and application_name = 'helpline'`
  for (const { pid } of rows) {
    try {
      const { user, system } = cpuOf(pid)
      total.user += user
      total.system += system
    } catch {
      // gone, or not on this machine
    }
  }
  return total
}

let server: Server | undefined
let bare: ChildProcess | undefined
const tmp = mkdtempSync(join(tmpdir(), 'helpline-upload-'))
const admin = PGLITE ? undefined : postgres(postgresUrl, { max: 1, onnotice: () => {} })
try {
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`, '--cpu-prof-name=upload-server.cpuprofile'] : []
  // startServer runs `node <nodeArgs> api/dist/server.js`: another build named first runs instead, the path after it is an ignored argument.
  const other = process.env.UPLOAD_SERVER ? [process.env.UPLOAD_SERVER] : []
  const extra = process.env.UPLOAD_NODE_ARGS ? process.env.UPLOAD_NODE_ARGS.split(' ') : []
  server = await startServer({ ...(PGLITE ? {} : { postgres: postgresUrl }), nodeArgs: [...profile, ...extra, ...other] })
  const token = await adminToken(server.url)
  const res = await fetch(`${server.url}/api/v1/script-categories`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: `Bench ${randomBytes(3).toString('hex')}` }),
  })
  const category = (await res.json()) as { id: string }
  const upload = uploadBody(category.id, TEXT)
  const file = join(tmp, 'upload.bin')
  writeFileSync(file, upload.payload)
  const env = { LOADGEN_BODY: file, LOADGEN_CONTENT_TYPE: upload.contentType }
  const b = child('bare-server.ts', ['{}'])
  bare = b.proc
  const port = await new Promise<string>((resolve) => b.proc.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())))
  const run = async (url: string, authorization?: string, seconds = SECONDS) =>
    JSON.parse(await child('loadgen.ts', [url, String(CONNECTIONS), String(seconds), ...(authorization ? [authorization] : [])], env).output) as Load
  const database = PGLITE ? undefined : (await admin!<{ datname: string }[]>`select datname from pg_database where datname like ${`helpline_bench_${process.pid}_%`}`)[0]?.datname
  // Warm-up (its names are taken: the measured run gets a fresh suffix).
  await run(`http://127.0.0.1:${port}/upload`, undefined, 2)
  await run(`${server.url}/api/v1/scripts`, `Bearer ${token}`, 2)
  const fresh = uploadBody(category.id, TEXT)
  writeFileSync(file, fresh.payload)
  Object.assign(env, { LOADGEN_CONTENT_TYPE: fresh.contentType })

  const bareBefore = cpuOf(bare.pid!)
  const bareLoad = await run(`http://127.0.0.1:${port}/upload`)
  const bareCpu = minus(cpuOf(bare.pid!), bareBefore)

  const before = cpuOf(server.pid)
  const threadsBefore = threadsOf(server.pid)
  const pgBefore = await backendCpu(admin, database)
  const ours = await run(`${server.url}/api/v1/scripts`, `Bearer ${token}`)
  const cpu = minus(cpuOf(server.pid), before)
  const threads = [...threadsOf(server.pid)].map(([name, s]) => [name, s - (threadsBefore.get(name) ?? 0)] as const).filter(([, s]) => s > 0)
  const pgCpu = minus(await backendCpu(admin, database), pgBefore)

  const ms = (s: number, n: number) => ((1000 * s) / Math.max(n, 1)).toFixed(2)
  const per = (c: Cpu, n: number) => `${ms(c.user + c.system, n)} ms (user ${ms(c.user, n)}, system ${ms(c.system, n)})`
  console.log(`database ${PGLITE ? 'PGlite' : `PostgreSQL (${database})`}; ${CONNECTIONS} connections, ${SECONDS} s; ${TEXT ? 'text' : 'random'} files; load average ${load()}`)
  console.log(`bare:  ${bareLoad.rps.toFixed(1)} req/s, CPU ${per(bareCpu, bareLoad.requests)} per upload`)
  console.log(`ours:  ${ours.rps.toFixed(1)} req/s, CPU per upload: server ${per(cpu, ours.requests)}${PGLITE ? '' : `; PostgreSQL backends ${per(pgCpu, ours.requests)}`}; errors ${ours.errors} ${JSON.stringify(ours.statuses)}`)
  console.log(`load generator CPU per request: ${(bareLoad.cpuMs / Math.max(bareLoad.requests, 1)).toFixed(2)} ms (bare), ${(ours.cpuMs / Math.max(ours.requests, 1)).toFixed(2)} ms (ours)`)
  console.log(`server threads per upload: ${threads.map(([name, s]) => `${name} ${ms(s, ours.requests)} ms`).join(', ')}`)
  console.log(`share: ${((100 * ours.rps) / bareLoad.rps).toFixed(1)} %`)
} finally {
  bare?.kill('SIGKILL')
  await server?.stop()
  await admin?.end()
  rmSync(tmp, { recursive: true, force: true })
}
