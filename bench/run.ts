// `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) in turn.
// Benchmarks print their figures; they are measurements, not pass/fail tests.
import { readdirSync } from 'node:fs'

const dir = new URL('./', import.meta.url)
const wanted = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort()

if (files.length === 0) console.log('no benchmarks found')
for (const file of files) {
  console.log(`\n## ${file}`)
  const mod = (await import(new URL(file, dir).href)) as { run?: () => Promise<void> }
  if (typeof mod.run !== 'function') throw new Error(`${file} does not export run()`)
  await mod.run()
}
