import { createServer, type AddressInfo } from 'node:net'
import postgres from 'postgres'
import t from 'tap'
import { pgSocketFactory } from '../../src/db/pg-socket.ts'
import { isDatabaseUnavailable } from '../../src/db/unavailable.ts'

/**
 * What postgres.js meets in front of a database that is down: something that accepts the
 * connection and closes it at once (a proxy, a pooler, a load balancer). Without the socket
 * factory postgres.js reconnects in a tight loop while the query waits for ever; with it the
 * query fails at once, as a database-unavailable error (503).
 */
t.test('a connection closed before the server said anything fails the query instead of looping', async (t) => {
  let connections = 0
  const door = createServer((socket) => {
    connections++
    socket.destroy()
  })
  await new Promise<void>((r) => door.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => door.close(r)))
  const port = (door.address() as AddressInfo).port
  const sql = postgres(`postgres://nobody@127.0.0.1:${port}/nothing`, {
    max: 1,
    connect_timeout: 30,
    onnotice: () => {},
    // `socket` is documented but missing from postgres.js's types (see db/client.ts).
    ...({ socket: pgSocketFactory(5000) } as object),
  })
  t.teardown(() => sql.end({ timeout: 0 }))
  const started = Date.now()
  const err = await sql`select 1`.then(
    () => undefined,
    (e: unknown) => e,
  )
  const took = Date.now() - started
  t.ok(err, 'the query fails')
  t.equal((err as { code?: string }).code, 'ECONNRESET')
  t.ok(isDatabaseUnavailable(err), 'as the database being unavailable (503)')
  t.ok(took < 2000, `at once (${took} ms), not after the 30 s connect timeout`)
  t.ok(connections < 5, `after ${connections} connection(s), not thousands`)
})

t.test('database-unavailable errors: driver codes, SQLSTATEs, PGlite, wrapped causes', async (t) => {
  const coded = (code: string) => Object.assign(new Error(code), { code })
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', '08006', '08001', '57P01', '57P03', '53300', '57014']) {
    t.ok(isDatabaseUnavailable(coded(code)), code)
  }
  t.ok(isDatabaseUnavailable(new Error('Failed query: select 1', { cause: coded('57P01') })), 'drizzle’s wrapper around the driver’s error')
  t.ok(isDatabaseUnavailable(new Error('PGlite is closed')), 'a closed PGlite')
  t.ok(isDatabaseUnavailable(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')])), 'a connect to several addresses')
  for (const code of ['23505', '40P01', '42P01', '22P02']) t.notOk(isDatabaseUnavailable(coded(code)), `${code} is a bug or a refusal, not an outage`)
  t.notOk(isDatabaseUnavailable(new Error('boom')))
})
