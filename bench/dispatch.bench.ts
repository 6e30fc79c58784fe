/**
 * The dispatch path, broken down (issue 13: "dispatch at 1,000 agents p50 < 10 ms, p99 < 50 ms"),
 * in-process (`app.inject`) on PGlite and, when one answers, PostgreSQL, with every statement the
 * app sends counted (the driver wrapped here, not in the product):
 *
 * - serial: one CSR's `POST /sessions/{id}/system-info/refresh` at a time, each agent holding a
 *   poll, the command finished by the agent after each (as the fleet bench's agents do);
 * - concurrent: 10 refreshes at once on 10 different sessions (ten CSRs);
 * - wake → answer: from the POST being sent to the held poll answering with the command;
 * - the full cycle (serial): that, then the agent's report `{sequence: 0, status: 'succeeded'}`
 *   answered and its re-poll holding; statements, round trips, CPU of this process and (on
 *   PostgreSQL, from /proc) of the database's backends, per cycle.
 *
 * For each: latency p50/p99 and statements per action (the POST; the poll answer that carries
 * the command, including marking it delivered). Consent is given once per session beforehand.
 *
 *   npx tsx bench/dispatch.bench.ts      BENCH_DISPATCH_SESSIONS=20  BENCH_DISPATCH_SAMPLES=200
 *   BENCH_DISPATCH_DB=postgres skips PGlite; BENCH_DISPATCH_POOL=10 the pool's size
 *   BENCH_DISPATCH_LOG=1 prints the statements of one refresh and one answered poll
 */
import { Socket } from 'node:net'
import { pathToFileURL } from 'node:url'
import type { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { openDatabase, type Database, type Db } from '../api/src/db/client.ts'
import { pipelineTransactions } from '../api/src/db/pg-transaction.ts'
import * as schema from '../api/src/db/schema.ts'
import { testPlatform, testPublicKey } from '../api/test/helpers/agent.ts'
import { cpuReader, spent } from './lib/proc.ts'
import { load } from './lib/server.ts'
import { postgresReachable, postgresUrl, scratchDatabase } from './lib/scratch.ts'
import { harness, type Harness } from './lib/harness.ts'
import { fmt, summarize } from './stats.ts'

const QUICK = process.env.BENCH_QUICK === '1'
const SESSIONS = Number(process.env.BENCH_DISPATCH_SESSIONS ?? (QUICK ? 10 : 20))
const SAMPLES = Number(process.env.BENCH_DISPATCH_SAMPLES ?? (QUICK ? 30 : 200))
const LOG = process.env.BENCH_DISPATCH_LOG === '1'

/**
 * Every statement the app sends, in order (reset between measurements), with when it was sent and
 * its *turn*: statements sent in the same turn of the event loop (no answer awaited in between,
 * i.e. pipelined) share one. Round trips are counted as writes (`countWrites`).
 */
class StatementLog {
  list: string[] = []
  sent: { at: number; turn: number }[] = []
  /** Writes to PostgreSQL's sockets: each is a message batch the app then waits on (serial round trips). */
  writes = 0
  on = true
  private turn = 0
  private turnOpen = false
  add(text: string) {
    if (!this.on) return
    if (!this.turnOpen) {
      this.turnOpen = true
      // Fires once the current turn's microtasks are done and before any answer's I/O is handled.
      setImmediate(() => {
        this.turnOpen = false
        this.turn++
      })
    }
    this.list.push(text.replace(/\s+/g, ' ').trim())
    this.sent.push({ at: performance.now(), turn: this.turn })
  }
  take(): string[] {
    const out = this.list
    this.list = []
    this.sent = []
    this.writes = 0
    return out
  }
  /** The statements so far with their send times and turns (then `take` resets both). */
  timeline(): { text: string; at: number; turn: number }[] {
    return this.list.map((text, i) => ({ text, ...this.sent[i]! }))
  }
}

/**
 * Counts the app's writes to PostgreSQL (postgres.js gathers what one turn sends into one write;
 * a statement sent unprepared is two: Parse + Describe, then, once the parameter types are back,
 * Bind + Execute). Each write is a round trip the path waits on, unless statements were pipelined.
 */
function countWrites(log: StatementLog, port: number) {
  const write = Socket.prototype.write
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    if (this.remotePort === port && log.on) log.writes++
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof Socket.prototype.write
}

/** PostgreSQL through postgres.js with its `debug` hook counting statements (migrated first by openDatabase). */
async function countedPostgres(url: string, log: StatementLog): Promise<Database> {
  await (await openDatabase({ url, dataDir: 'memory://' })).close()
  countWrites(log, Number(new URL(url).port || 5432))
  const client = postgres(url, {
    max: Number(process.env.BENCH_DISPATCH_POOL ?? 10),
    onnotice: () => {},
    debug: (_connection, query) => {
      if (!query.includes('heartbeat')) log.add(query)
    },
  })
  const db = drizzlePostgres(client, { schema }) as unknown as Db
  // As openDatabase does: BEGIN sent ahead of the first statement, COMMIT behind the last.
  pipelineTransactions(db._.session, client)
  return {
    db,
    driver: 'postgres',
    warnings: [],
    postgres: client,
    bytes: (content) => sql`decode(${content.toString('base64')}, 'base64')`,
    ping: async () => void (await client`select 1`),
    close: () => client.end({ timeout: 5 }),
  }
}

/** PGlite with its `query` (and its transactions' `query`) counting statements. */
async function countedPglite(log: StatementLog): Promise<Database> {
  const database = await openDatabase({ dataDir: 'memory://' })
  const pg = database.pglite as PGlite
  type Query = PGlite['query']
  const wrap = (target: { query: Query }) => {
    const query = target.query.bind(target) as Query
    target.query = ((text: string, ...rest: unknown[]) => {
      log.add(text)
      return (query as (...a: unknown[]) => ReturnType<Query>)(text, ...rest)
    }) as Query
  }
  wrap(pg)
  const transaction = pg.transaction.bind(pg)
  pg.transaction = ((fn: (tx: { query: Query }) => Promise<unknown>) =>
    transaction(async (tx) => {
      log.add('begin')
      wrap(tx as unknown as { query: Query })
      const out = await fn(tx as unknown as { query: Query })
      log.add('commit')
      return out
    })) as PGlite['transaction']
  return database
}

interface Agent {
  sessionId: string
  token: string
  cursor: number
  /** Resolves the pending wait for a command id (held poll answered). */
  got: Map<string, (at: number) => void>
  stopped: boolean
}

async function setUp(h: Harness, n: number): Promise<Agent[]> {
  const agents: Agent[] = []
  for (let i = 0; i < n; i++) {
    const { data: s } = await h.csr.POST('/api/v1/sessions', { body: { customerName: `Dispatch ${i}` } })
    const { data: joined } = await h.client().POST('/api/v1/agent/join', {
      body: { number: s!.number, protocol: 1, agentVersion: '0.1.0', platform: { ...testPlatform, hostname: `pc-${i}` }, publicKey: testPublicKey },
    })
    agents.push({ sessionId: s!.id, token: joined!.agentToken, cursor: 0, got: new Map(), stopped: false })
  }
  return agents
}

interface Feed {
  cursor: number
  consents: { id: string; status: string }[]
  commands: { id: string }[]
}

/** The agent: holds polls, approves consents, finishes each command at once (as the fleet's agents do). */
async function agentLoop(h: Harness, a: Agent, answered: { statements: number[]; record: boolean }, log: StatementLog) {
  const auth = { authorization: `Bearer ${a.token}` }
  while (!a.stopped) {
    const res = await h.app.inject({ method: 'GET', url: `/api/v1/agent/poll?cursor=${a.cursor}&wait=25`, headers: auth })
    const at = performance.now()
    if (res.statusCode !== 200) throw new Error(`poll ${res.statusCode} ${res.body}`)
    const feed = res.json<Feed>()
    a.cursor = feed.cursor
    for (const c of feed.commands) {
      received.set(c.id, at)
      const done = a.got.get(c.id)
      a.got.delete(c.id)
      done?.(at)
      // Not awaited before the re-poll, as the fleet's agents do; the serial phase waits for it.
      reports.set(
        c.id,
        h.app.inject({ method: 'POST', url: `/api/v1/agent/commands/${c.id}/reports`, headers: auth, payload: { sequence: 0, status: 'succeeded' } }).then((r) => {
          if (r.statusCode >= 300) throw new Error(`report ${r.statusCode} ${r.body}`)
        }),
      )
    }
    for (const c of feed.consents) {
      if (c.status === 'pending') void h.app.inject({ method: 'POST', url: `/api/v1/agent/consents/${c.id}/answer`, headers: auth, payload: { approved: true } })
    }
    void answered
    void log
  }
}

/** Command id → when its agent's poll answer held it. */
const received = new Map<string, number>()
/** Command id → its agent's report (`{sequence: 0, status: 'succeeded'}`), answered. */
const reports = new Map<string, Promise<void>>()

/**
 * Resolves once no statement was sent for `quietMs`: in the serial phase, the agent's re-poll has
 * then done its reads and holds (or holds from memory, having sent none).
 */
async function quiet(log: StatementLog, quietMs = 10) {
  for (let seen = -1; seen !== log.list.length; ) {
    seen = log.list.length
    await new Promise((r) => setTimeout(r, quietMs))
  }
}

/** Resolves when `a`'s poll answer held command `id` (performance.now()). */
function heldAt(a: Agent, id: string, timeoutMs = 10_000): Promise<number> {
  const known = received.get(id)
  if (known !== undefined) return Promise.resolve(known)
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('command not held within 10 s')), timeoutMs)
    a.got.set(id, (t) => {
      clearTimeout(timer)
      resolve(t)
    })
  })
}

/** One refresh; resolves with the POST's time, the time until the agent held the command, and the POST's statements. */
async function refresh(h: Harness, a: Agent): Promise<{ post: number; held: number }> {
  const t0 = performance.now()
  const { data, error } = await h.csr.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: a.sessionId } } })
  const post = performance.now() - t0
  if (!data) throw new Error(`refresh refused: ${JSON.stringify(error)}`)
  const at = await heldAt(a, data.command!.id)
  return { post, held: at - t0 }
}

/** Waits until the session has no open collection (the agent's report went through). */
async function settle(h: Harness, a: Agent) {
  for (let i = 0; i < 500; i++) {
    const { data } = await h.csr.GET('/api/v1/sessions/{id}/commands', { params: { path: { id: a.sessionId }, query: { status: 'delivered' } } })
    const { data: q } = await h.csr.GET('/api/v1/sessions/{id}/commands', { params: { path: { id: a.sessionId }, query: { status: 'queued' } } })
    if ((data?.total ?? 0) === 0 && (q?.total ?? 0) === 0) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error('the agent never finished its command')
}

function kinds(statements: string[]): string {
  const byKind = new Map<string, number>()
  for (const s of statements) {
    const k = s.split(' ').slice(0, 2).join(' ').toLowerCase().replace(/"/g, '')
    byKind.set(k, (byKind.get(k) ?? 0) + 1)
  }
  return [...byKind].map(([k, n]) => `${n}× ${k}`).join(', ')
}

async function measure(name: string, database: Database, log: StatementLog, databaseName?: string) {
  const h = await harness(database)
  const agents = await setUp(h, SESSIONS)
  const answered = { statements: [] as number[], record: false }
  const loops = agents.map((a) => agentLoop(h, a, answered, log))
  // Consent once per session (remembered for the session), not timed.
  for (const a of agents) {
    await refresh(h, a)
    await settle(h, a)
  }
  await new Promise((r) => setTimeout(r, 200))

  // Serial: one at a time, statements of the POST alone (the agent's answer and report come after).
  const serial = {
    post: [] as number[],
    held: [] as number[],
    stmts: [] as number[],
    total: [] as number[],
    postTrips: [] as number[],
    trips: [] as number[],
    cpuPost: [] as number[],
    cpu: [] as number[],
    cycleStmts: [] as number[],
    cycleTrips: [] as number[],
    cycleCpu: [] as number[],
  }
  // This process's own CPU comes from process.cpuUsage; the reader gives the backends' (on this machine).
  const cpu = cpuReader({ pid: process.pid, database: databaseName })
  const backends0 = cpu(true)
  const cpu0 = process.cpuUsage()
  let example: string[] = []
  let exampleAll: { text: string; at: number; turn: number }[] = []
  let exampleT0 = 0
  let exampleMarks: [string, number][] = []
  for (let i = 0; i < SAMPLES; i++) {
    const a = agents[i % agents.length]!
    log.take()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const { data } = await h.csr.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: a.sessionId } } })
    const post = performance.now() - t0
    const cPost = process.cpuUsage(c0)
    const postTimeline = log.timeline()
    const postWrites = log.writes
    const postStatements = log.take()
    // CPU of this process (the server's work for the POST, the wake-up, the delivery mark and the
    // answer; the bench's own agent loop and client are small) from the POST sent to the agent
    // holding the command: nothing else runs in between in this serial phase.
    let cHeld = { user: 0, system: 0 }
    const at = await new Promise<number>((resolve, reject) => {
      const known = received.get(data!.command!.id)
      if (known !== undefined) {
        cHeld = process.cpuUsage(c0)
        return resolve(known)
      }
      const timer = setTimeout(() => reject(new Error('command not held within 10 s')), 10_000)
      a.got.set(data!.command!.id, (t) => {
        cHeld = process.cpuUsage(c0)
        clearTimeout(timer)
        resolve(t)
      })
    })
    serial.post.push(post)
    serial.held.push(at - t0)
    serial.stmts.push(postStatements.length)
    serial.cpuPost.push((cPost.user + cPost.system) / 1000)
    serial.cpu.push((cHeld.user + cHeld.system) / 1000)
    // Everything up to the answer: the POST, the wake-up's read and the delivery mark.
    const wakeTimeline = log.timeline()
    const wakeWrites = log.writes
    const upToAnswer = [...postTimeline, ...wakeTimeline]
    log.take()
    serial.total.push(upToAnswer.length)
    serial.postTrips.push(postWrites)
    serial.trips.push(postWrites + wakeWrites)
    // The rest of the cycle: the agent's report (answered) and its re-poll, until it holds.
    await reports.get(data!.command!.id)
    await quiet(log)
    const cCycle = process.cpuUsage(c0)
    const rest = log.timeline()
    serial.cycleStmts.push(upToAnswer.length + rest.length)
    serial.cycleTrips.push(postWrites + wakeWrites + log.writes)
    serial.cycleCpu.push((cCycle.user + cCycle.system) / 1000)
    log.take()
    if (i === SAMPLES - 1) {
      example = postStatements
      exampleAll = [...upToAnswer, ...rest]
      exampleT0 = t0
      exampleMarks = [
        ['POST answered', t0 + post],
        ['agent holds it', at],
      ]
    }
  }
  const nodeCpuMs = process.cpuUsage(cpu0)
  const backendCpuMs = spent(backends0, cpu(true)).database

  // Concurrent: 10 CSRs at once, each on its own session.
  const conc = { post: [] as number[], held: [] as number[] }
  const rounds = Math.max(1, Math.floor(SAMPLES / 10))
  for (let r = 0; r < rounds; r++) {
    const group = agents.slice(0, Math.min(10, agents.length))
    const results = await Promise.all(group.map((a) => refresh(h, a)))
    for (const x of results) {
      conc.post.push(x.post)
      conc.held.push(x.held)
    }
    await Promise.all(group.map((a) => settle(h, a)))
  }

  const line = (what: string, xs: number[]) => {
    const s = summarize(xs)
    return `${what} p50 ${fmt(s.p50)} p99 ${fmt(s.p99)}`
  }
  const median = (xs: number[]) => summarize(xs).p50
  console.log(`${name} (${SESSIONS} sessions, ${SAMPLES} samples, load ${load()})`)
  console.log(`  serial:      ${line('POST', serial.post)};  ${line('POST sent → agent holds it', serial.held)}`)
  console.log(`               statements: POST ${median(serial.stmts)}, POST + wake-up up to the answer ${median(serial.total)}`)
  if (database.driver === 'postgres') console.log(`               writes to PostgreSQL (round trips): POST ${median(serial.postTrips)}, POST + wake-up up to the answer ${median(serial.trips)}`)
  console.log(`               CPU of this process: POST p50 ${fmt(median(serial.cpuPost))}, POST sent → agent holds it p50 ${fmt(median(serial.cpu))} (mean ${fmt(serial.cpu.reduce((x, y) => x + y, 0) / serial.cpu.length)})`)
  console.log(`               full cycle (POST, agent holds it, its report answered, its re-poll holds): statements ${median(serial.cycleStmts)}` +
    (database.driver === 'postgres' ? `, round trips ${median(serial.cycleTrips)}` : '') +
    `, CPU of this process p50 ${fmt(median(serial.cycleCpu))} (whole phase ${fmt((nodeCpuMs.user + nodeCpuMs.system) / 1000 / SAMPLES)} per cycle)` +
    (database.driver === 'postgres' ? `, PostgreSQL backends ${fmt(backendCpuMs / SAMPLES)} per cycle` : ''))
  console.log(`  10 at once:  ${line('POST', conc.post)};  ${line('POST sent → agent holds it', conc.held)}`)
  console.log(`  POST: ${kinds(example)}`)
  if (LOG) {
    console.log('  one serial dispatch: ms after the POST was sent, turn (same turn = pipelined), statement:')
    const lines = [...exampleAll.map((x) => ({ at: x.at, line: `t${x.turn}  ${x.text.slice(0, 200)}` })), ...exampleMarks.map(([what, at]) => ({ at, line: `--  ${what}` }))]
    lines.sort((x, y) => x.at - y.at)
    for (const l of lines) console.log(`    ${(l.at - exampleT0).toFixed(2).padStart(7)}  ${l.line}`)
  }
  for (const a of agents) a.stopped = true
  await h.app.close()
  await Promise.allSettled(loops)
}

export async function run() {
  const log = new StatementLog()
  if (process.env.BENCH_DISPATCH_DB !== 'postgres') {
    const pglite = await countedPglite(log)
    try {
      await measure('PGlite', pglite, log)
    } finally {
      await pglite.close()
    }
  }
  if (await postgresReachable(postgresUrl)) {
    const scratch = await scratchDatabase(postgresUrl)
    try {
      const database = await countedPostgres(scratch.url, log)
      try {
        await measure('PostgreSQL', database, log, new URL(scratch.url).pathname.slice(1))
      } finally {
        await database.close()
      }
    } finally {
      await scratch.drop()
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) await run()
