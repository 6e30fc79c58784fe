import t from 'tap'
import { createLocalNotifier, type SessionChange } from '../../src/lib/notifier.ts'

/**
 * A wake-up may say what the change was (its numbers, whether the agent sees it). The committing
 * instance hands it to its own listeners directly (with what only it knows) and skips its echo;
 * an announcement from elsewhere carries the same facts in a few bytes; anything it cannot read
 * is a plain "this session changed" (a read), and other topics pass as before.
 */
const session = '5b0c8f8e-8d1a-4c7e-9d52-3f3f0c1f9a11'
const tick = () => new Promise((r) => setTimeout(r, 0))

t.test('deliver: watchers at once with the change, subscribers right after, the echo skipped', async (t) => {
  const n = createLocalNotifier()
  const watched: [string | null, SessionChange | undefined][] = []
  const woken: (SessionChange | undefined)[] = []
  n.watch((topic, change) => watched.push([topic, change]))
  n.subscribe(session, (change) => woken.push(change))
  const change: SessionChange = { from: 11, to: 12, agentSees: false, offer: { any: 'thing' } }
  const topic = n.changeTopic(session, change)
  t.ok(Buffer.byteLength(topic) < 100, `small: ${topic}`)
  t.notOk(topic.includes('thing'), 'what only this instance knows is not announced')
  n.deliver(session, change)
  t.same(watched, [[session, change]], 'watchers synchronously (memory moves before anyone re-reads)')
  t.same(woken, [], 'subscribers not inside the caller’s stack')
  await tick()
  t.same(woken, [change], 'subscribers with the change (offer included)')
  n.publish(topic)
  await tick()
  t.equal(watched.length, 1, 'the echo of a delivered change is not heard twice')
  t.equal(woken.length, 1)
})

t.test('announcements: another instance’s change carries its facts; anything else is a plain topic', async (t) => {
  const n = createLocalNotifier()
  const watched: [string | null, SessionChange | undefined][] = []
  const woken: (SessionChange | undefined)[] = []
  n.watch((topic, change) => watched.push([topic, change]))
  n.subscribe(session, (change) => woken.push(change))
  n.publish(`${session} 7 9 c otherInstance`)
  n.publish(`${session} 10 10 a otherInstance`)
  n.publish(session)
  n.publish(`${session} 9 3 c otherInstance`) // a range backwards: not trusted
  n.publish('credentials:6a6b')
  await tick()
  t.same(woken, [{ from: 7, to: 9, agentSees: false }, { from: 10, to: 10, agentSees: true }, undefined, undefined])
  t.same(
    watched.map(([topic]) => topic),
    [session, session, session, session, 'credentials:6a6b'],
  )
  t.equal(watched[4]![1], undefined, 'the credentials topic is untouched')
})
