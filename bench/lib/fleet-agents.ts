/**
 * The fleet's load generator, in its own process (forked by fleet.bench.ts, which talks to it
 * over IPC): simulated agents that join sessions and long-poll the API, each on its own kept-alive
 * socket, as the real agent does; plus the CSR's side of a dispatch, timed from the POST to the
 * agent holding the command. Messages: `grow`, `dispatch`, `errors`, `stop` (see `Request`).
 *
 * Sockets: one per held poll. Connections are spread over 127.0.0.1–127.0.0.8 as source
 * addresses, so 50,000 agents do not run out of ephemeral ports (about 28,000 per source address
 * towards one server port).
 */
import { generateKeyPairSync } from 'node:crypto'
import http from 'node:http'
import { request } from './http.ts'

export type Request =
  | { type: 'grow'; api: string; token: string; to: number; concurrency: number; deadlineSeconds: number }
  /** `prime`: only the untimed first command of each sampled session; else only the timed ones (prime first). */
  | { type: 'dispatch'; samples: number; prime?: boolean }
  | { type: 'errors' }
  | { type: 'stop' }

export type Reply =
  | { type: 'grown'; agents: number; seconds: number; pollWaitSeconds: number }
  | { type: 'dispatched'; latencies: number[]; posts: number[]; lost: number }
  | { type: 'errors'; count: number; examples: string[]; polls: number }
  | { type: 'error'; message: string }

interface SimAgent {
  sessionId: string
  token: string
  cursor: number
}

const ADDRESSES = 8
const pollAgents = Array.from({ length: ADDRESSES }, (_, i) => new http.Agent({ keepAlive: true, maxSockets: Infinity, localAddress: `127.0.0.${i + 1}` }))
const controlAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })
const publicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()

let api = new URL('http://127.0.0.1')
let csrToken = ''
let pollWaitSeconds = 25
let stopped = false
const agents: SimAgent[] = []
/** Command id → when its agent's poll answer held it (performance.now()). */
const received = new Map<string, number>()
const waiters = new Map<string, () => void>()
let errors = 0
let polls = 0
const examples: string[] = []

function fail(what: string) {
  if (stopped) return
  errors++
  if (examples.length < 5) examples.push(what)
}

const call = (agent: http.Agent, method: string, path: string, token: string | undefined, body?: unknown) => request(agent, api, method, path, token, body)

async function json<T>(promise: Promise<{ status: number; body: string }>, what: string): Promise<T> {
  const res = await promise
  if (res.status < 200 || res.status > 299) throw new Error(`${what}: ${res.status} ${res.body.slice(0, 200)}`)
  return JSON.parse(res.body) as T
}

interface Feed {
  cursor: number
  consents: { id: string; status: string }[]
  commands: { id: string }[]
  errors?: { cursor?: number }
}

async function pollLoop(a: SimAgent, socketPool: http.Agent) {
  while (!stopped) {
    try {
      const res = await call(socketPool, 'GET', `/api/v1/agent/poll?cursor=${a.cursor}&wait=${pollWaitSeconds}`, a.token)
      const at = performance.now()
      polls++
      if (res.status === 409) {
        // A cursor from the future (the server forgot?): start again from 0, as the agent does.
        fail(`poll 409 ${res.body.slice(0, 120)}`)
        a.cursor = 0
        continue
      }
      if (res.status !== 200) throw new Error(`poll ${res.status} ${res.body.slice(0, 120)}`)
      const feed = JSON.parse(res.body) as Feed
      a.cursor = feed.cursor
      for (const c of feed.commands) {
        if (received.has(c.id)) continue
        received.set(c.id, at)
        waiters.get(c.id)?.()
        // Finish it at once, so the session takes the next one.
        call(controlAgent, 'POST', `/api/v1/agent/commands/${c.id}/reports`, a.token, { sequence: 0, status: 'succeeded' }).then(
          (r) => r.status >= 300 && fail(`report ${r.status} ${r.body.slice(0, 120)}`),
          (err: unknown) => fail(`report: ${String(err)}`),
        )
      }
      for (const c of feed.consents) {
        if (c.status !== 'pending') continue
        call(controlAgent, 'POST', `/api/v1/agent/consents/${c.id}/answer`, a.token, { approved: true }).then(
          (r) => r.status >= 300 && r.status !== 409 && fail(`consent ${r.status} ${r.body.slice(0, 120)}`),
          (err: unknown) => fail(`consent: ${String(err)}`),
        )
      }
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err))
      if (!stopped) await new Promise((r) => setTimeout(r, 1000))
    }
  }
}

async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !stopped) await task(items[next++]!)
    }),
  )
}

async function grow(to: number, concurrency: number, deadlineSeconds: number): Promise<Reply> {
  const start = performance.now()
  const deadline = start + deadlineSeconds * 1000
  const indexes = Array.from({ length: Math.max(0, to - agents.length) }, (_, i) => agents.length + i)
  await pool(indexes, concurrency, async (i) => {
    if (performance.now() > deadline) return
    try {
      const s = await json<{ id: string; number: string }>(call(controlAgent, 'POST', '/api/v1/sessions', csrToken, { customerName: `Fleet ${i}` }), 'session')
      const joined = await json<{ agentToken: string; pollWaitSeconds: number }>(
        call(controlAgent, 'POST', '/api/v1/agent/join', undefined, {
          number: s.number,
          protocol: 1,
          agentVersion: '0.1.0',
          platform: { os: 'linux', osVersion: 'bench', arch: 'x64', hostname: `fleet-${i}` },
          publicKey,
        }),
        'join',
      )
      pollWaitSeconds = joined.pollWaitSeconds
      const a = { sessionId: s.id, token: joined.agentToken, cursor: 0 }
      agents.push(a)
      void pollLoop(a, pollAgents[agents.length % ADDRESSES]!)
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err))
    }
  })
  if (agents.length < to) fail(`only ${agents.length} of ${to} agents joined within ${deadlineSeconds} s`)
  return { type: 'grown', agents: agents.length, seconds: (performance.now() - start) / 1000, pollWaitSeconds }
}

/** Sends a command to `a`'s session as the CSR; resolves with the time until `a` held it, or undefined. */
async function refresh(a: SimAgent, timeoutMs: number, posts?: number[]): Promise<number | undefined> {
  const t0 = performance.now()
  const res = await call(controlAgent, 'POST', `/api/v1/sessions/${a.sessionId}/system-info/refresh`, csrToken)
  posts?.push(performance.now() - t0)
  if (res.status >= 300) {
    fail(`refresh ${res.status} ${res.body.slice(0, 120)}`)
    return undefined
  }
  const { command } = JSON.parse(res.body) as { command: { id: string } }
  if (!received.has(command.id)) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      waiters.set(command.id, () => {
        clearTimeout(timer)
        resolve()
      })
    })
    waiters.delete(command.id)
  }
  const at = received.get(command.id)
  return at === undefined ? undefined : at - t0
}

/**
 * Dispatch latency over `samples` sessions spread over the fleet: first (`prime`) one command
 * each, not timed (the customer's consent, remembered for the session), and a second as warm-up,
 * then one timed command each, ten CSRs at a time. Two requests, so that the bench can read the server's CPU around the
 * timed part alone.
 */
async function dispatch(samples: number, prime: boolean): Promise<Reply> {
  const step = Math.max(1, Math.floor(agents.length / samples))
  const sample = agents.filter((_, i) => i % step === 0).slice(0, samples)
  if (prime) {
    await pool(sample, 20, async (a) => void (await refresh(a, 20_000)))
    await new Promise((r) => setTimeout(r, 500))
    // A second round, as timed below but not timed: the first went through the customer's consent,
    // so without it the timed round would be the first the server runs the dispatch's own path
    // (consent given) and would time its JIT compiling it (a CSR's server has been up all day).
    await pool(sample, 10, async (a) => void (await refresh(a, 10_000)))
    await new Promise((r) => setTimeout(r, 500))
    return { type: 'dispatched', latencies: [], posts: [], lost: 0 }
  }
  const latencies: number[] = []
  const posts: number[] = []
  let lost = 0
  await pool(sample, 10, async (a) => {
    const ms = await refresh(a, 10_000, posts)
    if (ms === undefined) lost++
    else latencies.push(ms)
    await new Promise((r) => setTimeout(r, 20))
  })
  if (lost > 0) fail(`${lost} of ${sample.length} commands not held within 10 s`)
  return { type: 'dispatched', latencies, posts, lost }
}

process.on('message', (msg: Request) => {
  const answer = (p: Promise<Reply> | Reply) =>
    Promise.resolve(p).then(
      (reply) => process.send!(reply),
      (err: unknown) => process.send!({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies Reply),
    )
  switch (msg.type) {
    case 'grow':
      api = new URL(msg.api)
      csrToken = msg.token
      void answer(grow(msg.to, msg.concurrency, msg.deadlineSeconds))
      break
    case 'dispatch':
      void answer(dispatch(msg.samples, msg.prime === true))
      break
    case 'errors':
      void answer({ type: 'errors', count: errors, examples: [...examples], polls })
      break
    case 'stop':
      stopped = true
      for (const p of pollAgents) p.destroy()
      controlAgent.destroy()
      process.exit(0)
  }
})
