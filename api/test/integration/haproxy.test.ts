import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { testPlatform, testPublicKey } from '../helpers/agent.ts'
import { balancedAdmin, balancerScratch, freePort, instancesBehindBalancer } from '../helpers/built-server.ts'
import { testDatabaseUrl } from '../helpers/db.ts'
import { agentPoller, haproxyFromDoc } from '../helpers/deployment-doc.ts'
import { openStream, type SseStream } from '../helpers/sse.ts'

/**
 * The deployment docs/deployment.md describes, end to end: three built server processes on one
 * PostgreSQL behind HAProxy (Debian's package, run by the test with the configuration read from
 * docs/deployment.md, on loopback ports: api/test/helpers/deployment-doc.ts), 200 simulated agents polling through the balancer, commands queued through it; then
 * one instance is SIGKILLed and another SIGTERMed while commands are on their way. Every command
 * reaches its agent exactly once, every agent is polling again within 60 s, and the console's
 * live streams (reconnecting with Last-Event-ID as a browser does) see what happened after; a
 * poll held for the whole default hold is answered through the balancer, not cut.
 */
const haproxy = ['haproxy', '/usr/sbin/haproxy'].find((bin) => spawnSync(bin, ['-v']).status === 0)
const skip = !testDatabaseUrl
  ? 'needs PostgreSQL: set TEST_DATABASE_URL (several instances share one database)'
  : !haproxy
    ? 'haproxy is not installed (Debian: apt-get install -y haproxy)'
    : false

const AGENTS = Number(process.env.HAPROXY_TEST_AGENTS ?? 200)
const POLL_WAIT_SECONDS = 5
/** The instances' own hold (they leave AGENT_POLL_WAIT_SECONDS at its default): one poll is held this long through HAProxy. */
const DEFAULT_POLL_WAIT_SECONDS = loadConfig({}).AGENT_POLL_WAIT_SECONDS
/** How long a wave of commands may take to reach every agent: seconds on a quiet machine, far more on a loaded one. */
const WAVE_MS = 120_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Stats {
  /** Command id → times the agent received it (deduplicated by id it runs once). */
  received: Map<string, number>
  /** Command ids the agent ran (reported finished), in order. */
  ran: string[]
  /** When the first poll answered after `since` (the kill): the agent is attached again. */
  reattachedAt?: number
  failures: number
}

/**
 * One simulated agent: the protocol's loop over plain HTTP through the balancer. It approves
 * every consent, runs (reports) each command once, deduplicating by id as the real agent does,
 * and on any failure (reset connection, 502/503) polls again shortly.
 */
class SimAgent {
  readonly stats: Stats = { received: new Map(), ran: [], failures: 0 }
  /** Set at the kill; the next answered poll marks the re-attachment. */
  since: number | undefined
  private cursor = 0
  private stopped = false
  private readonly answered = new Set<string>()
  loop: Promise<void> = Promise.resolve()

  constructor(
    private readonly base: string,
    readonly token: string,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      // As the real agent does: a call that never answers (a connection to a killed instance) is given up and retried.
      signal: AbortSignal.timeout(POLL_WAIT_SECONDS * 1000 + 10_000),
    })
    if (res.status >= 500) throw new Error(`${method} ${path}: ${res.status}`)
    return res
  }

  /** Retries a report until an instance takes it; reports are idempotent (command id + sequence). */
  private async finish(id: string) {
    for (;;) {
      try {
        const res = await this.call('POST', `/agent/commands/${id}/reports`, { sequence: 0, status: 'failed', message: 'simulated agent' })
        await res.arrayBuffer()
        return
      } catch {
        await sleep(200)
      }
    }
  }

  start() {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const res = await this.call('GET', `/agent/poll?cursor=${this.cursor}&wait=${POLL_WAIT_SECONDS}`)
          const feed = (await res.json()) as { cursor: number; consents: { id: string; status: string }[]; commands: { id: string }[] }
          if (this.since !== undefined && this.stats.reattachedAt === undefined) this.stats.reattachedAt = Date.now()
          for (const consent of feed.consents) {
            if (consent.status !== 'pending' || this.answered.has(consent.id)) continue
            await (await this.call('POST', `/agent/consents/${consent.id}/answer`, { approved: true })).arrayBuffer()
            // Only once an instance took the answer: a failed one is answered again from the next poll.
            this.answered.add(consent.id)
          }
          for (const command of feed.commands) {
            const seen = this.stats.received.get(command.id) ?? 0
            this.stats.received.set(command.id, seen + 1)
            if (seen > 0) continue // handed out again (an answer was lost): already run
            this.stats.ran.push(command.id)
            await this.finish(command.id)
          }
          this.cursor = feed.cursor
        } catch {
          this.stats.failures += 1
          await sleep(250)
        }
      }
    })()
  }

  async stop() {
    this.stopped = true
    await this.loop
  }
}

t.test('three instances behind HAProxy, one killed and one stopped while 200 agents work', { skip }, async (t) => {
  const { db, dir } = await balancerScratch(t, 'haproxy')

  const instances = await instancesBehindBalancer(3, db.url!, dir, {
    JOIN_MAX_ATTEMPTS_PER_IP: '100000',
    JOIN_MAX_ATTEMPTS_PER_NUMBER: '100000',
    LOGIN_MAX_ATTEMPTS_PER_IP: '100000',
    SHUTDOWN_TIMEOUT_SECONDS: '10',
  })
  t.teardown(() => instances.forEach((i) => i.child.kill('SIGKILL')))
  const addresses = await Promise.all(instances.map((i) => i.url))
  t.comment(`three instances up in ${Math.max(...(await Promise.all(instances.map((i) => i.startedIn))))} ms`)

  const port = await freePort()
  const config = join(dir, 'haproxy.cfg')
  writeFileSync(config, haproxyFromDoc(port, addresses))
  const balancer: ChildProcess = spawn(haproxy!, ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let balancerLog = ''
  balancer.stderr!.on('data', (chunk: Buffer) => (balancerLog += chunk.toString()))
  t.teardown(() => balancer.kill('SIGKILL'))
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false)
    if (ok) break
    await sleep(100)
  }

  const json = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).catch(() => undefined)
      if (res && res.status < 500) return { status: res.status, body: (await res.json()) as Record<string, unknown> }
      if (attempt > 20) throw new Error(`${method} ${path}: ${res?.status ?? 'no answer'} ${balancerLog}`)
      await sleep(250)
    }
  }
  const { body: login } = await json('POST', '/auth/login', undefined, balancedAdmin)
  const token = login.token as string

  // One agent with nothing to do holds a poll for the whole default hold through HAProxy while the
  // fleet is set up (no instance is stopped before it ends): the doc's timeouts must not cut it.
  const quiet = (await json('POST', '/sessions', token, { customerName: 'Quiet customer' })).body as { id: string; number: string }
  const quietJoin = await json('POST', '/agent/join', undefined, { number: quiet.number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey })
  const quietAgent = agentPoller(base, quietJoin.body.agentToken as string)
  const fullHold = quietAgent.poll(await quietAgent.caughtUp(0), DEFAULT_POLL_WAIT_SECONDS)

  // 200 sessions, 200 agents joined through the balancer, all polling.
  const sessions: { id: string; number: string }[] = []
  for (let i = 0; i < AGENTS; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, AGENTS - i) }, (_, k) => json('POST', '/sessions', token, { customerName: `Customer ${i + k}` })))
    sessions.push(...batch.map((r) => r.body as { id: string; number: string }))
  }
  const agents: SimAgent[] = []
  for (let i = 0; i < AGENTS; i += 20) {
    const joined = await Promise.all(
      sessions.slice(i, i + 20).map((s) => json('POST', '/agent/join', undefined, { number: s.number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey })),
    )
    for (const j of joined) {
      if (j.status !== 201) throw new Error(`join answered ${j.status}: ${JSON.stringify(j.body)}`)
      agents.push(new SimAgent(base, j.body.agentToken as string))
    }
  }
  agents.forEach((a) => a.start())
  t.teardown(() => Promise.all(agents.map((a) => a.stop())))

  /**
   * The command a refresh queued. A refresh whose answer was lost with its instance (502, reset)
   * is retried and then finds its own command already queued (409 ALREADY_QUEUED): the newest
   * command of the session is that one, exactly as a console would find it.
   */
  const queuedCommand = async (sessionId: string, answer: { status: number; body: Record<string, unknown> }) => {
    if (answer.status === 202) return (answer.body.command as { id: string }).id
    if (answer.status !== 409 || answer.body.code !== 'ALREADY_QUEUED') throw new Error(`refresh answered ${answer.status}: ${JSON.stringify(answer.body)}`)
    const { body } = await json('GET', `/sessions/${sessionId}/commands?sort=createdAt&order=desc&perPage=1`, token)
    return (body.data as { id: string }[])[0]!.id
  }
  /** Queues one system-information refresh per session (every session by default); the command ids in order. */
  const queueWave = async (targets = sessions) => {
    const ids: string[] = []
    for (let i = 0; i < targets.length; i += 25) {
      const answers = await Promise.all(targets.slice(i, i + 25).map((s) => json('POST', `/sessions/${s.id}/system-info/refresh`, token)))
      for (const [k, a] of answers.entries()) ids.push(await queuedCommand(targets[i + k]!.id, a))
    }
    return ids
  }
  const ranAll = async (ids: string[], withinMs: number) => {
    const deadline = Date.now() + withinMs
    for (;;) {
      const ran = new Set(agents.flatMap((a) => a.stats.ran))
      const missing = ids.filter((id) => !ran.has(id))
      if (missing.length === 0 || Date.now() > deadline) return missing
      await sleep(200)
    }
  }

  const first = await queueWave()
  t.same(await ranAll(first, WAVE_MS), [], 'the first wave: every command reached its agent')

  // Three console streams through the balancer: round robin spreads them over the instances.
  const watched = sessions.slice(0, 3)
  const streams = await Promise.all(watched.map((s) => followStream(`${base}/api/v1/sessions/${s.id}/stream`, token)))
  t.teardown(() => streams.forEach((s) => s.close()))
  await Promise.all(streams.map((s) => s.waitForEvents(1)))

  const held = await fullHold
  t.equal(held.status, 200, `a poll held for ${held.heldMs} ms is answered through HAProxy, not cut (timeout client / server)`)
  t.ok(held.heldMs >= (DEFAULT_POLL_WAIT_SECONDS - 1) * 1000, `it was held for the default ${DEFAULT_POLL_WAIT_SECONDS} s (nothing new to answer earlier)`)

  // Mid-way: the second wave is being queued and handed out while one instance dies and another stops.
  const second = queueWave()
  await sleep(300)
  const stoppedAt = Date.now()
  for (const a of agents) a.since = stoppedAt
  instances[0]!.child.kill('SIGKILL')
  instances[1]!.child.kill('SIGTERM')
  const exitedAt = instances[1]!.exited.then(() => Date.now())
  const secondIds = await second
  const code = await instances[1]!.exited
  t.equal(code, 0, 'the SIGTERMed instance exits cleanly (a forced exit at the timeout is 1)')
  if (code !== 0) t.comment(instances[1]!.output().slice(-3000))
  t.comment(`the SIGTERMed instance exited ${(await exitedAt) - stoppedAt} ms after the signal`)

  t.same(await ranAll(secondIds, WAVE_MS), [], 'the second wave: every command reached its agent')
  // After the kill, on the one instance left: a command for each watched session, for the streams to show.
  const third = await queueWave(watched)
  t.same(await ranAll(third, WAVE_MS), [], 'commands queued after the kill reach their agents too')

  const all = [...first, ...secondIds, ...third]
  const runs = new Map<string, number>()
  for (const id of agents.flatMap((a) => a.stats.ran)) runs.set(id, (runs.get(id) ?? 0) + 1)
  // What the server recorded is the truth to compare with: a refresh whose answer was lost with the
  // killed instance is retried like a console would, and when its first command had already run by
  // then, the retry rightly queues a second one that no wave lists. Every recorded command ran once.
  const recorded: string[] = []
  for (let i = 0; i < sessions.length; i += 25) {
    const lists = await Promise.all(sessions.slice(i, i + 25).map((s) => json('GET', `/sessions/${s.id}/commands?perPage=100`, token)))
    for (const l of lists) recorded.push(...(l.body.data as { id: string }[]).map((c) => c.id))
  }
  t.same(all.filter((id) => !recorded.includes(id)), [], `the ${all.length} commands queued in the waves are recorded`)
  t.same(recorded.filter((id) => !runs.has(id)), [], `all ${recorded.length} recorded commands ran (${recorded.length - all.length} queued again by a retried refresh)`)
  t.same([...runs.keys()].filter((id) => !recorded.includes(id)), [], 'nothing ran that was not recorded')
  t.same([...runs.values()].filter((n) => n !== 1), [], 'each exactly once')
  const redelivered = agents.reduce((n, a) => n + [...a.stats.received.values()].filter((c) => c > 1).length, 0)
  t.comment(`${redelivered} commands were handed out again after a lost answer (the agent deduplicated them)`)

  // An agent whose poll was held on the surviving instance answers only when its hold ends: wait for
  // every agent (up to the 60 s allowed) instead of looking at one moment.
  while (agents.some((a) => a.stats.reattachedAt === undefined) && Date.now() - stoppedAt < 60_000) await sleep(200)
  const reattached = agents.map((a) => (a.stats.reattachedAt ?? Infinity) - stoppedAt)
  t.same(reattached.filter((ms) => ms > 60_000), [], 'every agent polled again after the kill, within 60 s')
  t.comment(`slowest re-attachment ${Math.max(...reattached)} ms after the kill (includes a held poll's ${POLL_WAIT_SECONDS} s)`)

  // Each console stream sees the last wave's commands, whichever instance it was on.
  for (const [i, stream] of streams.entries()) {
    const seen = await stream.waitFor((e) => e.event === 'command' && e.data.id === third[i], 30_000)
    t.ok(seen, `console stream ${i} recovered (${stream.reconnects} reconnects) and shows the newest command`)
  }
})

interface FollowedEvent {
  id: number
  event: string
  data: Record<string, unknown>
}

/** A console's live stream as a browser's EventSource keeps it: reconnect after the end, with Last-Event-ID. */
async function followStream(url: string, token: string) {
  const events: FollowedEvent[] = []
  let closed = false
  let current: SseStream | undefined
  let reconnects = 0
  let lastId = 0
  const run = async () => {
    while (!closed) {
      try {
        current = await openStream(url, { authorization: `Bearer ${token}`, ...(lastId ? { 'last-event-id': String(lastId) } : {}) })
        if (current.status !== 200) throw new Error(`stream answered ${current.status}`)
        const done = current.ended.then(() => 'ended' as const)
        let here = 0 // events parsed on this connection
        for (;;) {
          // 'quiet': 5 s without data (heartbeats come every 15 s); keep listening.
          const got = await Promise.race([current.until((e) => e.length > here).catch(() => 'quiet' as const), done])
          if (got === 'ended') break
          if (got === 'quiet') continue
          for (const e of got.slice(here)) {
            events.push(e)
            lastId = Math.max(lastId, e.id)
          }
          here = got.length
        }
      } catch {
        // refused or reset: the browser waits the retry hint and tries again
      }
      current?.close()
      if (closed) return
      reconnects += 1
      await sleep(500)
    }
  }
  void run()
  const waitFor = async (pred: (e: FollowedEvent) => boolean, withinMs: number) => {
    const deadline = Date.now() + withinMs
    while (Date.now() < deadline) {
      if (events.some(pred)) return true
      await sleep(100)
    }
    return false
  }
  return {
    waitForEvents: (n: number) => waitFor(() => events.length >= n, 10_000),
    waitFor,
    get reconnects() {
      return reconnects
    },
    close: () => {
      closed = true
      current?.close()
    },
  }
}
