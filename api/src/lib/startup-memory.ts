import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * One full, compacting garbage collection once the server is up, so that an idle server holds
 * only what it uses. Start-up leaves 40–50 MiB of dead objects behind (the route schemas'
 * validators and serialisers being compiled, the OpenAPI document, migrations' files), most of
 * them promoted to the old generation, which V8 shrinks only when it next collects it fully —
 * on an idle server, many seconds or minutes later. Costs one pause of ~50–100 ms, before any
 * client is served.
 *
 * `gc` is exposed for the one call (in a new context: the flag takes effect at context creation)
 * and hidden again; the server is not started with --expose-gc.
 */
export function collectStartupGarbage(): void {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed) return exposed()
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  setFlagsFromString('--no-expose-gc')
  gc()
  gc()
}
