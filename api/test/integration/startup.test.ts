import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import t from 'tap'
import postgres from 'postgres'
import { migrationsFolder, openDatabase } from '../../src/db/client.ts'
import { testDatabaseUrl } from '../helpers/db.ts'

/**
 * Instances that start at the same moment on an empty PostgreSQL database migrate once: the
 * migrations run under an advisory lock (db/client.ts), so the others wait, then find nothing to
 * do. Without the lock one of them died on a unique violation in drizzle's migrations table.
 */
const skip = testDatabaseUrl ? false : 'needs PostgreSQL: set TEST_DATABASE_URL (the advisory lock is PostgreSQL’s)'

t.test('three instances start together on an empty database', { skip }, async (t) => {
  const name = `helpline_t_start_${randomBytes(4).toString('hex')}`
  const admin = postgres(testDatabaseUrl!, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(testDatabaseUrl!)
  url.pathname = `/${name}`
  t.teardown(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  })

  const opened = await Promise.allSettled([1, 2, 3].map(() => openDatabase({ url: url.toString(), dataDir: 'memory://' })))
  t.same(opened.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled'], 'every instance started')
  for (const o of opened) if (o.status === 'fulfilled') await o.value.close()
  for (const o of opened) if (o.status === 'rejected') t.comment(String(o.reason))

  const check = postgres(url.toString(), { max: 1, onnotice: () => {} })
  t.teardown(() => check.end())
  const journal = readdirSync(migrationsFolder).filter((f) => f.endsWith('.sql'))
  const [{ n }] = await check<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`
  t.equal(n, journal.length, 'each migration recorded once')
  const [{ users }] = await check<{ users: number }[]>`select count(*)::int as users from users`
  t.equal(users, 0, 'and the schema is there')
})
