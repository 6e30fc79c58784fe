import { buildApp } from '../api/src/app.ts'
import { loadConfig } from '../api/src/config.ts'
import { openDatabase } from '../api/src/db/client.ts'
import { fmt, summarize } from './stats.ts'

/** The cost of authenticating a request: GET /api/v1/me with a console token, in-process. */
export async function run(): Promise<void> {
  const database = await openDatabase({ dataDir: 'memory://' })
  const app = await buildApp({ config: loadConfig({}, { CONSOLE_DIR: '/nonexistent' }), database, logger: false })
  await app.services.accounts.ensureFirstAdmin('bench@example.com', 'bench-password-1', () => '')
  const { token } = await app.services.auth.login('bench@example.com', 'bench-password-1', '127.0.0.1')
  const samples: number[] = []
  const n = process.env.BENCH_QUICK === '1' ? 300 : 2000
  for (let i = 0; i < n; i++) {
    const start = performance.now()
    const res = await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })
    samples.push(performance.now() - start)
    if (res.statusCode !== 200) throw new Error(`unexpected ${res.statusCode}`)
  }
  const s = summarize(samples.slice(n / 10))
  console.log(`authenticated GET /api/v1/me (PGlite, in-process): n=${s.n} p50=${fmt(s.p50)} p99=${fmt(s.p99)}`)
  await app.close()
  await database.close()
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
