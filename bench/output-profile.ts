/**
 * The output line of runs.bench.ts alone, for measuring it on a shared machine: CPU per MiB
 * stored, of this process (the server in-process, its agents posting prepared bodies) and, on
 * PostgreSQL, of the server's backends — figures a busy machine hardly moves, unlike MB/s.
 *
 * The same shape as the bench: OUTPUT_AGENTS (10) sessions at once, each running OUTPUT_RUNS (5)
 * runs one after another (start, 1 MiB in chunks of 32 KiB, OUTPUT_CHUNKS_PER_POST (16) per post,
 * finish), OUTPUT_ROUNDS (3) batches one after the other. Every byte is checked at the end.
 *
 *   npx tsx bench/output-profile.ts                OUTPUT_DB=postgres (default) | pglite
 *   OUTPUT_PROFILE_DIR=/tmp/prof …                 a CPU profile of the measured window (output-<db>.cpuprofile)
 *   OUTPUT_SETUP_SQL='alter table …' …             a statement run on the scratch database first (storage experiments)
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { Session } from 'node:inspector/promises'
import { inArray, sql } from 'drizzle-orm'
import postgres from 'postgres'
import { uploadScript } from '@helpline/sdk'
import { openDatabase, type Database } from '../api/src/db/client.ts'
import { scriptOutputChunks } from '../api/src/db/schema.ts'
import { MAX_OUTPUT_BYTES } from '../api/src/schemas/runs.ts'
import { harness, type Harness } from './lib/harness.ts'
import { postgresUrl, scratchDatabase } from './lib/scratch.ts'

const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const AGENTS = int('OUTPUT_AGENTS', 10)
const RUNS = int('OUTPUT_RUNS', 5)
const ROUNDS = int('OUTPUT_ROUNDS', 3)
const PER_POST = int('OUTPUT_CHUNKS_PER_POST', 16)
const CHUNK_CHARS = 32 * 1024
const PGLITE = process.env.OUTPUT_DB === 'pglite'

/** The bodies of one run's posts (the same for every run: sequences start at 0), as runs.bench.ts builds them. */
function bodies(): string[] {
  const line = `${'0123456789abcdef'.repeat(5)}bench output\n`
  const data = line.repeat(Math.ceil(CHUNK_CHARS / line.length)).slice(0, CHUNK_CHARS)
  const perRun = MAX_OUTPUT_BYTES / CHUNK_CHARS
  const out: string[] = []
  for (let first = 0; first < perRun; first += PER_POST) {
    out.push(JSON.stringify({ chunks: Array.from({ length: Math.min(PER_POST, perRun - first) }, (_, i) => ({ sequence: first + i, stream: 'stdout', data })) }))
  }
  return out
}

/** User + system CPU seconds of a process from /proc. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

interface Agent {
  sessionId: string
  token: string
  cursor: number
}

async function agents(h: Harness): Promise<Agent[]> {
  const publicKey = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const out: Agent[] = []
  for (let i = 0; i < AGENTS; i++) {
    const { data: session } = await h.csr.POST('/api/v1/sessions', { body: { customerName: `Output ${i}` } })
    const { data: joined } = await h.client().POST('/api/v1/agent/join', {
      body: { number: session!.number, protocol: 1, agentVersion: '0.1.0', platform: { os: 'linux', osVersion: 'bench', arch: 'x64', hostname: `out-${i}` }, publicKey },
    })
    out.push({ sessionId: session!.id, token: joined!.agentToken, cursor: 0 })
  }
  return out
}

/** A batch of RUNS copies of the script on every session, approved and handed out: each agent's run ids in order. */
async function handedOut(h: Harness, scriptId: string, list: Agent[]): Promise<string[][]> {
  const { data: batch } = await h.csr.POST('/api/v1/script-batches', {
    body: { scripts: Array.from({ length: RUNS }, () => ({ scriptId })), sessionIds: list.map((a) => a.sessionId) },
  })
  const ids: string[][] = []
  for (const a of list) {
    const api = h.client(a.token)
    const { data: feed } = await api.GET('/api/v1/agent/poll', { params: { query: { cursor: a.cursor, wait: 0 } } })
    a.cursor = feed!.cursor
    const consent = feed!.consents.find((c) => c.status === 'pending')!
    await api.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved: true } })
    const { data: next } = await api.GET('/api/v1/agent/poll', { params: { query: { cursor: a.cursor, wait: 0 } } })
    a.cursor = next!.cursor
    ids.push(batch!.sessions.find((s) => s.sessionId === a.sessionId)!.runs.map((r) => r.id))
  }
  return ids
}

async function measure(database: Database, dbName: string | undefined) {
  if (process.env.OUTPUT_SETUP_SQL) await database.db.execute(sql.raw(process.env.OUTPUT_SETUP_SQL))
  const h = await harness(database)
  const admin = dbName ? postgres(postgresUrl, { max: 1, onnotice: () => {} }) : undefined
  const backends = async () => {
    if (!admin) return 0
    const pids = await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${dbName!} and application_name = 'helpline'`
    return pids.reduce((sum, { pid }) => sum + cpuOf(pid), 0)
  }
  try {
    const script = await uploadScript(h.csr, {
      name: `Output ${randomBytes(3).toString('hex')}`,
      categoryId: h.categoryId,
      executable: { name: 'run.sh', content: '#!/bin/sh\necho out\n' },
    })
    const list = await agents(h)
    const posts = bodies()
    const post = async (a: Agent, runId: string, verb: string, payload: string) => {
      const res = await h.app.inject({
        method: 'POST',
        url: `/api/v1/agent/script-runs/${runId}/${verb}`,
        headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' },
        payload,
      })
      if (res.statusCode !== 200) throw new Error(`${verb}: ${res.statusCode} ${res.body.slice(0, 300)}`)
    }
    const all: string[] = []
    let cpu = 0
    let sys = 0
    let pg = 0
    let wall = 0
    let profiler: Session | undefined
    for (let round = 0; round <= ROUNDS; round++) {
      // Round 0 warms up (prepared statements, JIT) and is not counted.
      const ids = await handedOut(h, script.id, list)
      if (round === 1 && process.env.OUTPUT_PROFILE_DIR) {
        profiler = new Session()
        profiler.connect()
        await profiler.post('Profiler.enable')
        await profiler.post('Profiler.start')
      }
      const pg0 = await backends()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await Promise.all(
        list.map(async (a, i) => {
          for (const runId of ids[i]!) {
            await post(a, runId, 'start', JSON.stringify({ startId: randomBytes(12).toString('base64url') }))
            for (const body of posts) await post(a, runId, 'output', body)
            await post(a, runId, 'finish', JSON.stringify({ status: 'succeeded', exitCode: 0, durationMs: 1 }))
          }
        }),
      )
      const used = process.cpuUsage(cpu0)
      if (round === 0) continue
      wall += performance.now() - t0
      cpu += (used.user + used.system) / 1e3
      sys += used.system / 1e3
      pg += ((await backends()) - pg0) * 1e3
      all.push(...ids.flat())
    }
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop')
      writeFileSync(`${process.env.OUTPUT_PROFILE_DIR}/output-${PGLITE ? 'pglite' : 'postgres'}.cpuprofile`, JSON.stringify(profile))
      profiler.disconnect()
    }
    const [inTable] = await database.db
      .select({ bytes: sql<string>`coalesce(sum(octet_length(${scriptOutputChunks.data})), 0)`, chunks: sql<string>`count(*)` })
      .from(scriptOutputChunks)
      .where(inArray(scriptOutputChunks.runId, all))
    const mib = Number(inTable!.bytes) / 1024 / 1024
    const expected = all.length * MAX_OUTPUT_BYTES
    console.log(
      `output-profile (${PGLITE ? 'PGlite' : 'PostgreSQL'}): ${AGENTS} agents × ${RUNS} runs × ${ROUNDS} rounds, ${PER_POST} chunks per post; ` +
        `${Number(inTable!.bytes) === expected ? 'all' : `${inTable!.bytes} of ${expected}`} bytes stored (${mib.toFixed(0)} MiB, ${inTable!.chunks} chunks)`,
    )
    console.log(
      `  Node CPU ${(cpu / mib).toFixed(1)} ms/MiB (system ${(sys / mib).toFixed(1)})` +
        (admin ? `, PostgreSQL backends ${(pg / mib).toFixed(1)} ms/MiB` : '') +
        `; ${((mib * 1.048576) / (wall / 1000)).toFixed(1)} MB/s; load average ${loadavg()
          .map((n) => n.toFixed(1))
          .join(' ')}`,
    )
  } finally {
    await admin?.end()
    await h.app.close()
  }
}

if (PGLITE) {
  const database = await openDatabase({ dataDir: 'memory://' })
  try {
    await measure(database, undefined)
  } finally {
    await database.close()
  }
} else {
  const scratch = await scratchDatabase(postgresUrl)
  try {
    const database = await openDatabase({ url: scratch.url, dataDir: 'memory://' })
    try {
      await measure(database, new URL(scratch.url).pathname.slice(1))
    } finally {
      await database.close()
    }
  } finally {
    await scratch.drop()
  }
}
