// `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) in turn, then
// prints one table of every line of issue 13's table the benches measured (figure, target, ok or
// falls short). Exits 1 when a bench failed or reported errors (failed requests, lost commands),
// not when a figure falls short: `BENCH_QUICK=1 npm run bench` is a CI step that checks the
// benchmarks run, not how fast this machine is.
import { readdirSync } from 'node:fs'
import { errorCount, failed, summary } from './lib/report.ts'
import { load } from './lib/server.ts'

const dir = new URL('./', import.meta.url)
const wanted = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort()

const began = performance.now()
console.log(`bench: ${files.length} files, ${process.env.BENCH_QUICK === '1' ? 'quick (BENCH_QUICK=1)' : 'full'}, ${new Date().toISOString()}, load average ${load()}`)
if (files.length === 0) console.log('no benchmarks found')
for (const file of files) {
  const t0 = performance.now()
  console.log(`\n## ${file}`)
  try {
    const mod = (await import(new URL(file, dir).href)) as { run?: () => Promise<void> }
    if (typeof mod.run !== 'function') throw new Error(`${file} does not export run()`)
    await mod.run()
  } catch (err) {
    console.error(err)
    failed(file, err)
  }
  console.log(`(${file}: ${((performance.now() - t0) / 1000).toFixed(0)} s, load average ${load()})`)
}
console.log(summary())
console.log(`(all: ${((performance.now() - began) / 1000).toFixed(0)} s)`)
process.exit(errorCount() > 0 ? 1 : 0)
