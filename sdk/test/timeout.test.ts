import t from 'tap'
import { createServer, type ServerResponse } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { timeoutSignal } from '@helpline/sdk'

/**
 * A request to a peer that never answers is timed out even when garbage collections run while it
 * waits: `AbortSignal.any([AbortSignal.timeout(ms), …])` is not, on Node 20 (its timeout signal
 * is held only weakly, and a collection takes it); the webhook worker and the agent's poll hung.
 */
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const held: ServerResponse[] = []
const server = createServer((_req, res) => void held.push(res)).listen(0, '127.0.0.1')
await new Promise((resolve) => server.once('listening', resolve))
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
t.teardown(() => {
  for (const res of held) res.destroy()
  server.close()
})

/** How the request to the silent peer ended, collecting garbage every 10 ms meanwhile. */
async function ending(signal: AbortSignal): Promise<{ name: string; ms: number } | 'still waiting after 3 s'> {
  const started = Date.now()
  const collecting = setInterval(gc, 10)
  try {
    return await Promise.race([
      fetch(url, { method: 'POST', body: 'x', signal }).then(
        () => ({ name: 'answered', ms: Date.now() - started }),
        (err: Error) => ({ name: err.name, ms: Date.now() - started }),
      ),
      new Promise<'still waiting after 3 s'>((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000)),
    ])
  } finally {
    clearInterval(collecting)
  }
}

t.test('times out a request that gets no answer, with collections meanwhile', async (t) => {
  const stop = new AbortController()
  const end = await ending(timeoutSignal(300, stop.signal).signal)
  t.match(end, { name: 'TimeoutError' }, 'a TimeoutError')
  t.ok(typeof end === 'object' && end.ms >= 290 && end.ms < 2000, `after about 300 ms (${typeof end === 'object' ? end.ms : end})`)
})

t.test('the other signals still abort it at once; clear stops the timer', async (t) => {
  const stop = new AbortController()
  const { signal, clear } = timeoutSignal(60_000, stop.signal, undefined)
  setTimeout(() => stop.abort(), 50)
  const end = await ending(signal)
  clear()
  t.match(end, { name: 'AbortError' }, 'aborted by its caller, not timed out')
  const cleared = timeoutSignal(100)
  cleared.clear()
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(cleared.signal.aborted, false, 'a cleared timer aborts nothing')
})

t.test('a timeout that cannot be set is refused, not fired at once', async (t) => {
  for (const ms of [Number.NaN, -1, 2 ** 31, Number.POSITIVE_INFINITY]) t.throws(() => timeoutSignal(ms), RangeError, `${ms}`)
})
