// `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) in turn, then
// prints one table of every line of issue 13's table the benches measured (figure, target, ok or
// falls short). Exits 1 when a bench failed or reported errors (failed requests, lost commands),
// not when a figure falls short: `BENCH_QUICK=1 npm run bench` is a CI step that checks the
// benchmarks run, not how fast this machine is.
import { AsyncLocalStorage } from 'node:async_hooks'
import { readdirSync } from 'node:fs'
import { format } from 'node:util'
import { errorCount, failed, summary } from './lib/report.ts'
import { aborted, onAbort } from './lib/scratch.ts'
import { load } from './lib/server.ts'

const dir = new URL('./', import.meta.url)
const wanted = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort()

const QUICK = process.env.BENCH_QUICK === '1'
/**
 * BENCH_QUICK=1 runs the benches in two lines at the same time (their figures mean little then;
 * what counts is that they run without errors): those that start their own server processes
 * and mostly wait on them, and those that build the app in this process. runs.bench.ts starts
 * its own servers too but runs in the second line, which keeps the two closer in length (at load
 * 20 the first took 258 s, the second 219 s without it, runs 102 s). Each bench's output is held
 * back and printed when it ends. BENCH_SERIAL=1: one after another.
 */
const parallel = QUICK && process.env.BENCH_SERIAL !== '1'
const output = new AsyncLocalStorage<string[]>()
const held = new Set<string[]>()
if (parallel) {
  // On ctrl-C, what the running benches printed so far (registered first: runs last).
  onAbort(() => {
    for (const buffer of held) process.stdout.write(`${buffer.join('\n')}\n`)
  })
  for (const method of ['log', 'error'] as const) {
    const original = console[method].bind(console)
    console[method] = (...args: unknown[]) => {
      const buffer = output.getStore()
      if (buffer) buffer.push(format(...args))
      else original(...args)
    }
  }
}

async function one(file: string) {
  if (aborted()) return
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

const began = performance.now()
console.log(`bench: ${files.length} files, ${QUICK ? 'quick (BENCH_QUICK=1), all at once' : 'full, one after another'}, ${new Date().toISOString()}, load average ${load()}`)
if (files.length === 0) console.log('no benchmarks found')
if (parallel) {
  const outOfProcess = new Set(['fleet.bench.ts', 'idle.bench.ts', 'poll.bench.ts'])
  const chain = async (list: string[]) => {
    for (const file of list) {
      const buffer: string[] = []
      held.add(buffer)
      await output.run(buffer, () => one(file))
      held.delete(buffer)
      console.log(buffer.join('\n'))
    }
  }
  await Promise.all([chain(files.filter((f) => outOfProcess.has(f))), chain(files.filter((f) => !outOfProcess.has(f)))])
} else {
  for (const file of files) await one(file)
}
console.log(summary())
console.log(`(all: ${((performance.now() - began) / 1000).toFixed(0)} s)`)
process.exit(errorCount() > 0 ? 1 : 0)
