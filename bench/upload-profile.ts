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
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { child, uploadBody } from './lib/children.ts'
import { adminToken, load, startServer, usage, type Server } from './lib/server.ts'
import { postgresUrl } from './lib/scratch.ts'

const SECONDS = Number(process.env.UPLOAD_SECONDS ?? 5)
const CONNECTIONS = 4
const PGLITE = process.env.UPLOAD_DB === 'pglite'

interface Load {
  requests: number
  errors: number
  rps: number
  statuses: Record<string, number>
}



/** CPU seconds of the PostgreSQL backends serving the server's scratch database. */
async function backendCpu(sql: postgres.Sql | undefined, database: string | undefined): Promise<number> {
  if (!sql || !database) return 0
  const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${database} and application_name = 'helpline'`
  let total = 0
  for (const { pid } of rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      total += (Number(stat[11]) + Number(stat[12])) / 100
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
  server = await startServer({ ...(PGLITE ? {} : { postgres: postgresUrl }), nodeArgs: [...profile, ...other] })
  const token = await adminToken(server.url)
  const res = await fetch(`${server.url}/api/v1/script-categories`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: `Bench ${randomBytes(3).toString('hex')}` }),
  })
  const category = (await res.json()) as { id: string }
  const upload = uploadBody(category.id)
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
  const fresh = uploadBody(category.id)
  writeFileSync(file, fresh.payload)
  Object.assign(env, { LOADGEN_CONTENT_TYPE: fresh.contentType })

  const bareBefore = usage(bare.pid!).cpu
  const bareLoad = await run(`http://127.0.0.1:${port}/upload`)
  const bareCpu = usage(bare.pid!).cpu - bareBefore

  const before = usage(server.pid).cpu
  const pgBefore = await backendCpu(admin, database)
  const ours = await run(`${server.url}/api/v1/scripts`, `Bearer ${token}`)
  const cpu = usage(server.pid).cpu - before
  const pgCpu = (await backendCpu(admin, database)) - pgBefore

  const per = (s: number, n: number) => `${((1000 * s) / Math.max(n, 1)).toFixed(2)} ms`
  console.log(`database ${PGLITE ? 'PGlite' : `PostgreSQL (${database})`}; ${CONNECTIONS} connections, ${SECONDS} s; load average ${load()}`)
  console.log(`bare:  ${bareLoad.rps.toFixed(1)} req/s, CPU ${per(bareCpu, bareLoad.requests)} per upload`)
  console.log(`ours:  ${ours.rps.toFixed(1)} req/s, CPU ${per(cpu, ours.requests)} per upload (server)${PGLITE ? '' : `, ${per(pgCpu, ours.requests)} (PostgreSQL backends)`}; errors ${ours.errors} ${JSON.stringify(ours.statuses)}`)
  console.log(`share: ${((100 * ours.rps) / bareLoad.rps).toFixed(1)} %`)
} finally {
  bare?.kill('SIGKILL')
  await server?.stop()
  await admin?.end()
  rmSync(tmp, { recursive: true, force: true })
}
