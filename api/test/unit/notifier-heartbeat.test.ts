import t from 'tap'
import type postgres from 'postgres'
import { createPostgresNotifier } from '../../src/lib/notifier.ts'

/**
 * A LISTEN connection that stops hearing without saying so (half-open TCP, a stalled proxy): the
 * notifier's heartbeat finds it, wakes every subscriber once and keeps telling the watchers that
 * anything may have changed (agent tokens and quiet sessions are not trusted) until it hears again.
 */
function fakeDatabase() {
  const state = { deaf: false, deliver: (_: string) => {}, relisten: () => {} }
  const sql = {
    listen: async (_channel: string, onNotify: (payload: string) => void, onListen: () => void) => {
      state.deliver = onNotify
      state.relisten = onListen
      onListen()
      return { unlisten: async () => {} }
    },
    notify: async (_channel: string, payload: string) => {
      if (!state.deaf) queueMicrotask(() => state.deliver(payload))
    },
  }
  // Only listen and notify are used by the notifier: a stand-in for the two, not a whole driver.
  return { state, sql: sql as unknown as postgres.Sql }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('a deaf LISTEN connection: subscribers woken once, watchers told at every heartbeat until it hears again', async (t) => {
  const { state, sql } = fakeDatabase()
  let deafLogged = 0
  const notifier = await createPostgresNotifier(sql, () => {}, undefined, { everyMs: 20, deafAfterMs: 100 }, () => deafLogged++)
  t.teardown(() => notifier.close())
  const told: (string | null)[] = []
  notifier.watch((topic) => told.push(topic))
  let woken = 0
  notifier.subscribe('session-1', () => woken++)

  await sleep(300)
  t.same(told, [], 'hearing its heartbeat: nothing to forget, nobody woken, heartbeats not passed on')
  t.equal(woken, 0)

  state.deaf = true
  const since = Date.now()
  while (!told.includes(null) && Date.now() - since < 3000) await sleep(10)
  t.ok(told.includes(null), `memory dropped ${Date.now() - since} ms after the connection went deaf`)
  t.equal(woken, 1, 'every subscriber woken to re-read')
  t.equal(deafLogged, 1)
  const count = told.length
  await sleep(200)
  t.ok(told.length > count, 'told again while still deaf (nothing remembered meanwhile is trusted)')
  t.equal(woken, 1, 'but not woken again and again')

  state.deaf = false
  await sleep(100)
  const after = told.length
  await sleep(200)
  t.equal(told.length, after, 'hearing again: memory is trusted again')
  notifier.publish('session-1')
  await sleep(20)
  t.equal(woken, 2, 'and announcements arrive')
})

t.test('a re-listen drops memory and wakes every subscriber', async (t) => {
  const { state, sql } = fakeDatabase()
  const notifier = await createPostgresNotifier(sql, () => {}, undefined, { everyMs: 1000, deafAfterMs: 5000 })
  t.teardown(() => notifier.close())
  const told: (string | null)[] = []
  notifier.watch((topic) => told.push(topic))
  let woken = 0
  notifier.subscribe('session-1', () => woken++)
  state.relisten()
  t.equal(told[0], null, 'watchers told that anything may have changed')
  t.equal(woken, 1)
})
