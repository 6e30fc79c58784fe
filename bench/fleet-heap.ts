/**
 * What one held agent poll keeps alive in the server: heap snapshots of the built server (on
 * PostgreSQL) holding a few agents and then many, and the difference per held poll, by
 * constructor. Not part of `npm run bench` (a snapshot stops the server for seconds).
 *
 *   npx tsx bench/fleet-heap.ts                       10, then 4,000 agents
 *   HEAP_AGENTS=2000 HEAP_DIR=/tmp/heap               other size; where the snapshots go
 *   HEAP_SERVER_ARGS='--max-semi-space-size=16'       extra node flags for the server
 *
 * Prints the top rows; `node bench/heap-diff.mjs a.heapsnapshot b.heapsnapshot N` again for more.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { loadGenerator } from './fleet.bench.ts'
import { adminToken, root, startServer } from './lib/server.ts'
import { postgresUrl } from './lib/scratch.ts'

const FEW = 10
const MANY = Number(process.env.HEAP_AGENTS ?? 4000)
const DIR = process.env.HEAP_DIR ?? '/tmp/helpline-heap'
const HOLD = 50

/** Has the server write a snapshot (SIGUSR2) and waits until the file stops growing. */
async function snapshot(pid: number): Promise<string> {
  const before = new Set(readdirSync(DIR))
  process.kill(pid, 'SIGUSR2')
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000))
    const file = readdirSync(DIR).find((f) => f.endsWith('.heapsnapshot') && !before.has(f))
    if (!file) continue
    const path = join(DIR, file)
    const size = statSync(path).size
    await new Promise((r) => setTimeout(r, 2000))
    if (size > 0 && statSync(path).size === size) return path
  }
}

if (!existsSync(DIR)) mkdirSync(DIR, { recursive: true })
const server = await startServer({
  postgres: postgresUrl,
  openFiles: MANY + 4096,
  env: { AGENT_POLL_WAIT_SECONDS: String(HOLD) },
  nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${DIR}`, ...(process.env.HEAP_SERVER_ARGS?.split(' ').filter(Boolean) ?? [])],
})
const agents = loadGenerator(MANY + 4096)
try {
  const token = await adminToken(server.url)
  const settle = () => new Promise((r) => setTimeout(r, 8000))
  await agents.ask({ type: 'grow', api: server.url, token, to: FEW, concurrency: 10, deadlineSeconds: 120 }, 'grown')
  await settle()
  const few = await snapshot(server.pid)
  const grown = await agents.ask({ type: 'grow', api: server.url, token, to: MANY, concurrency: 50, deadlineSeconds: 600 }, 'grown')
  await settle()
  const many = await snapshot(server.pid)
  const { count } = await agents.ask({ type: 'errors' }, 'errors')
  console.log(`${few}: ${FEW} agents; ${many}: ${grown.agents} agents; ${count} errors`)
  spawnSync(process.execPath, [join(root, 'bench/heap-diff.mjs'), few, many, String(grown.agents - FEW)], { stdio: 'inherit', env: { ...process.env, TOP: '50' } })
} finally {
  if (agents.proc.connected) agents.proc.send({ type: 'stop' })
  await server.stop()
  agents.proc.kill('SIGKILL')
}
