import t from 'tap'
import { sql } from 'drizzle-orm'
import { copyBinary, postgresJsOf, type CopyValue } from '../../src/db/copy-binary.ts'
import { rows } from '../../src/db/raw.ts'
import type { Db } from '../../src/db/client.ts'
import { createTestDatabase } from '../helpers/db.ts'

/**
 * Script files reach PostgreSQL through a binary COPY (db/copy-binary.ts): the bytes must arrive
 * exactly, and a COPY the server refuses must fail the transaction at once with its own error,
 * never leave the request (and a pooled connection) hanging, as postgres.js 3.4 alone does.
 */
const test = await createTestDatabase()
t.teardown(() => test.drop())
const { db } = test.database

if (test.database.driver === 'pglite') {
  t.test('on PGlite there is no postgres.js transaction: files are inserted instead', async (t) => {
    await db.transaction(async (tx) => {
      t.equal(postgresJsOf(tx), undefined)
    })
  })
} else {
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const large = Buffer.alloc(300 * 1024, every)
  const rowsToCopy: CopyValue[][] = [
    [{ uuid: '00000000-0000-4000-8000-000000000001' }, { int4: 0 }, { text: 'ünïcödé ✓' }, { bytes: every }],
    [{ uuid: '00000000-0000-4000-8000-000000000002' }, { int4: -7 }, { text: '' }, { bytes: Buffer.alloc(0) }],
    [{ uuid: '00000000-0000-4000-8000-000000000003' }, { int4: 2 ** 31 - 1 }, null, { bytes: large.subarray(1) }],
  ]
  const create = (tx: Db) => tx.execute(sql`create temp table copied (id uuid primary key, n int, s text, b bytea) on commit drop`)

  t.test('rows arrive exactly: uuids, integers, text, null, empty and large byte values', async (t) => {
    await db.transaction(async (tx) => {
      await create(tx as unknown as Db)
      await copyBinary(postgresJsOf(tx)!, 'copied', ['id', 'n', 's', 'b'], rowsToCopy)
      const got = await rows<{ id: string; n: number; s: string | null; b: Buffer }>(tx as unknown as Db, sql`select id, n, s, b from copied order by id`)
      t.same(
        got.map((r) => [r.id, r.n, r.s, Buffer.from(r.b).toString('base64')]),
        [
          ['00000000-0000-4000-8000-000000000001', 0, 'ünïcödé ✓', every.toString('base64')],
          ['00000000-0000-4000-8000-000000000002', -7, '', ''],
          ['00000000-0000-4000-8000-000000000003', 2 ** 31 - 1, null, large.subarray(1).toString('base64')],
        ],
      )
    })
  })

  t.test('a byte value in pieces (an upload as it arrived) arrives as the pieces joined', async (t) => {
    // Small pieces are copied together with their neighbours, large ones written on their own, empty ones skipped.
    const pieces = [every.subarray(0, 3), Buffer.alloc(0), large.subarray(0, 70_000), every.subarray(3, 10), large.subarray(5, 9000), large]
    const joined = Buffer.concat(pieces)
    await db.transaction(async (tx) => {
      await create(tx as unknown as Db)
      await copyBinary(postgresJsOf(tx)!, 'copied', ['id', 'n', 's', 'b'], [
        [{ uuid: '00000000-0000-4000-8000-000000000004' }, { int4: 1 }, { text: 'pieces' }, { bytes: pieces }],
        [{ uuid: '00000000-0000-4000-8000-000000000005' }, { int4: 2 }, { text: 'none' }, { bytes: [] }],
        [{ uuid: '00000000-0000-4000-8000-000000000006' }, { int4: 3 }, { text: 'after' }, { bytes: every }],
      ])
      const got = await rows<{ n: number; s: string; b: Buffer }>(tx as unknown as Db, sql`select n, s, b from copied order by id`)
      t.same(
        got.map((r) => [r.n, r.s, Buffer.from(r.b).toString('base64')]),
        [
          [1, 'pieces', joined.toString('base64')],
          [2, 'none', ''],
          [3, 'after', every.toString('base64')],
        ],
      )
    })
  })

  t.test('a COPY the server refuses rejects with its error and rolls back; the pool stays usable', async (t) => {
    const duplicate = [rowsToCopy[0]!, rowsToCopy[0]!]
    const started = Date.now()
    const err = await db
      .transaction(async (tx) => {
        await create(tx as unknown as Db)
        await copyBinary(postgresJsOf(tx)!, 'copied', ['id', 'n', 's', 'b'], duplicate)
      })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      )
    t.equal(err?.code, '23505', 'the unique violation, not a timeout or a hang')
    t.ok(Date.now() - started < 5_000, 'at once')
    const stuck = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`,
    )
    t.equal(stuck[0]?.n, 0, 'no connection is left in an open transaction')
    // Every pooled connection still answers.
    await Promise.all(Array.from({ length: 12 }, () => db.execute(sql`select 1`)))
  })
}
