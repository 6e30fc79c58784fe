import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import { Sweeper, sweepEvery } from '../../src/services/sweeper.ts'

const quiet = { debug() {}, info() {}, warn() {} } as unknown as FastifyBaseLogger

// An idle fleet's server ran every task's query every second; a task with a long deadline now runs
// at a twentieth of it, one without `everyMs` (credentials) still on every sweep.
t.test('a task with everyMs runs at most that often; one without, on every sweep', async (t) => {
  const ran = { often: 0, seldom: 0 }
  const sweeper = new Sweeper(
    [
      { name: 'often', run: async () => ++ran.often },
      { name: 'seldom', run: async () => ++ran.seldom, everyMs: 5_000 },
    ],
    1000,
    quiet,
  )
  for (let s = 0; s <= 10; s++) await sweeper.sweep(1_000_000 + s * 1000)
  t.equal(ran.often, 11, 'every sweep')
  t.equal(ran.seldom, 3, 'at 0, 5 and 10 s')
})

t.test('a failed run is tried again on the next sweep, not after everyMs', async (t) => {
  let calls = 0
  const sweeper = new Sweeper([{ name: 'flaky', everyMs: 60_000, run: async () => (++calls === 1 ? Promise.reject(new Error('boom')) : 0) }], 1000, quiet)
  await sweeper.sweep(0)
  await sweeper.sweep(1000)
  await sweeper.sweep(2000)
  t.equal(calls, 2, 'failed at 0, ran at 1 s, then waits its minute')
})

t.test('sweepEvery: a twentieth of the deadline, at most a minute', async (t) => {
  t.equal(sweepEvery(105_000), 5_250, 'offline after 105 s: checked every 5.25 s')
  t.equal(sweepEvery(1000), 50, 'a test’s 1 s deadline: every sweep of 100 ms')
  t.equal(sweepEvery(24 * 3_600_000), 60_000)
})
