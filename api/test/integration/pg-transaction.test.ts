import { existsSync } from 'node:fs'
import { Socket } from 'node:net'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { openDatabase, viaSocket, type Db } from '../../src/db/client.ts'
import { lastStatement } from '../../src/db/pg-transaction.ts'
import { preparedRows, rows } from '../../src/db/raw.ts'
import { createTestDatabase } from '../helpers/db.ts'

/**
 * Transactions on PostgreSQL send BEGIN ahead of their first statement and may send COMMIT right
 * behind their last (db/pg-transaction.ts). What must hold: all or nothing as before, whichever
 * statement fails; a connection is never handed back inside a transaction or lost from the pool;
 * a connection that dies mid-transaction fails it and the pool carries on; and the round trips
 * are the ones saved. On PGlite `lastStatement` is an ordinary statement and commits as usual.
 */
const test = await createTestDatabase()
t.teardown(() => test.drop())
const { db } = test.database
const isPostgres = test.database.driver === 'postgres'

await db.execute(sql`create table tx_probe (id int primary key, note text not null)`)
const ids = async () => (await rows<{ id: number }>(db, sql`select id from tx_probe order by id`)).map((r) => r.id)
const insert = (tx: Db, id: number) => tx.execute(sql`insert into tx_probe (id, note) values (${id}, ${`row ${id}`})`)

t.beforeEach(async () => {
  await db.execute(sql`delete from tx_probe`)
})

t.test('lastStatement ends the transaction: its rows and the earlier ones are committed together', async (t) => {
  const answer = await db.transaction(async (tx) => {
    await insert(tx as unknown as Db, 1)
    return lastStatement<{ id: number }>(tx as unknown as Db, sql`insert into tx_probe (id, note) values (${2}, ${'last'}) returning id`)
  })
  t.same(answer, [{ id: 2 }], 'its rows are the transaction’s answer')
  t.same(await ids(), [1, 2], 'both committed, seen from another connection')
})

t.test('a failing last statement rolls the whole transaction back, with its own error', async (t) => {
  const failed = await db
    .transaction(async (tx) => {
      await insert(tx as unknown as Db, 1)
      await insert(tx as unknown as Db, 5)
      return lastStatement(tx as unknown as Db, sql`insert into tx_probe (id, note) values (${5}, ${'duplicate'})`)
    })
    .catch((e: unknown) => e)
  t.match(JSON.stringify(failed, Object.getOwnPropertyNames(failed)) + String((failed as { cause?: unknown }).cause), /23505|duplicate key/, 'the unique violation, not a commit error')
  t.same(await ids(), [], 'nothing of the transaction remains')
  await db.transaction(async (tx) => insert(tx as unknown as Db, 7))
  t.same(await ids(), [7], 'and the next transaction works')
})

t.test('a failure before the end rolls back; work that throws rolls back', async (t) => {
  await t.rejects(
    db.transaction(async (tx) => {
      await insert(tx as unknown as Db, 1)
      await insert(tx as unknown as Db, 1)
    }),
  )
  await t.rejects(
    db.transaction(async (tx) => {
      await insert(tx as unknown as Db, 2)
      throw new Error('refused after writing')
    }),
    { message: 'refused after writing' },
  )
  t.same(await ids(), [], 'nothing committed')
})

t.test('no connection is handed back inside a transaction or lost: many failures, then every connection still works', async (t) => {
  for (let i = 0; i < 30; i++) {
    await db
      .transaction(async (tx) => {
        await insert(tx as unknown as Db, 1000 + i)
        throw new Error('fail')
      })
      .catch(() => {})
  }
  // More at once than the pool holds: a connection left in a transaction would hide its row from
  // the count below; one lost from the pool would leave a transaction waiting for ever.
  await Promise.all(Array.from({ length: 25 }, (_, i) => db.transaction(async (tx) => lastStatement(tx as unknown as Db, sql`insert into tx_probe (id, note) values (${i}, ${'ok'})`))))
  t.equal((await ids()).length, 25, 'all 25 committed and visible')
  const open = await rows<{ n: number }>(db, sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`)
  t.equal(open[0]!.n, 0, 'no connection idles inside a transaction')
})

t.test('nested transactions are savepoints', async (t) => {
  await db.transaction(async (tx) => {
    await insert(tx as unknown as Db, 1)
    await tx.transaction(async (inner) => {
      await insert(inner as unknown as Db, 2)
      inner.rollback()
    }).catch(() => {})
    await tx.transaction(async (inner) => insert(inner as unknown as Db, 3))
  })
  t.same(await ids(), [1, 3], 'the rolled-back savepoint’s row is gone, the rest committed')
})

if (isPostgres) {
  t.test('round trips: BEGIN goes with the first statements, COMMIT with the last', async (t) => {
    const port = Number(new URL(test.url!).port || 5432)
    let writes = 0
    const write = Socket.prototype.write
    Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
      if (this.remotePort === port) writes++
      return (write as (...a: unknown[]) => boolean).apply(this, args)
    } as typeof Socket.prototype.write
    // Its own pool, opened after the count is in place (a socket binds its write when it connects).
    const counted = await openDatabase({ url: test.url!, dataDir: 'memory://', migrate: false, poolMax: 1 })
    t.teardown(async () => {
      Socket.prototype.write = write
      await counted.close()
    })
    const statement = (id: number) => sql`insert into tx_probe (id, note) values (${id}, ${'x'})`
    const once = (first: number) =>
      counted.db.transaction(async (tx) => {
        // Prepared, as the hot paths' statements are (an unprepared one waits for its parameter types).
        await Promise.all([preparedRows(tx as unknown as Db, statement(first)), preparedRows(tx as unknown as Db, statement(first + 1))])
        await lastStatement(tx as unknown as Db, statement(first + 2))
      })
    // Warm up: a statement is prepared on a connection the first time it runs there.
    await once(100)
    writes = 0
    await once(1000)
    t.equal(writes, 2, 'BEGIN and two statements in one write, the last statement and COMMIT in another')
    t.same((await ids()).filter((id) => id >= 1000), [1000, 1001, 1002], 'all three committed')
  })

  t.test('a connection killed mid-transaction fails the transaction; the pool carries on', async (t) => {
    const failed = await db
      .transaction(async (tx) => {
        await insert(tx as unknown as Db, 1)
        const [me] = await rows<{ pid: number }>(tx as unknown as Db, sql`select pg_backend_pid() as pid`)
        await db.execute(sql`select pg_terminate_backend(${me!.pid})`)
        await insert(tx as unknown as Db, 2)
      })
      .catch((e: unknown) => e)
    t.ok(failed instanceof Error, `the transaction failed at once: ${String(failed)}`)
    t.same(await ids(), [], 'nothing of it committed')
    // postgres.js may still hand the dead connection's last words (57P01) to one later query, with
    // its own begin too; what must hold is that the pool recovers and nothing waits for ever.
    let failures = 0
    for (let i = 0; i < 15; i++) {
      for (let attempt = 0; ; attempt++) {
        const error = await db.transaction(async (tx) => insert(tx as unknown as Db, 10 + i)).then(() => undefined, (e: unknown) => e)
        if (!error) break
        failures++
        if (attempt === 2) throw error
      }
    }
    t.equal((await ids()).length, 15, 'later transactions commit')
    t.ok(failures <= 1, `at most one later failure (${failures})`)
  })
}

t.test('DATABASE_URL may name a Unix-socket directory, as libpq does (?host=/dir)', async (t) => {
  t.same(viaSocket('postgres://app:secret@localhost/helpline?host=/var/run/postgresql'), {
    url: 'postgres://app:secret@localhost/helpline',
    options: { path: '/var/run/postgresql/.s.PGSQL.5432' },
  })
  t.same(viaSocket('postgres://app@localhost:5433/helpline?host=/tmp/&sslmode=disable').options, { path: '/tmp/.s.PGSQL.5433' }, 'the port names the socket')
  t.same(viaSocket('postgres://app@localhost:5433/helpline?host=/tmp/&sslmode=disable').url, 'postgres://app@localhost:5433/helpline?sslmode=disable', 'other parameters stay')
  const tcp = 'postgres://app@db.internal/helpline?sslmode=require'
  t.same(viaSocket(tcp), { url: tcp, options: {} }, 'a host name is TCP, unchanged')
  const dir = '/var/run/postgresql'
  if (!isPostgres || !existsSync(`${dir}/.s.PGSQL.${new URL(test.url!).port || 5432}`)) return
  const url = new URL(test.url!)
  url.searchParams.set('host', dir)
  const local = await openDatabase({ url: url.toString(), dataDir: 'memory://', migrate: false })
  t.teardown(() => local.close())
  const [where] = await rows<{ addr: string | null }>(local.db, sql`select inet_client_addr()::text as addr`)
  t.equal(where!.addr, null, 'the server sees a Unix-socket client (no client address)')
  await local.db.transaction(async (tx) => lastStatement(tx as unknown as Db, sql`insert into tx_probe (id, note) values (${1}, ${'via socket'})`))
  t.same(await ids(), [1], 'and its transactions commit')
})
