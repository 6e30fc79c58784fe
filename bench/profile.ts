/**
 * A quick in-process workload to profile the hot paths (see README): empty polls (`wait=0`,
 * cursor at the session's change number) and script batches of 3 scripts on 100 sessions, each
 * cancelled at once. On PGlite unless BENCH_DATABASE_URL is set (a database it may migrate).
 * With PROFILE_DIR, each phase's CPU profile is written there (poll, batch, cancel), without the
 * start-up; `node bench/prof-top.mjs FILE` summarises one.
 *
 *   PROFILE_DIR=/tmp/prof PROFILE_POLLS=3000 PROFILE_BATCHES=3 node --import tsx bench/profile.ts
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { uploadScript } from '@helpline/sdk'
import { openDatabase } from '../api/src/db/client.ts'
import { testPlatform, testPublicKey } from '../api/test/helpers/agent.ts'
import { harness } from './lib/harness.ts'
import { fmt, summarize } from './stats.ts'

const POLLS = Number(process.env.PROFILE_POLLS ?? 3000)
const BATCHES = Number(process.env.PROFILE_BATCHES ?? 3)
const SESSIONS = 100

const inspector = new Session()
inspector.connect()
await inspector.post('Profiler.enable')
let written = 0
/** Profiles `fn` (CPU, this process) into PROFILE_DIR/<name>.cpuprofile when PROFILE_DIR is set. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!process.env.PROFILE_DIR) return fn()
  await inspector.post('Profiler.start')
  try {
    return await fn()
  } finally {
    const { profile } = await inspector.post('Profiler.stop')
    writeFileSync(`${process.env.PROFILE_DIR}/${name}-${written++}.cpuprofile`, JSON.stringify(profile))
  }
}

const line = (what: string, samples: number[]) => {
  const s = summarize(samples)
  return `${what}: p50 ${fmt(s.p50)}, p99 ${fmt(s.p99)}, n=${s.n}`
}

const database = await openDatabase(process.env.BENCH_DATABASE_URL ? { url: process.env.BENCH_DATABASE_URL, dataDir: 'memory://' } : { dataDir: 'memory://' })
const h = await harness(database)

const agents: { sessionId: string; token: string }[] = []
for (let i = 0; i < SESSIONS; i++) {
  const { data: s } = await h.csr.POST('/api/v1/sessions', { body: { customerName: `Customer ${i}` } })
  const { data: joined } = await h.client().POST('/api/v1/agent/join', {
    body: { number: s!.number, protocol: 1, agentVersion: '0.1.0', platform: { ...testPlatform, hostname: `pc-${i}` }, publicKey: testPublicKey },
  })
  agents.push({ sessionId: s!.id, token: joined!.agentToken })
}
const scriptIds: string[] = []
for (let i = 0; i < 3; i++) {
  const script = await uploadScript(h.csr, {
    name: `Profile ${i} ${randomBytes(3).toString('hex')}`,
    categoryId: h.categoryId,
    executable: { name: 'run.sh', content: `#!/bin/sh\necho ${i}\n` },
  })
  scriptIds.push(script.id)
}

// Empty polls through app.inject: one agent, its cursor at the session's change number.
const auth = { authorization: `Bearer ${agents[0]!.token}` }
const poll = async (cursor: number) => (await h.app.inject({ method: 'GET', url: `/api/v1/agent/poll?cursor=${cursor}&wait=0`, headers: auth })).json<{ cursor: number }>().cursor
let cursor = await poll(0)
const pollTimes: number[] = []
const pollStart = performance.now()
await phase('poll', async () => {
  for (let i = 0; i < POLLS; i++) {
    const t0 = performance.now()
    cursor = await poll(cursor)
    pollTimes.push(performance.now() - t0)
  }
})
console.log(`${line('empty poll, serial, in-process', pollTimes)}, ${Math.round(POLLS / ((performance.now() - pollStart) / 1000))} req/s`)

const createTimes: number[] = []
const cancelTimes: number[] = []
for (let b = 0; b < BATCHES; b++) {
  let t0 = performance.now()
  const { data: batch, error } = await phase('batch', () =>
    h.csr.POST('/api/v1/script-batches', { body: { scripts: scriptIds.map((scriptId) => ({ scriptId })), sessionIds: agents.map((a) => a.sessionId) } }),
  )
  if (!batch) throw new Error(`batch refused: ${JSON.stringify(error)}`)
  createTimes.push(performance.now() - t0)
  t0 = performance.now()
  await phase('cancel', () => h.csr.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id: batch.id } } }))
  cancelTimes.push(performance.now() - t0)
}
console.log(line(`POST /script-batches, 3 scripts × ${SESSIONS} sessions`, createTimes))
console.log(line(`cancel on ${SESSIONS} sessions`, cancelTimes))
inspector.disconnect()
await h.app.close()
await database.close()
