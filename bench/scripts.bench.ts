/**
 * Script library benchmarks (issue 3): uploading a 1 MiB script, and one sorted, filtered page of
 * a 10,000-script library, on PGlite and, when one answers, on PostgreSQL. Requests go through
 * the whole app (authentication, multipart parsing, validation, the database) by app.inject, so
 * the figures are the server's own time without the network.
 *
 * Not a line of issue 13's table (its upload line is poll.bench.ts, over the network against a bare
 * route). Alone: `npx tsx bench/scripts.bench.ts` (BENCH_DATABASE_URL overrides the PostgreSQL
 * server); BENCH_QUICK=1: PGlite only, a 200-script library, 5 uploads, 20 pages.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { sql } from 'drizzle-orm'
import { buildApp } from '../api/src/app.ts'
import { loadConfig } from '../api/src/config.ts'
import { openDatabase, type Database } from '../api/src/db/client.ts'
import { scriptCategories, scriptFiles, scripts, scriptVersions, users } from '../api/src/db/schema.ts'
import { sha256Hex, versionDigest } from '../api/src/lib/script-files.ts'
import { postgresReachable, postgresUrl, scratchDatabase } from './lib/scratch.ts'

const MiB = 1024 * 1024
const QUICK = process.env.BENCH_QUICK === '1'
const LIBRARY_SIZE = QUICK ? 200 : 10_000
const UPLOADS = QUICK ? 5 : 40
const LIST_PAGES = QUICK ? 20 : 200
const WARMUP = QUICK ? 2 : 5

interface Figures {
  p50: number
  p99: number
  n: number
}

function percentiles(samples: number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
  return { p50: at(0.5), p99: at(0.99), n: sorted.length }
}

async function time(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

/** A multipart body with exactly 1 MiB of files: an executable and three inputs. */
function uploadBody(name: string, categoryId: string) {
  const boundary = `bench${randomBytes(8).toString('hex')}`
  const exe = Buffer.concat([Buffer.from('#!/bin/sh\n'), randomBytes(256 * 1024 - 10)])
  const files: [string, string, Buffer][] = [
    ['executable', 'run.sh', exe],
    ['inputs', 'a.bin', randomBytes(256 * 1024)],
    ['inputs', 'b.bin', randomBytes(256 * 1024)],
    ['inputs', 'c.bin', randomBytes(256 * 1024)],
  ]
  const parts: Buffer[] = []
  for (const [field, value] of [['name', name], ['categoryId', categoryId], ['published', 'true']]) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"\r\n\r\n${value}\r\n`))
  }
  for (const [field, filename, content] of files) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      content,
      Buffer.from('\r\n'),
    )
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}

/** 10,000 scripts from 20 owners in 20 categories, written in bulk (the upload path is measured separately). */
async function seedLibrary(database: Database, ownerIds: string[]) {
  const { db } = database
  const categories = await db
    .insert(scriptCategories)
    .values(Array.from({ length: 20 }, (_, i) => ({ name: `Category ${String(i).padStart(2, '0')}` })))
    .returning()
  const batch = 500
  for (let start = 0; start < LIBRARY_SIZE; start += batch) {
    const rows = Array.from({ length: batch }, (_, j) => {
      const i = start + j
      const content = Buffer.from(`#!/bin/sh\necho ${i} ${'x'.repeat(i % 997)}\n`)
      const sha256 = sha256Hex(content)
      const version = 1 + (i % 5)
      return {
        script: {
          id: randomUUID(),
          name: `Script ${i} ${randomBytes(3).toString('hex')}`,
          categoryId: categories[i % categories.length]!.id,
          description: i % 3 === 0 ? `Checks the disks of host ${i}` : `Collects logs ${i}`,
          ownerId: ownerIds[i % ownerIds.length]!,
          published: i % 4 !== 0,
          version,
          size: content.length,
          updatedAt: new Date(Date.now() - i * 60_000),
        },
        version,
        content,
        sha256,
      }
    })
    await db.insert(scripts).values(rows.map((r) => r.script))
    const versions = await db
      .insert(scriptVersions)
      .values(
        rows.map((r) => ({
          scriptId: r.script.id,
          number: r.version,
          size: r.content.length,
          digest: versionDigest([{ name: 'run.sh', role: 'executable', size: r.content.length, sha256: r.sha256 }]),
          createdById: r.script.ownerId,
        })),
      )
      .returning({ id: scriptVersions.id })
    await db.insert(scriptFiles).values(
      rows.map((r, k) => ({
        versionId: versions[k]!.id,
        position: 0,
        name: 'run.sh',
        role: 'executable' as const,
        size: r.content.length,
        sha256: r.sha256,
        content: r.content,
      })),
    )
  }
  return categories.map((c) => c.id)
}

async function benchOn(label: string, database: Database) {
  const config = loadConfig({}, { CONSOLE_DIR: '/nonexistent', LOG_LEVEL: 'silent' })
  const app = await buildApp({ config, database, logger: false })
  await app.ready()
  try {
    const { accounts, auth } = app.services
    await accounts.create({ email: 'bench-csr@example.com', name: 'Bench CSR', role: 'csr', password: 'bench-password-1' })
    const { token, user } = await auth.login('bench-csr@example.com', 'bench-password-1', '127.0.0.1')
    const others = await database.db
      .insert(users)
      .values(Array.from({ length: 19 }, (_, i) => ({ email: `owner${i}@example.com`, name: `Owner ${i}`, role: 'csr' as const, passwordHash: 'x' })))
      .returning({ id: users.id })
    const ownerIds = [user.id, ...others.map((o) => o.id)]

    const seedStart = Date.now()
    const categoryIds = await seedLibrary(database, ownerIds)
    // Fresh statistics, as autovacuum keeps them on a live server; without them the planner
    // guesses a handful of rows and picks plans for that.
    await database.db.execute(sql`analyze`)
    const seeded = Date.now() - seedStart

    const headers = { authorization: `Bearer ${token}` }
    const uploads: number[] = []
    for (let i = 0; i < WARMUP + UPLOADS; i++) {
      const body = uploadBody(`Bench upload ${i}`, categoryIds[i % categoryIds.length]!)
      const ms = await time(async () => {
        const res = await app.inject({ method: 'POST', url: '/api/v1/scripts', payload: body.payload, headers: { ...headers, ...body.headers } })
        if (res.statusCode !== 201) throw new Error(`upload answered ${res.statusCode}: ${res.body.slice(0, 200)}`)
      })
      if (i >= WARMUP) uploads.push(ms)
    }

    // Every sortable column in turn, with filters a CSR would set: published, a category, some text.
    const sorts = ['name', 'categoryName', 'ownerName', 'size', 'version', 'published', 'updatedAt']
    const lists: number[] = []
    let total = 0
    for (let i = 0; i < WARMUP + LIST_PAGES; i++) {
      const query = new URLSearchParams({
        page: String(1 + (i % 5)),
        perPage: '25',
        sort: sorts[i % sorts.length]!,
        order: i % 2 ? 'desc' : 'asc',
        published: 'true',
        ...(i % 3 === 0 ? { q: 'disks' } : {}),
        ...(i % 4 === 1 ? { categoryId: categoryIds[i % categoryIds.length]! } : {}),
      })
      const ms = await time(async () => {
        const res = await app.inject({ method: 'GET', url: `/api/v1/scripts?${query}`, headers })
        if (res.statusCode !== 200) throw new Error(`list answered ${res.statusCode}: ${res.body.slice(0, 200)}`)
        total = (res.json() as { total: number }).total
      })
      if (i >= WARMUP) lists.push(ms)
    }

    const line = (what: string, f: Figures, target: number) =>
      `  ${what.padEnd(52)} p50 ${f.p50.toFixed(1).padStart(6)} ms   p99 ${f.p99.toFixed(1).padStart(6)} ms   n=${f.n}   target p50 < ${target} ms ${f.p50 < target ? 'ok' : 'MISSED'}`
    console.log(`scripts (${label}; ${LIBRARY_SIZE.toLocaleString('en-US')} scripts seeded in ${(seeded / 1000).toFixed(1)} s)`)
    console.log(line(`upload a ${MiB.toLocaleString('en-US')}-byte script (4 files)`, percentiles(uploads), 50))
    console.log(line(`list page, sorted and filtered (last total ${total})`, percentiles(lists), 20))
  } finally {
    await app.close()
  }
}

export async function run(): Promise<void> {
  const pglite = await openDatabase({ dataDir: 'memory://' })
  try {
    await benchOn('PGlite, in memory', pglite)
  } finally {
    await pglite.close()
  }

  if (QUICK) return
  if (!(await postgresReachable(postgresUrl))) {
    console.log(`scripts (PostgreSQL): skipped, nothing answers at ${postgresUrl.replace(/\/\/[^@]*@/, '//…@')}`)
    return
  }
  // A throwaway database, dropped afterwards whatever happens.
  const scratch = await scratchDatabase(postgresUrl)
  try {
    const database = await openDatabase({ url: scratch.url, dataDir: 'memory://' })
    try {
      await benchOn('PostgreSQL', database)
    } finally {
      await database.close()
    }
  } finally {
    await scratch.drop()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
