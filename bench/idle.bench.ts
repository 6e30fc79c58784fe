/**
 * Idle server right after start, no agents: the RSS of the built server (`node
 * api/dist/server.js`, no npx or tsx launcher) and of any process it started, 3 s after /health
 * first answers (1 s with BENCH_QUICK=1), on PGlite (a fresh data directory) and on PostgreSQL (a scratch database).
 * The issue's line: under 300 MiB on PGlite, 150 MiB on PostgreSQL, no launcher processes.
 *
 *   npx tsx bench/idle.bench.ts
 */
import { pathToFileURL } from 'node:url'
import { ms, report } from './lib/report.ts'
import { descendants, load, startServer, usage } from './lib/server.ts'
import { postgresReachable, postgresUrl } from './lib/scratch.ts'

const SETTLE_MS = process.env.BENCH_QUICK === '1' ? 1000 : 3000

async function idle(db: 'PGlite' | 'PostgreSQL', targetMiB: number, today: string) {
  const t0 = performance.now()
  const server = await startServer(db === 'PostgreSQL' ? { postgres: postgresUrl } : {})
  const ready = performance.now() - t0
  try {
    await new Promise((r) => setTimeout(r, SETTLE_MS))
    const children = descendants(server.pid)
    const rss = [server.pid, ...children].reduce((n, pid) => n + usage(pid).rss, 0) / 2 ** 20
    console.log(`idle server (${db}): ${rss.toFixed(0)} MiB RSS, ${children.length} child processes, health after ${ms(ready)}; load average ${load()}`)
    report({
      what: 'idle server right after start, no agents: RSS',
      db,
      today,
      figure: `${rss.toFixed(0)} MiB${children.length > 0 ? ` (${children.length} child processes)` : ''}`,
      target: `< ${targetMiB} MiB, no launcher`,
      ok: rss < targetMiB && children.length === 0,
      errors: 0,
    })
  } finally {
    await server.stop()
  }
}

export async function run(): Promise<void> {
  // Both at once: RSS does not depend on the other's CPU, and start-up is most of the time.
  const postgres = (async () => {
    if (await postgresReachable(postgresUrl)) await idle('PostgreSQL', 150, '223 MiB + ~117 MiB launchers')
    else console.log('idle server (PostgreSQL): skipped, nothing answers')
  })()
  await Promise.all([idle('PGlite', 300, '521 MiB + ~117 MiB launchers'), postgres])
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
