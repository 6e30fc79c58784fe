import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import t from 'tap'
import postgres from 'postgres'
import { migrationsFolder, openDatabase } from '../../src/db/client.ts'
import { setupApp } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/db.ts'

/**
 * Starting behind a load balancer. Instances that start at the same moment on an empty PostgreSQL
 * database migrate once: the migrations run under an advisory lock (db/client.ts), so the others
 * wait, then find nothing to do. Without the lock one of them died on a unique violation in
 * drizzle's migrations table. And X-Forwarded-For is believed from the balancer only.
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
  const [recorded] = await check<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`
  t.equal(recorded?.n, journal.length, 'each migration recorded once')
  const [empty] = await check<{ n: number }[]>`select count(*)::int as n from users`
  t.equal(empty?.n, 0, 'and the schema is there')
})

t.test('TRUST_PROXY: behind the balancer, rate limits count each client, not the proxy', async (t) => {
  // Requests come from 127.0.0.1 (the "proxy"); X-Forwarded-For names the customer.
  const h = await setupApp(t, { TRUST_PROXY: '127.0.0.1', JOIN_MAX_ATTEMPTS_PER_IP: 1 })
  const join = (client: string) =>
    h.inject({
      method: 'POST',
      url: '/api/v1/agent/join',
      headers: { 'x-forwarded-for': client },
      payload: { number: '000-000-000', protocol: 1, agentVersion: '0.1.0', platform: { os: 'linux', osVersion: '12', arch: 'x64', hostname: 'pc', kernel: '6' }, publicKey: 'x'.repeat(100) },
    })
  t.equal((await join('198.51.100.1')).statusCode, 404, 'one customer’s wrong number')
  t.equal((await join('198.51.100.2')).statusCode, 404, 'another customer has a budget of their own')
  t.equal((await join('198.51.100.1')).statusCode, 429, 'the first one’s second try is over its limit')
})
