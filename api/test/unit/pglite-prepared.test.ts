import { PGlite, protocol, type QueryOptions, type Results } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { openDatabase } from '../../src/db/client.ts'
import { PreparedPGlite, bindExchange } from '../../src/db/pglite-prepared.ts'
import { pgliteSnapshot } from '../helpers/db.ts'

/**
 * The embedded database keeps each statement text prepared and runs it again in one exchange
 * (db/pglite-prepared.ts). What the application and drizzle get back must be exactly what
 * PGlite's own `query` gives: the same rows, types, counts and errors, in and out of transactions.
 * The suite's PGlite pass runs every other test on it too; these pin the cases one by one.
 */
async function open() {
  const database = await openDatabase({ dataDir: 'memory://', pgliteSnapshot: await pgliteSnapshot() })
  const pg = database.pglite as PreparedPGlite
  await pg.exec(`create table probe (id int primary key, name text not null, tags text[], doc jsonb, at timestamptz, ok boolean, blob bytea, n numeric)`)
  /** PGlite's own path, on the same engine, for comparison. */
  const plain = <T>(text: string, params?: unknown[], options?: QueryOptions) => PGlite.prototype.query.call(pg, text, params, options) as Promise<Results<T>>
  return { database, pg, plain }
}

// What drizzle passes with each statement (drizzle-orm/pglite/session.js): dates as text.
const keepText = (value: string) => value
const drizzleArrays: QueryOptions = { rowMode: 'array', parsers: { 1114: keepText, 1184: keepText, 1186: keepText, 1082: keepText } }
const drizzleObjects: QueryOptions = { rowMode: 'object', parsers: { 1114: keepText, 1184: keepText } }

t.test('answers equal PGlite’s own: rows, fields, counts, every type the server uses, both row modes', async (t) => {
  const { database, pg, plain } = await open()
  t.teardown(() => database.close())
  t.ok(pg instanceof PreparedPGlite, 'the server opens the embedded database through PreparedPGlite')
  const insert = 'insert into probe (id, name, tags, doc, at, ok, blob, n) values ($1, $2, $3, $4, $5, $6, $7, $8) returning *'
  const row = (id: number) => [id, `name ${id} ✓ 日本語`, ['a', 'b,c', null], { nested: [1, 'two'] }, new Date(Date.UTC(2026, 11, 4, 1, 2, 3, 456)), id % 2 === 0, Buffer.from([0, 1, 255, id]), '12.50']
  const mine = await pg.query(insert, row(1))
  const theirs = await plain(insert, row(2))
  t.same({ ...mine, rows: [] }, { ...theirs, rows: [] }, 'the same command, counts and fields')
  t.same(mine.rows[0], { ...(theirs.rows[0] as object), id: 1, name: 'name 1 ✓ 日本語', ok: false, blob: Buffer.from([0, 1, 255, 1]) }, 'the same values, typed alike')
  t.match(mine, { command: 'INSERT', affectedRows: 1, rowCount: 1 })

  for (const [text, params, options] of [
    ['select * from probe where id = any($1) order by id', [[1, 2]], undefined],
    ['select * from probe where id = any($1) order by id', [[1, 2]], drizzleArrays],
    ['select id, at, doc from probe order by id', [], drizzleObjects],
    ['select count(*)::int as n, max(at) as last from probe where name like $1', ['name%'], undefined],
    ['select $1::text is null as missing', [null], undefined],
    ['update probe set ok = not ok where id > $1', [0], undefined],
    ['delete from probe where id = $1', [99], undefined],
    ['select 1 as one where false', [], undefined],
  ] as [string, unknown[], QueryOptions | undefined][]) {
    // Twice each: the first prepares the text, the second runs the prepared statement.
    for (const run of ['first', 'again']) t.same(await pg.query(text, params, options), await plain(text, params, options), `${run}: ${text}`)
  }
  t.end()
})

t.test('a text is prepared once, then each run is one exchange with the engine', async (t) => {
  const { database, pg } = await open()
  t.teardown(() => database.close())
  const exchanges: number[] = []
  const execProtocol = pg.execProtocol.bind(pg)
  pg.execProtocol = (async (...args: Parameters<typeof execProtocol>) => {
    exchanges.push(1)
    return execProtocol(...args)
  }) as typeof pg.execProtocol
  const text = 'select name from probe where id = $1'
  await pg.query(text, [1])
  t.equal(exchanges.length, 2, 'first run: prepare (parse + describe), then bind + execute')
  exchanges.length = 0
  for (let i = 0; i < 5; i++) await pg.query(text, [i])
  t.equal(exchanges.length, 5, 'each later run: one exchange')
  const { rows } = await pg.query<{ statement: string }>('select statement from pg_prepared_statements where statement = $1', [text])
  t.equal(rows.length, 1, 'one server-side statement for the text')
})

t.test('errors are PGlite’s, the transaction aborts and rolls back, the statement stays usable', async (t) => {
  const { database, pg, plain } = await open()
  t.teardown(() => database.close())
  const insert = 'insert into probe (id, name) values ($1, $2)'
  await pg.query(insert, [1, 'one'])
  const mine = await pg.query(insert, [1, 'again']).catch((e: unknown) => e)
  const theirs = await plain(insert, [1, 'again']).catch((e: unknown) => e)
  t.match(mine, { code: '23505', constraint: 'probe_pkey', query: insert, params: [1, 'again'] }, 'a unique violation with its code, constraint and statement')
  t.equal((mine as Error).constructor, (theirs as Error).constructor, 'the same error class as PGlite’s own')
  t.match(await pg.query('selec 1').catch((e: unknown) => e), { code: '42601' }, 'a syntax error is reported')
  t.match(await pg.query('selec 1').catch((e: unknown) => e), { code: '42601' }, 'and again (nothing half-prepared was kept)')

  const failed = await pg
    .transaction(async (tx) => {
      await tx.query(insert, [2, 'two'])
      const duplicate = await tx.query(insert, [1, 'dup']).catch((e: unknown) => e)
      t.match(duplicate, { code: '23505' })
      const after = await tx.query('select 1 as one').catch((e: unknown) => e)
      t.match(after, { code: '25P02' }, 'the next statement in the aborted transaction is refused')
      throw duplicate
    })
    .catch((e: unknown) => e)
  t.match(failed, { code: '23505' })
  t.same((await pg.query('select id from probe order by id')).rows, [{ id: 1 }], 'the transaction’s insert was rolled back')
  await pg.query(insert, [3, 'three'])
  t.same((await pg.query('select id from probe order by id')).rows, [{ id: 1 }, { id: 3 }], 'the prepared insert works after the rollback')

  const db = database.db
  await db.transaction(async (tx) => {
    await tx.execute(sql`insert into probe (id, name) values (${4}, ${'four'})`)
    tx.rollback()
  }).catch(() => {})
  t.same((await pg.query('select id from probe order by id')).rows, [{ id: 1 }, { id: 3 }], 'drizzle’s rollback through the prepared path')
})

t.test('more texts than are kept: every answer right, the oldest statements closed', async (t) => {
  const { database, pg } = await open()
  t.teardown(() => database.close())
  const texts = PreparedPGlite.STATEMENTS + 40
  for (let i = 0; i < texts; i++) {
    const { rows } = await pg.query<{ v: number }>(`select $1::int + ${i} as v`, [1])
    if (rows[0]!.v !== i + 1) t.fail(`text ${i} answered ${rows[0]!.v}`)
  }
  const { rows } = await pg.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements')
  t.ok(rows[0]!.n <= PreparedPGlite.STATEMENTS, `${rows[0]!.n} statements kept (at most ${PreparedPGlite.STATEMENTS})`)
  t.same((await pg.query<{ v: number }>('select $1::int + 0 as v', [5])).rows, [{ v: 5 }], 'a closed text runs again (prepared anew)')
})

t.test('the exchange is written in one pass, byte for byte what PGlite’s serializer writes', async (t) => {
  const serializer = (closing: Uint8Array[], statement: string, values: (string | Uint8Array | null)[]) =>
    Buffer.concat([
      ...closing,
      protocol.serialize.bind({ statement, values }),
      protocol.serialize.describe({ type: 'P' }),
      protocol.serialize.execute({}),
      protocol.serialize.sync(),
    ])
  const close = [protocol.serialize.close({ type: 'S', name: 'hl_1' }), protocol.serialize.close({ type: 'S', name: 'hl_2' })]
  const cases: [string, Uint8Array[], string, (string | Uint8Array | null)[]][] = [
    ['no parameters', [], 'hl_0', []],
    ['nulls, empty text, multi-byte text, a lone surrogate', [], 'hl_a', [null, '', 'é✓ 😀', 'x\ud800y', null]],
    ['bytes (binary format) beside text', [], 'hl_b', [new Uint8Array([0, 1, 2, 255]), 'text', new Uint8Array(0)]],
    ['a view into a larger buffer', [], 'hl_c', [Buffer.from('..abc..').subarray(2, 5)]],
    ['statements to close first', close, 'hl_d', ['1']],
    ['long texts (an output post)', [], 'hl_e', Array.from({ length: 16 }, (_, i) => `${i} ${'ü'.repeat(16_000)}\n`)],
  ]
  for (const [what, closing, statement, values] of cases) {
    t.same(bindExchange(closing, statement, values), serializer(closing, statement, values), what)
  }
})
