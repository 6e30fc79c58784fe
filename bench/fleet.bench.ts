import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * Agent fleet: N simulated agents long-poll one API process on PostgreSQL (a throwaway
 * database). Reports the server's RSS and CPU while it holds them, and the dispatch latency from
 * a CSR queueing a command to the agent receiving it (p50, p99).
 *
 *   npx tsx bench/fleet.bench.ts                      1,000 / 5,000 / 10,000 agents
 *   BENCH_FLEET_MAX=1000 npx tsx bench/fleet.bench.ts  cap N (small machines, quick runs)
 *   BENCH_DATABASE_URL=postgres://…                    the server to create the database on
 *
 * Targets on a 2-core machine: 10,000 agents under 1 GiB RSS, dispatch p99 under 100 ms.
 */
import { freePort, scratchDatabase } from './lib/scratch.ts'
const root = fileURLToPath(new URL('..', import.meta.url))
const SIZES = (process.env.BENCH_FLEET_SIZES ?? '1000,5000,10000').split(',').map(Number)
const MAX = Number(process.env.BENCH_FLEET_MAX ?? Infinity)
const SAMPLES = Number(process.env.BENCH_FLEET_SAMPLES ?? 200)
const ADMIN = { email: 'bench@helpline.local', password: 'bench-password-1' }
const publicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()

interface SimAgent {
  sessionId: string
  token: string
  cursor: number
  stopped: boolean
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!)
    }),
  )
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/** RSS (bytes) and total CPU time (seconds) of a process, from /proc. */
function usage(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const ticks = Number(stat[11]) + Number(stat[12])
  return { rss, cpu: ticks / 100 }
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

export async function run(): Promise<void> {
  const sizes = SIZES.map((n) => Math.min(n, MAX)).filter((n, i, all) => n > 0 && all.indexOf(n) === i)
  const baseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const db = await scratchDatabase(baseUrl)
  const port = await freePort()
  const api = `http://127.0.0.1:${port}`
  let server: ChildProcess | undefined
  const agents: SimAgent[] = []
  try {
    server = spawn(process.execPath, ['--import', 'tsx', 'api/src/server.ts'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        PORT: String(port),
        HOST: '127.0.0.1',
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        LOG_LEVEL: 'warn',
        CONSOLE_DIR: '/nonexistent',
        JOIN_MAX_ATTEMPTS_PER_IP: '100000000',
        JOIN_MAX_ATTEMPTS_PER_NUMBER: '100000000',
        LOGIN_MAX_ATTEMPTS_PER_IP: '100000000',
        AGENT_POLL_WAIT_SECONDS: '25',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    for (let i = 0; ; i++) {
      const ok = await fetch(`${api}/health`).then((r) => r.ok, () => false)
      if (ok) break
      if (i > 600) throw new Error('the server did not start')
      await new Promise((r) => setTimeout(r, 100))
    }
    const { token } = await json<{ token: string }>(
      await fetch(`${api}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) }),
    )
    const csr = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

    // Commands a simulated agent received, by id → when.
    const received = new Map<string, number>()
    const pollLoop = async (a: SimAgent) => {
      while (!a.stopped) {
        try {
          const feed = await json<{ cursor: number; consents: { id: string; status: string }[]; commands: { id: string }[] }>(
            await fetch(`${api}/api/v1/agent/poll?cursor=${a.cursor}&wait=25`, { headers: { authorization: `Bearer ${a.token}` } }),
          )
          const now = performance.now()
          a.cursor = feed.cursor
          for (const c of feed.commands) {
            received.set(c.id, now)
            // Finish it so the session can take the next one.
            void fetch(`${api}/api/v1/agent/commands/${c.id}/reports`, {
              method: 'POST',
              headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ sequence: 0, status: 'succeeded' }),
            })
          }
          for (const c of feed.consents.filter((x) => x.status === 'pending')) {
            void fetch(`${api}/api/v1/agent/consents/${c.id}/answer`, {
              method: 'POST',
              headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ approved: true }),
            })
          }
        } catch {
          if (!a.stopped) await new Promise((r) => setTimeout(r, 1000))
        }
      }
    }

    console.log('agents  server RSS  server CPU (idle fleet)  dispatch p50  p99   (n samples)')
    for (const size of sizes) {
      const start = performance.now()
      const fresh: SimAgent[] = []
      await pool(Array.from({ length: size - agents.length }, (_, i) => i), 50, async (i) => {
        const s = await json<{ id: string; number: string }>(
          await fetch(`${api}/api/v1/sessions`, { method: 'POST', headers: csr, body: JSON.stringify({ customerName: `Bench ${agents.length + i}` }) }),
        )
        const joined = await json<{ agentToken: string }>(
          await fetch(`${api}/api/v1/agent/join`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              number: s.number,
              protocol: 1,
              agentVersion: '0.1.0',
              platform: { os: 'linux', osVersion: 'bench', arch: 'x64', hostname: `bench-${i}` },
              publicKey,
            }),
          }),
        )
        fresh.push({ sessionId: s.id, token: joined.agentToken, cursor: 0, stopped: false })
      })
      agents.push(...fresh)
      for (const a of fresh) void pollLoop(a)
      const setup = ((performance.now() - start) / 1000).toFixed(1)
      await new Promise((r) => setTimeout(r, 3000))

      // CPU and memory while the fleet is held (idle: only the long-polls themselves).
      const before = usage(server.pid!)
      const window = 10
      await new Promise((r) => setTimeout(r, window * 1000))
      const after = usage(server.pid!)
      const cpu = ((after.cpu - before.cpu) / window) * 100

      // Dispatch latency: consent once per sampled session (not measured), then queued commands.
      const sample = agents.slice(0, Math.min(SAMPLES, agents.length))
      await pool(sample, 20, async (a) => {
        const res = await fetch(`${api}/api/v1/sessions/${a.sessionId}/system-info/refresh`, { method: 'POST', headers: { authorization: csr.authorization } })
        const body = await json<{ command: { id: string } }>(res)
        for (let i = 0; i < 200 && !received.has(body.command.id); i++) await new Promise((r) => setTimeout(r, 50))
      })
      await new Promise((r) => setTimeout(r, 500))
      const latencies: number[] = []
      await pool(sample, 10, async (a) => {
        const t0 = performance.now()
        const res = await fetch(`${api}/api/v1/sessions/${a.sessionId}/system-info/refresh`, { method: 'POST', headers: { authorization: csr.authorization } })
        if (!res.ok) return void (await res.text())
        const { command } = (await res.json()) as { command: { id: string } }
        for (let i = 0; i < 400 && !received.has(command.id); i++) await new Promise((r) => setTimeout(r, 2))
        const got = received.get(command.id)
        if (got !== undefined) latencies.push(got - t0)
        await new Promise((r) => setTimeout(r, 20))
      })
      latencies.sort((a, b) => a - b)
      const mib = (after.rss / 1024 / 1024).toFixed(0)
      console.log(
        `${String(agents.length).padStart(6)}  ${`${mib} MiB`.padStart(9)}  ${`${cpu.toFixed(1)} %`.padStart(22)}  ${`${percentile(latencies, 50).toFixed(1)} ms`.padStart(12)}  ${`${percentile(latencies, 99).toFixed(1)} ms`.padStart(8)}   (${latencies.length}; setup ${setup} s)`,
      )
    }
  } finally {
    for (const a of agents) a.stopped = true
    server?.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 300))
    await db.drop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
}
