/**
 * Empty-poll throughput against a bare Fastify route returning the same JSON, in the same run:
 * the API server, the bare server and the load generator each in their own process (a throwaway
 * PostgreSQL database). The line: `wait=0`, 10 connections, target ≥ 50 % of bare.
 *
 *   npx tsx bench/poll.bench.ts          BENCH_QUICK=1 (3 s per measurement instead of 10)
 *   BENCH_DATABASE_URL=postgres://…      the server to create the database on
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { freePort, scratchDatabase } from './lib/scratch.ts'
const root = fileURLToPath(new URL('..', import.meta.url))
const SECONDS = process.env.BENCH_QUICK === '1' ? 3 : 10
const CONNECTIONS = 10
const ADMIN = { email: 'bench@helpline.local', password: 'bench-password-1' }

/** Runs a bench/lib script in its own process and returns what it printed. */
function child(script: string, args: string[]): { proc: ChildProcess; output: Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', `bench/lib/${script}`, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  const output = new Promise<string>((resolve) => proc.stdout!.on('end', () => resolve(out)))
  return { proc, output }
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

async function load(url: string, authorization?: string): Promise<{ requests: number; errors: number; rps: number }> {
  const { output } = child('loadgen.ts', [url, String(CONNECTIONS), String(SECONDS), ...(authorization ? [authorization] : [])])
  return JSON.parse(await output) as { requests: number; errors: number; rps: number }
}

export async function run(): Promise<void> {
  const baseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const db = await scratchDatabase(baseUrl)
  const port = await freePort()
  const api = `http://127.0.0.1:${port}`
  let server: ChildProcess | undefined
  let bare: ChildProcess | undefined
  try {
    // BENCH_PROFILE_DIR: the server writes a CPU profile there when it stops.
    const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []
    server = spawn(process.execPath, [...profile, '--import', 'tsx', 'api/src/server.ts'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1', ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, LOG_LEVEL: 'warn', CONSOLE_DIR: '/nonexistent' },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    for (let i = 0; !(await fetch(`${api}/health`).then((r) => r.ok, () => false)); i++) {
      if (i > 600) throw new Error('the server did not start')
      await new Promise((r) => setTimeout(r, 100))
    }
    const post = async <T>(path: string, body: unknown, token?: string) => {
      const res = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) })
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return (await res.json()) as T
    }
    const { token } = await post<{ token: string }>('/api/v1/auth/login', ADMIN)
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
    const barePort = await firstLine(bare)
    await load(`http://127.0.0.1:${barePort}/poll`) // warm-up, both
    await load(pollUrl, authorization)
    const baseline = await load(`http://127.0.0.1:${barePort}/poll`)
    const ours = await load(pollUrl, authorization)
    const share = (100 * ours.rps) / baseline.rps
    console.log(`empty poll throughput (wait=0, ${CONNECTIONS} connections, ${SECONDS} s, PostgreSQL; today in the issue: 0.9 %, 458 vs 50,465 req/s)`)
    console.log(
      `  ${share.toFixed(1)} % of a bare Fastify route (${Math.round(ours.rps)} vs ${Math.round(baseline.rps)} req/s; errors ${ours.errors}/${baseline.errors})   target ≥ 50 %   ${share >= 50 && ours.errors === 0 ? 'ok' : 'falls short'}`,
    )
  } finally {
    bare?.kill('SIGKILL')
    if (server && process.env.BENCH_PROFILE_DIR) {
      server.kill('SIGTERM')
      await new Promise((r) => server!.once('exit', r))
    }
    server?.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 300))
    await db.drop()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
