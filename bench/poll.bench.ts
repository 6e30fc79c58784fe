/**
 * Throughput against bare Fastify in the same run, on PostgreSQL: the built API server (plain
 * node, a scratch database), the bare server (lib/bare-server.ts) and the load generator
 * (lib/loadgen.ts) each in their own process. The lines:
 * - empty poll (`wait=0`, the cursor at the session's change number), 10 connections, against a
 *   bare route answering the same JSON: target ≥ 50 %;
 * - 1 MiB script upload (multipart: the executable and three inputs), 4 connections, against a
 *   bare route taking the same bytes raw: target ≥ 50 %.
 * Each measurement is taken after a warm-up of both, bare first.
 *
 *   npx tsx bench/poll.bench.ts          BENCH_QUICK=1: 2 s per measurement instead of 10, no warm-up
 *   BENCH_PROFILE_DIR=/tmp/prof          the server writes a CPU profile when it stops
 */
import type { ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { child, uploadBody } from './lib/children.ts'
import { report, thousands } from './lib/report.ts'
import { adminToken, load, startServer, type Server } from './lib/server.ts'
import { onAbort, postgresUrl } from './lib/scratch.ts'

const QUICK = process.env.BENCH_QUICK === '1'
const SECONDS = QUICK ? 2 : 10
/** Quick runs skip the warm-ups: their figures are not compared with anything. */
const WARMUP_SECONDS = QUICK ? 0 : 3
const POLL_CONNECTIONS = 10
const UPLOAD_CONNECTIONS = 4

interface Load {
  requests: number
  errors: number
  rps: number
  statuses: Record<string, number>
}

async function firstLine(proc: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = ''
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
  })
}

async function load1(url: string, connections: number, authorization?: string, env?: Record<string, string>, seconds = SECONDS): Promise<Load> {
  const { output } = child('loadgen.ts', [url, String(connections), String(seconds), ...(authorization ? [authorization] : [])], env)
  return JSON.parse(await output) as Load
}


const errorsOf = (l: Load) => (l.errors > 0 ? `; errors ${l.errors} (${JSON.stringify(l.statuses)})` : '')

export async function run(): Promise<void> {
  let server: Server | undefined
  let bare: ChildProcess | undefined
  const tmp = mkdtempSync(join(tmpdir(), 'helpline-bench-'))
  const removeTmp = onAbort(() => rmSync(tmp, { recursive: true, force: true }))
  try {
    const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`, '--cpu-prof-name=poll-server.cpuprofile'] : []
    server = await startServer({ postgres: postgresUrl, nodeArgs: profile })
    const api = server.url
    const token = await adminToken(api)
    const post = async <T>(path: string, body: unknown, bearer?: string) => {
      const res = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify(body) })
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return (await res.json()) as T
    }
    const session = await post<{ number: string }>('/api/v1/sessions', { customerName: 'Bench' }, token)
    const publicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const joined = await post<{ agentToken: string }>('/api/v1/agent/join', {
      number: session.number,
      protocol: 1,
      agentVersion: '0.1.0',
      platform: { os: 'linux', osVersion: 'bench', arch: 'x64', hostname: 'bench' },
      publicKey,
    })
    const authorization = `Bearer ${joined.agentToken}`
    const first = await fetch(`${api}/api/v1/agent/poll?cursor=0&wait=0`, { headers: { authorization } }).then((r) => r.json() as Promise<{ cursor: number }>)
    const pollUrl = `${api}/api/v1/agent/poll?cursor=${first.cursor}&wait=0`
    const body = await fetch(pollUrl, { headers: { authorization } }).then((r) => r.text())

    bare = child('bare-server.ts', [body]).proc
    const bareUrl = `http://127.0.0.1:${await firstLine(bare)}`

    // Empty polls.
    if (WARMUP_SECONDS > 0) {
      await load1(`${bareUrl}/poll`, POLL_CONNECTIONS, undefined, undefined, WARMUP_SECONDS)
      await load1(pollUrl, POLL_CONNECTIONS, authorization, undefined, WARMUP_SECONDS)
    }
    const baseline = await load1(`${bareUrl}/poll`, POLL_CONNECTIONS)
    const ours = await load1(pollUrl, POLL_CONNECTIONS, authorization)
    const share = (100 * ours.rps) / baseline.rps
    console.log(`empty poll (wait=0, ${POLL_CONNECTIONS} connections, ${SECONDS} s): ${thousands(ours.rps)} vs ${thousands(baseline.rps)} req/s bare${errorsOf(ours)}; load average ${load()}`)
    report({
      what: `empty poll throughput (wait=0, ${POLL_CONNECTIONS} connections), % of bare Fastify`,
      db: 'PostgreSQL',
      today: '0.9 % (458 vs 50,465 req/s)',
      figure: `${share.toFixed(1)} % (${thousands(ours.rps)} vs ${thousands(baseline.rps)} req/s)`,
      target: '≥ 50 %',
      ok: share >= 50,
      errors: ours.errors + baseline.errors,
    })

    // 1 MiB uploads.
    const category = await post<{ id: string }>('/api/v1/script-categories', { name: `Bench ${randomBytes(3).toString('hex')}` }, token)
    const upload = uploadBody(category.id)
    const file = join(tmp, 'upload.bin')
    writeFileSync(file, upload.payload)
    const env = { LOADGEN_BODY: file, LOADGEN_CONTENT_TYPE: upload.contentType }
    const scriptsUrl = `${api}/api/v1/scripts`
    if (WARMUP_SECONDS > 0) {
      await load1(`${bareUrl}/upload`, UPLOAD_CONNECTIONS, undefined, env, WARMUP_SECONDS)
      // The warm-up's names are taken: the measured run numbers from 0 again, so it gets a
      // body with a fresh random suffix.
      const warm = await load1(scriptsUrl, UPLOAD_CONNECTIONS, `Bearer ${token}`, env, WARMUP_SECONDS)
      if (warm.errors > 0) console.log(`  upload warm-up: ${JSON.stringify(warm.statuses)}`)
    }
    const upload2 = uploadBody(category.id)
    writeFileSync(file, upload2.payload)
    const env2 = { LOADGEN_BODY: file, LOADGEN_CONTENT_TYPE: upload2.contentType }
    const bareUp = await load1(`${bareUrl}/upload`, UPLOAD_CONNECTIONS, undefined, env2)
    const ourUp = await load1(scriptsUrl, UPLOAD_CONNECTIONS, `Bearer ${token}`, env2)
    const upShare = (100 * ourUp.rps) / bareUp.rps
    console.log(`1 MiB upload (${UPLOAD_CONNECTIONS} connections, ${SECONDS} s): ${ourUp.rps.toFixed(1)} vs ${bareUp.rps.toFixed(1)} req/s bare${errorsOf(ourUp)}; load average ${load()}`)
    report({
      what: `1 MiB script upload (${UPLOAD_CONNECTIONS} connections), % of a bare raw-body route`,
      db: 'PostgreSQL',
      today: '8.9 % (68 vs 762 req/s)',
      figure: `${upShare.toFixed(1)} % (${ourUp.rps.toFixed(0)} vs ${bareUp.rps.toFixed(0)} req/s)`,
      target: '≥ 50 %',
      ok: upShare >= 50,
      errors: ourUp.errors + bareUp.errors,
    })
  } finally {
    bare?.kill('SIGKILL')
    await server?.stop()
    removeTmp.release()
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
