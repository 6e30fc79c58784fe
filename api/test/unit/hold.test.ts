import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { CoarseTimers } from '../../src/lib/coarse-timers.ts'
import { requestId } from '../../src/lib/crypto.ts'
import type { Keyring } from '../../src/lib/keyring.ts'
import { createLocalNotifier, type Notifier } from '../../src/lib/notifier.ts'
import type { Db } from '../../src/db/client.ts'
import { HoldStop, SessionFeed } from '../../src/services/feed.ts'

/**
 * A held poll is one small object (docs/notes/issue-13-idle-5.md): its deadline in shared coarse
 * buckets, its reads plain calls, its id a flat string. What an agent would notice if that went
 * wrong: a hold answering after its wait (a proxy or the agent gives up first), an answer without
 * a body when the agent hangs up mid-read, a change missed because it came during a read, a
 * subscription or a stop left behind (the fleet's memory grows), a lost wake-up.
 */
const session = '5b0c8f8e-8d1a-4c7e-9d52-3f3f0c1f9a11'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A feed with only what `hold` uses (its notifier), and a count of the subscriptions open. */
function feedWithCount() {
  const notifier: Notifier = createLocalNotifier()
  const subscribe = notifier.subscribe.bind(notifier)
  const open = { n: 0 }
  notifier.subscribe = (sessionId, listener) => {
    open.n++
    const unsubscribe = subscribe(sessionId, listener)
    return () => {
      open.n--
      unsubscribe()
    }
  }
  return { feed: new SessionFeed({} as Db, notifier, {} as Keyring), notifier, open }
}

class CountedStop extends HoldStop {
  endings = 0
  override ended() {
    this.endings++
  }
}

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

t.test('coarse timers: never early, less than two ticks late; a deleted item does not expire; no timer left when empty', async (t) => {
  const timers = new CoarseTimers<{ expire(): void; at: number; expired?: number }>(50)
  const before = timeouts()
  const items = [120, 300, 310, 500].map((ms) => ({ at: Date.now() + ms, expired: undefined as number | undefined, expire() {
    this.expired = Date.now()
  } }))
  const ticks = items.map((item) => timers.add(item, item.at))
  timers.delete(items[1]!, ticks[1]!)
  t.equal(timers.size, 3)
  await sleep(650)
  for (const [i, item] of items.entries()) {
    if (i === 1) {
      t.equal(item.expired, undefined, 'deleted: never expires')
      continue
    }
    t.ok(item.expired !== undefined, `item ${i} expired`)
    const late = item.expired! - item.at
    // Never early; less than two ticks late, beyond the event loop's own delay (generous on a loaded machine).
    t.ok(late >= 0 && late < 100 + 60, `item ${i} expired ${late} ms after its deadline`)
  }
  t.equal(timers.size, 0)
  t.equal(timeouts(), before, 'the sweeping interval stopped with nothing left to sweep')
})

t.test('coarse timers: an item added again while it expires lands in a later sweep', async (t) => {
  const timers = new CoarseTimers<{ expire(): void }>(20)
  let expired = 0
  const item = {
    expire() {
      expired++
      if (expired < 3) timers.add(item, Date.now() + 60)
    },
  }
  timers.add(item, Date.now() + 60)
  await sleep(400)
  t.equal(expired, 3)
  t.equal(timers.size, 0)
})

t.test('a hold answers at the end of its wait, never before, with the last read', async (t) => {
  const { feed, open } = feedWithCount()
  const stop = new CountedStop()
  const started = Date.now()
  let reads = 0
  const found = await feed.hold(session, 700, stop, () => ({ reads: ++reads }), () => true)
  const took = Date.now() - started
  t.same(found, { reads: 1 }, 'one read (from memory, synchronous), answered at the end')
  t.ok(took >= 700 && took < 700 + 2 * 100 + 60, `answered after ${took} ms (wait 700 ms)`)
  t.equal(open.n, 0, 'its subscription is gone')
  t.equal(stop.endings, 1, 'its stop was told once')
})

t.test('a change wakes the hold: it reads again and answers what it found', async (t) => {
  const { feed, notifier, open } = feedWithCount()
  let news = false
  const held = feed.hold(session, 10_000, undefined, async () => (news ? 'news' : 'nothing'), (found) => found === 'nothing')
  await sleep(30)
  news = true
  notifier.deliver(session, undefined)
  const started = Date.now()
  t.equal(await held, 'news')
  t.ok(Date.now() - started < 1000, 'at once, not at the end of the hold')
  t.equal(open.n, 0)
})

t.test('a change during a read: read again before waiting (the change is not missed)', async (t) => {
  const { feed, notifier } = feedWithCount()
  let reads = 0
  let release: () => void = () => undefined
  const held = feed.hold(
    session,
    10_000,
    undefined,
    () => {
      reads++
      // The first read is slow, and the change commits while it runs; the read saw the old state.
      if (reads === 1) return new Promise<string>((resolve) => (release = () => resolve('nothing')))
      return 'news'
    },
    (found) => found === 'nothing',
  )
  await sleep(10)
  notifier.deliver(session, undefined)
  await sleep(10)
  release()
  t.equal(await held, 'news', 'the second read found it')
  t.equal(reads, 2)
})

t.test('stopped during its first read: the hold answers that read, not nothing', async (t) => {
  const { feed, open } = feedWithCount()
  const stop = new CountedStop()
  let release: () => void = () => undefined
  const held = feed.hold(session, 10_000, stop, () => new Promise<string>((resolve) => (release = () => resolve('nothing yet'))), () => true)
  await sleep(10)
  stop.stop()
  release()
  t.equal(await held, 'nothing yet')
  t.equal(open.n, 0)
  t.equal(stop.endings, 1)
})

t.test('stopped while waiting: answers at once; stopping again does nothing', async (t) => {
  const { feed, open } = feedWithCount()
  const stop = new CountedStop()
  const held = feed.hold(session, 10_000, stop, () => 'nothing', () => true)
  await sleep(20)
  const started = Date.now()
  stop.stop()
  stop.stop()
  t.equal(await held, 'nothing')
  t.ok(Date.now() - started < 100, 'at once')
  t.equal(open.n, 0)
  t.equal(stop.endings, 1)
})

t.test('a read that fails ends the hold with its error and lets everything go', async (t) => {
  const { feed, open } = feedWithCount()
  const stop = new CountedStop()
  await t.rejects(feed.hold(session, 10_000, stop, async () => Promise.reject(new Error('database away')), () => true), /database away/)
  await t.rejects(
    feed.hold(session, 10_000, stop, () => {
      throw new Error('thrown')
    }, () => true),
    /thrown/,
  )
  t.equal(open.n, 0)
  t.equal(stop.endings, 2)
})

t.test('a session’s listeners: one alone or several, each unsubscribed once', async (t) => {
  const n = createLocalNotifier()
  const woken: string[] = []
  const a = () => void woken.push('a')
  const b = () => void woken.push('b')
  const offA = n.subscribe(session, a)
  const offB = n.subscribe(session, b)
  n.deliver(session, undefined)
  await sleep(0)
  t.same(woken.sort(), ['a', 'b'])
  offA()
  n.deliver(session, undefined)
  await sleep(0)
  t.same(woken.slice(2), ['b'], 'the other stays')
  offB()
  const again = n.subscribe(session, b)
  offB() // a second call of an old unsubscribe
  n.deliver(session, undefined)
  await sleep(0)
  t.same(woken.slice(3), ['b'], 'does not end a later subscription of the same listener')
  again()
  n.deliver(session, undefined)
  await sleep(0)
  t.equal(woken.length, 4, 'nobody left')
})

t.test('request ids: random UUIDs kept as flat strings (a held poll keeps its id for the whole hold)', async (t) => {
  const ids = Array.from({ length: 1000 }, requestId)
  t.ok(ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)), 'UUID v4, lower case')
  t.equal(new Set(ids).size, ids.length, 'unique')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const count = 20_000
  gc()
  const before = process.memoryUsage().heapUsed
  const kept = Array.from({ length: count }, requestId)
  gc()
  const perId = (process.memoryUsage().heapUsed - before - 8 * count) / count
  t.ok(perId < 200, `${perId.toFixed(0)} bytes kept per id (a rope of pieces: about 490)`)
  t.equal(kept.length, count)
})
