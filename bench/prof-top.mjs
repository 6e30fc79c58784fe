// Summarises a .cpuprofile: self time by package (or our own file) and the top functions.
//   node bench/prof-top.mjs /tmp/prof/CPU.*.cpuprofile
//   PROF_LAST_SECONDS=8 node bench/prof-top.mjs …   only the samples of the profile's last 8 s
//   PROF_FROM=µs PROF_TO=µs node bench/prof-top.mjs …  only those between two instants of the
//   profile's clock (fleet.bench prints its timed dispatches' with BENCH_PROFILE_DIR)
import { readFileSync } from 'node:fs'

const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const self = new Map()
const dt = prof.timeDeltas
const last = Number(process.env.PROF_LAST_SECONDS ?? 0) * 1e6
const from = last > 0 ? prof.endTime - last : Number(process.env.PROF_FROM ?? -Infinity)
const to = Number(process.env.PROF_TO ?? Infinity)
let at = prof.startTime
for (let i = 0; i < prof.samples.length; i++) {
  at += dt[i] ?? 0
  if (at >= from && at <= to) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0))
}
const byNode = new Map(prof.nodes.map((n) => [n.id, n]))
const where = (url) => {
  if (!url) return '(native / gc / idle)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]
  if (url.startsWith('node:')) return 'node internals'
  const own = /\/(api|bench|sdk)\/(src|dist)?\/?(.*)$/.exec(url)
  return own ? `ours: ${own[1]}/${own[3]}` : url
}
const pkg = new Map()
const fns = new Map()
let total = 0
for (const [id, us] of self) {
  const n = byNode.get(id)
  const name = n.callFrame.functionName || '(anonymous)'
  if (name === '(idle)' || name === '(program)') continue
  total += us
  const w = name === '(garbage collector)' ? 'garbage collection' : where(n.callFrame.url)
  pkg.set(w, (pkg.get(w) ?? 0) + us)
  const key = `${name} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
  fns.set(key, (fns.get(key) ?? 0) + us)
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`
console.log(`busy ${(total / 1e6).toFixed(1)} s`)
for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`${pct(v)}  ${k}`)
console.log('--- top functions (self)')
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`${pct(v)}  ${k}`)
