import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * Two full garbage collections once the server is up, so that an idle server holds only what it
 * uses. Start-up leaves 40–50 MiB of dead objects behind (measured: heapUsed 79–85 MiB before,
 * 34–35 MiB after), most of them promoted to the old generation, whose pages V8 gives back only
 * after full, compacting collections — on an idle server, much later (its memory reducer). One
 * collection frees the objects; the second compacts and releases the pages (old space 83 → 40
 * MiB, RSS −40 to −50 MiB on PGlite). A pause of tens of milliseconds, before any client is served.
 *
 * `gc` is exposed for this call only (in a new context: the flag takes effect at context creation)
 * and hidden again; the server is not started with --expose-gc.
 */
export function collectStartupGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc ?? exposedGc()
  gc()
  gc()
}

/** How far the heap may grow past what a full collection left live before the next one: 2×. */
export const HEAP_GROWING_PERCENT = 100

/**
 * The heap may grow to twice what its last full collection kept before the next one starts
 * (V8's `--heap-growing-percent`; read at each collection, so it takes effect when set at run
 * time). V8's own choice here is about 1.1× on a busy machine, and the server's requests hold
 * large buffers outside the heap (a 1 MiB upload's network reads and COPY frames) that V8 counts
 * toward the same limit: a full collection every five or six uploads, its concurrent marking
 * costing as much CPU as the uploads themselves (1 MiB upload: 13 → 8 ms of server CPU). Idle,
 * nothing changes: the limit reserves no memory. A `--heap-growing-percent` given to node wins
 * (then this answers false).
 */
export function growHeapInSteps(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return false
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  return true
}

function exposedGc(): () => void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  setFlagsFromString('--no-expose-gc')
  return gc
}
