import t from 'tap'
import type { TestApp } from '../helpers/app.ts'
import { joinAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'

/**
 * A held poll costs what it holds, and is let go as soon as nobody waits for it: when its agent
 * hangs up (its subscription to the session's changes ends then, not at the end of the hold), and
 * when the server closes (answered at once, not after the hold). The hold ends early through a
 * plain HoldStop, no AbortController per poll (docs/notes/issue-13-idle-4.md).
 */
const LONG = 30

/** Counts the session subscriptions the app's held polls have open. */
function countSubscriptions(h: TestApp) {
  const notifier = h.app.notifier
  const subscribe = notifier.subscribe.bind(notifier)
  const open = { n: 0 }
  notifier.subscribe = (sessionId, listener) => {
    open.n++
    const unsubscribe = subscribe(sessionId, listener)
    let done = false
    return () => {
      if (!done) open.n--
      done = true
      unsubscribe()
    }
  }
  return open
}

async function until(what: string, check: () => boolean, ms = 3000) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function heldPoll(h: TestApp) {
  const csr = await h.createUser('csr', { name: 'Carla CSR' })
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Held' } })
  const agent = await joinAgent(h, s!.number)
  const { data: first } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
  const hangUp = new AbortController()
  const answer = fetch(`${address}/api/v1/agent/poll?cursor=${first!.cursor}&wait=${LONG}`, {
    headers: { authorization: `Bearer ${agent.token}` },
    signal: hangUp.signal,
  })
  return { answer, hangUp }
}

t.test('an agent that hangs up lets its held poll go at once', async (t) => {
  const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: LONG })
  const open = countSubscriptions(h)
  const { answer, hangUp } = await heldPoll(h)
  await until('the poll is held', () => open.n === 1)
  const hungUp = Date.now()
  hangUp.abort()
  await t.rejects(answer, 'the agent gave up')
  await until('the held poll lets its subscription go', () => open.n === 0)
  t.ok(Date.now() - hungUp < 3000, `released ${Date.now() - hungUp} ms after the hang-up, not at the end of the ${LONG} s hold`)
})

t.test('a server that closes answers its held polls at once', async (t) => {
  const h = await setupApp(t, { AGENT_POLL_WAIT_SECONDS: LONG })
  const open = countSubscriptions(h)
  const { answer } = await heldPoll(h)
  await until('the poll is held', () => open.n === 1)
  const closing = Date.now()
  await h.app.close()
  const res = await answer
  t.equal(res.status, 200, 'answered, not cut')
  t.equal(res.headers.get('connection'), 'close')
  t.equal(open.n, 0)
  t.ok(Date.now() - closing < 5000, `closed and answered in ${Date.now() - closing} ms, not after the ${LONG} s hold`)
})
