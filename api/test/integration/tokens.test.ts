import t, { type Test } from 'tap'
import { and, eq, sql } from 'drizzle-orm'
import { accessTokens, auditEvents, users } from '../../src/db/schema.ts'
import { refused, secondInstance, setupApp, type TestApp, type TestUser } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/db.ts'
import { checkResponse } from '../helpers/contract.ts'
import { openStream, type SseStream } from '../helpers/sse.ts'

/**
 * Stolen credentials can be contained: tokens carry scopes, only a console sign-in does the
 * strongest things, disabling a user or setting their password ends everything they hold, admins
 * see and end any user's sign-ins and tokens, and open live streams end with their credential.
 */
const h = await setupApp(t)
const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
const { db } = h.db.database

async function token(user: TestUser, scopes?: ('read' | 'sessions' | 'admin')[], extra: { expiresAt?: string } = {}) {
  const { data } = await user.client.POST('/api/v1/tokens', { body: { name: `t-${Math.random().toString(36).slice(2, 7)}`, ...(scopes ? { scopes } : {}), ...extra } })
  return data!
}
const reasonOf = async (id: string) => (await db.select({ r: accessTokens.revokedReason }).from(accessTokens).where(eq(accessTokens.id, id)))[0]?.r
const idOf = async (secret: string) => (await db.select({ id: accessTokens.id }).from(accessTokens).where(sql`${accessTokens.prefix} = ${secret.slice(0, 8)}`))[0]!.id

t.test('a token gets read only unless scopes are named; only an admin gives admin', async (t) => {
  const csr = await h.createUser('csr')
  const plain = await token(csr)
  t.same(plain.scopes, ['read'], 'no scopes named: read only')
  t.ok((await h.client(plain.token).GET('/api/v1/sessions')).data, 'it reads')
  const write = await refused(h.client(plain.token).POST('/api/v1/sessions', { body: { customerName: 'Nope' } }))
  t.equal(write.status, 403)
  t.equal(write.code, 'SCOPE_REQUIRED')
  t.match(write.message, '"sessions"', 'the message names the scope')

  const runner = await token(csr, ['read', 'sessions'])
  t.ok((await h.client(runner.token).POST('/api/v1/sessions', { body: { customerName: 'Yes' } })).data, 'a sessions token runs sessions')

  const notAdmin = await refused(csr.client.POST('/api/v1/tokens', { body: { name: 'climb', scopes: ['admin'] } }))
  t.equal(notAdmin.status, 422)
  t.equal(notAdmin.code, 'SCOPE_NOT_ALLOWED')
  t.ok(notAdmin.errors.scopes, 'the scopes field is named')

  const adminToken = await token(h.admin, ['admin'])
  t.same(adminToken.scopes, ['admin'])
  t.ok((await h.client(adminToken.token).GET('/api/v1/users')).data, 'an admin token with the admin scope lists users')
  const readOnlyAdmin = await token(h.admin, ['read'])
  const refusedAdmin = await refused(h.client(readOnlyAdmin.token).GET('/api/v1/users'))
  t.equal(refusedAdmin.code, 'SCOPE_REQUIRED', 'an admin’s token without the admin scope cannot use admin routes')
  t.match(refusedAdmin.message, '"admin"')
})

t.test('an admin’s token without the admin scope reaches no more than a CSR', async (t) => {
  const csr = await h.createUser('csr')
  const { data: theirs } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Private' } })
  const limited = h.client((await token(h.admin, ['read', 'sessions'])).token)
  t.equal((await refused(limited.GET('/api/v1/sessions/{id}', { params: { path: { id: theirs!.id } } }))).status, 404, 'another CSR’s session is not found')
  const full = h.client((await token(h.admin, ['read', 'sessions', 'admin'])).token)
  t.equal((await full.GET('/api/v1/sessions/{id}', { params: { path: { id: theirs!.id } } })).data?.id, theirs!.id, 'with the admin scope it is')
})

t.test('making admins and setting passwords need a console sign-in', async (t) => {
  const robot = h.client((await token(h.admin, ['read', 'sessions', 'admin'])).token)
  const email = () => `made-${Math.random().toString(36).slice(2, 8)}@example.com`
  const admin = await refused(robot.POST('/api/v1/users', { body: { email: email(), name: 'Minted', role: 'admin', password: 'long-enough-password' } }))
  t.equal(admin.status, 403)
  t.equal(admin.code, 'SIGN_IN_REQUIRED', 'a token cannot create an admin')
  const { data: csr } = await robot.POST('/api/v1/users', { body: { email: email(), name: 'Made', role: 'csr', password: 'long-enough-password' } })
  t.equal(csr?.role, 'csr', 'it may create a CSR')
  const path = { params: { path: { id: csr!.id } } }
  t.equal((await refused(robot.PATCH('/api/v1/users/{id}', { ...path, body: { role: 'admin' } }))).code, 'SIGN_IN_REQUIRED', 'nor give the admin role')
  t.equal((await refused(robot.PATCH('/api/v1/users/{id}', { ...path, body: { password: 'another-password-1' } }))).code, 'SIGN_IN_REQUIRED', 'nor set a password')
  t.equal((await robot.PATCH('/api/v1/users/{id}', { ...path, body: { name: 'Renamed' } })).data?.name, 'Renamed', 'it may rename')
  const promoted = await h.admin.client.PATCH('/api/v1/users/{id}', { ...path, body: { role: 'admin' } })
  t.equal(promoted.data?.role, 'admin', 'a console sign-in gives the admin role')
})

t.test('disabling a user ends all their sign-ins and tokens at once', async (t) => {
  const u = await h.createUser('csr')
  const second = await h.login(u.email, u.password)
  const api = await token(u, ['read'])
  await h.admin.client.POST('/api/v1/users/{id}/disable', { params: { path: { id: u.id } } })
  for (const secret of [u.token, second, api.token]) {
    t.equal((await refused(h.client(secret).GET('/api/v1/me'))).status, 401, 'refused on the next request')
    t.equal(await reasonOf(await idOf(secret)), 'user_disabled')
  }
  await h.admin.client.POST('/api/v1/users/{id}/enable', { params: { path: { id: u.id } } })
  t.equal((await refused(h.client(api.token).GET('/api/v1/me'))).status, 401, 'enabling again does not bring them back')
})

t.test('an admin setting a password ends all the user’s sign-ins and tokens', async (t) => {
  const u = await h.createUser('csr')
  const api = await token(u, ['read', 'sessions'])
  await h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: u.id } }, body: { password: 'reset-by-admin-1' } })
  for (const secret of [u.token, api.token]) {
    t.equal((await refused(h.client(secret).GET('/api/v1/me'))).status, 401)
    t.equal(await reasonOf(await idOf(secret)), 'password_reset')
  }
  t.ok(await h.login(u.email, 'reset-by-admin-1'), 'the new password signs in')
  const [event] = await db.select().from(auditEvents).where(sql`${auditEvents.type} = 'user.password_reset' and ${auditEvents.targetId} = ${u.id}`)
  t.equal(event?.actorId, h.admin.id, 'recorded in the site audit trail')
})

t.test('changing your own password ends your other sign-ins and your API tokens', async (t) => {
  const u = await h.createUser('csr')
  const other = await h.login(u.email, u.password)
  const api = await token(u, ['read'])
  await u.client.PUT('/api/v1/me/password', { body: { currentPassword: u.password, newPassword: 'changed-by-me-1' } })
  t.equal((await refused(h.client(other).GET('/api/v1/me'))).status, 401, 'the other sign-in ended')
  t.equal((await refused(h.client(api.token).GET('/api/v1/me'))).status, 401, 'the API token ended')
  t.equal(await reasonOf(api.id), 'password_changed')
  t.ok((await u.client.GET('/api/v1/me')).data, 'this sign-in stays')
})

t.test('admins list and revoke any user’s sign-ins and tokens', async (t) => {
  const u = await h.createUser('csr')
  const api = await token(u, ['read', 'sessions'])
  await h.client(api.token).GET('/api/v1/me')
  const { data: list } = await h.admin.client.GET('/api/v1/users/{id}/tokens', { params: { path: { id: u.id } } })
  t.same(list!.data.map((x) => x.kind).sort(), ['personal', 'session'], 'both the sign-in and the API token')
  const listed = list!.data.find((x) => x.id === api.id)!
  t.same(listed.scopes, ['read', 'sessions'])
  t.ok(listed.lastUsedAt, 'last use')
  t.equal(listed.lastUsedIp, '127.0.0.1', 'and its address')
  t.same(list!.data.find((x) => x.kind === 'session')!.scopes, ['read', 'sessions'], 'a sign-in carries what the role allows')
  t.notOk(JSON.stringify(list).includes(api.token), 'no secret is listed')

  await h.admin.client.DELETE('/api/v1/users/{id}/tokens/{tokenId}', { params: { path: { id: u.id, tokenId: api.id } } })
  t.equal((await refused(h.client(api.token).GET('/api/v1/me'))).status, 401, 'the token stops on the next request')
  t.equal(await reasonOf(api.id), 'revoked_by_admin')
  const [event] = await db.select().from(auditEvents).where(sql`${auditEvents.type} = 'token.revoked' and ${auditEvents.targetId} = ${api.id}`)
  t.equal(event?.actorId, h.admin.id, 'recorded in the site audit trail')
  t.equal(event?.data.userId, u.id)

  const again = await refused(h.admin.client.DELETE('/api/v1/users/{id}/tokens/{tokenId}', { params: { path: { id: u.id, tokenId: api.id } } }))
  t.equal(again.code, 'TOKEN_NOT_FOUND', 'a revoked one is gone')
  const mine = await token(h.admin)
  const wrongUser = await refused(h.admin.client.DELETE('/api/v1/users/{id}/tokens/{tokenId}', { params: { path: { id: u.id, tokenId: mine.id } } }))
  t.equal(wrongUser.status, 404, 'a token is revoked only through its own user')
  const nobody = await refused(h.admin.client.GET('/api/v1/users/{id}/tokens', { params: { path: { id: '00000000-0000-4000-8000-0000000000ff' } } }))
  t.equal(nobody.code, 'USER_NOT_FOUND')
})

t.test('every use keeps last use and the client address current', async (t) => {
  const u = await h.createUser('csr')
  const api = await token(u, ['read'])
  const from = async (remoteAddress: string) =>
    t.equal((await h.app.inject({ url: '/api/v1/me', remoteAddress, headers: { authorization: `Bearer ${api.token}` } })).statusCode, 200)
  const listed = async () => (await u.client.GET('/api/v1/tokens')).data!.data.find((x) => x.id === api.id)!
  await from('203.0.113.7')
  const first = await listed()
  t.equal(first.lastUsedIp, '203.0.113.7')
  await from('198.51.100.23')
  const second = await listed()
  t.equal(second.lastUsedIp, '198.51.100.23', 'a new address is recorded at once, within the minute')
  t.ok(Date.parse(second.lastUsedAt!) >= Date.parse(first.lastUsedAt!), 'with the time of that use')
})

/** Opens a live stream of a new session of `user`, authenticated with `secret`. */
async function stream(t: Test, user: TestUser, secret: string): Promise<SseStream> {
  const { data: s } = await user.client.POST('/api/v1/sessions', { body: { customerName: 'Watched' } })
  const opened = await openStream(`${address}/api/v1/sessions/${s!.id}/stream`, { authorization: `Bearer ${secret}` })
  t.equal(opened.status, 200, 'the stream opens')
  t.match(await opened.next(), /^retry: /, 'and starts')
  return opened
}

/** Waits for the stream's error event and its end; returns the event and how long after `since` it came. */
async function endsWithError(s: SseStream, since: number) {
  const events = await s.until((events) => events.some((e) => e.event === 'error'))
  const ms = Date.now() - since
  await s.ended
  return { error: events.find((e) => e.event === 'error')!.data, ms }
}

t.test('an open live stream ends within a second when its credential ends', async (t) => {
  const u = await h.createUser('csr')

  await t.test('the owner revokes the token', async (t) => {
    const api = await token(u, ['read'])
    const s = await stream(t, u, api.token)
    const start = Date.now()
    await u.client.DELETE('/api/v1/tokens/{id}', { params: { path: { id: api.id } } })
    const { error, ms } = await endsWithError(s, start)
    t.equal(error.code, 'INVALID_TOKEN')
    t.match(error.message, /revoked/)
    t.ok(ms < 1000, `ended ${ms} ms after the revocation`)
  })

  await t.test('an admin revokes the token', async (t) => {
    const api = await token(u, ['read'])
    const s = await stream(t, u, api.token)
    const start = Date.now()
    await h.admin.client.DELETE('/api/v1/users/{id}/tokens/{tokenId}', { params: { path: { id: u.id, tokenId: api.id } } })
    const { error, ms } = await endsWithError(s, start)
    t.equal(error.code, 'INVALID_TOKEN')
    t.ok(ms < 1000, `ended ${ms} ms after the revocation`)
  })

  await t.test('an admin sets the password', async (t) => {
    const sign = await h.login(u.email, u.password)
    const s = await stream(t, u, sign)
    u.password = 'stream-reset-password-1'
    await h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: u.id } }, body: { password: u.password } })
    // Timed from the answer: hashing the new password (scrypt) comes before the revocation.
    const { error, ms } = await endsWithError(s, Date.now())
    t.equal(error.code, 'INVALID_TOKEN')
    t.ok(ms < 1000, `ended ${ms} ms after the reset`)
    u.token = await h.login(u.email, u.password)
    u.client = h.client(u.token)
  })

  await t.test('the token expires', async (t) => {
    const expiresAt = new Date(Date.now() + 1500)
    const api = await token(u, ['read'], { expiresAt: expiresAt.toISOString() })
    const s = await stream(t, u, api.token)
    const { error, ms } = await endsWithError(s, expiresAt.getTime())
    t.equal(error.code, 'INVALID_TOKEN')
    t.match(error.message, /expired/)
    t.ok(ms < 1000, `ended ${ms} ms after the expiry`)
  })

  await t.test('the user is disabled', async (t) => {
    const s = await stream(t, u, u.token)
    const start = Date.now()
    await h.admin.client.POST('/api/v1/users/{id}/disable', { params: { path: { id: u.id } } })
    const { error, ms } = await endsWithError(s, start)
    t.equal(error.code, 'ACCOUNT_DISABLED')
    t.ok(ms < 1000, `ended ${ms} ms after the user was disabled`)
  })
})

t.test('a user holds at most 20 open live streams', async (t) => {
  const u = await h.createUser('csr')
  const { data: s } = await u.client.POST('/api/v1/sessions', { body: { customerName: 'Popular' } })
  const path = `/api/v1/sessions/${s!.id}/stream`
  const open: SseStream[] = []
  t.teardown(() => open.forEach((o) => o.close()))
  for (let i = 0; i < 20; i++) {
    const o = await openStream(address + path, { authorization: `Bearer ${u.token}` })
    open.push(o)
    t.equal(o.status, 200, `stream ${i + 1} opens`)
  }
  const extra = await openStream(address + path, { authorization: `Bearer ${(await token(u, ['read'])).token}` })
  t.equal(extra.status, 429, 'the 21st is refused, whichever token asks')
  const body = await extra.next()
  t.equal(JSON.parse(body).code, 'TOO_MANY_STREAMS')
  t.same(checkResponse('GET', path, extra.status, extra.contentType, body)?.problems, [], 'as the contract says')
  const other = await h.createUser('csr')
  const { data: theirs } = await other.client.POST('/api/v1/sessions', { body: { customerName: 'Theirs' } })
  const elsewhere = await openStream(`${address}/api/v1/sessions/${theirs!.id}/stream`, { authorization: `Bearer ${other.token}` })
  t.equal(elsewhere.status, 200, 'another user is not affected')
  elsewhere.close()

  open.shift()!.close()
  let again: SseStream | undefined
  // The server notices the closed socket asynchronously; a closed stream frees its place.
  for (let i = 0; i < 50 && again?.status !== 200; i++) {
    again = await openStream(address + path, { authorization: `Bearer ${u.token}` })
    if (again.status !== 200) await new Promise((r) => setTimeout(r, 20))
  }
  t.equal(again?.status, 200, 'closing one frees a place')
  if (again) open.push(again)
})

t.test('two admins disabling or demoting each other at once: exactly one succeeds', async (t) => {
  // A site of its own with exactly two active admins.
  const site: TestApp = await setupApp(t)
  const pair = [site.admin, await site.createUser('admin')] as [TestUser, TestUser]
  const path = (id: string) => ({ params: { path: { id } } })
  const actions = {
    disable: (by: TestUser, id: string) => by.client.POST('/api/v1/users/{id}/disable', path(id)),
    demote: (by: TestUser, id: string) => by.client.PATCH('/api/v1/users/{id}', { ...path(id), body: { role: 'csr' } }),
  }
  /**
   * Both requests inside the critical section at once. PGlite runs one statement at a time, so
   * sending both together interleaves them. On PostgreSQL the test holds the admin rows itself
   * until both requests, past authentication, wait for those locks, then lets them race.
   */
  const contend = async <T,>(fire: () => Promise<T>[]) => {
    const pg = site.db.database.postgres
    if (!pg) return Promise.allSettled(fire())
    let settled: Promise<PromiseSettledResult<T>[]> | undefined
    await pg.begin(async (tx) => {
      await tx`select id from users where role = 'admin' and not disabled for update`
      settled = Promise.allSettled(fire())
      for (;;) {
        // Activity statistics are a snapshot per transaction unless cleared.
        await tx`select pg_stat_clear_snapshot()`
        const [{ n }] = (await tx`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`) as unknown as [{ n: number }]
        if (n >= 2) break
        await new Promise((r) => setTimeout(r, 10))
      }
    })
    return settled!
  }
  for (const round of [0, 1, 2, 3, 4, 5]) {
    const kind = round % 2 === 0 ? 'disable' : 'demote'
    const [a, b] = pair
    const results = await contend(() => [actions[kind](a, b.id), actions[kind](b, a.id)])
    const won = results.findIndex((r) => r.status === 'fulfilled')
    const lost = results.filter((r) => r.status === 'rejected')
    t.equal(lost.length, 1, `round ${round} (${kind}): exactly one of the two is refused`)
    t.equal((lost[0] as PromiseRejectedResult | undefined)?.reason?.code, 'LAST_ADMIN', 'as the last admin')
    const active = await site.db.database.db.select({ id: users.id }).from(users).where(and(eq(users.role, 'admin'), eq(users.disabled, false)))
    t.equal(active.length, 1, 'one active admin is left')
    // The winner brings the other back for the next round.
    const winner = pair[won]!
    const loser = pair[1 - won]!
    await winner.client.POST('/api/v1/users/{id}/enable', path(loser.id))
    await winner.client.PATCH('/api/v1/users/{id}', { ...path(loser.id), body: { role: 'admin' } })
    loser.token = await site.login(loser.email, loser.password)
    loser.client = site.client(loser.token)
  }
})

const postgresOnly = testDatabaseUrl ? false : 'needs PostgreSQL: set TEST_DATABASE_URL (LISTEN/NOTIFY between two instances)'
t.test('a revocation on one instance ends a stream held by another within a second', { skip: postgresOnly }, async (t) => {
  const { address: otherAddress } = await secondInstance(t, h)
  const u = await h.createUser('csr')
  const api = await token(u, ['read'])
  const { data: s } = await u.client.POST('/api/v1/sessions', { body: { customerName: 'Elsewhere' } })
  const held = await openStream(`${otherAddress}/api/v1/sessions/${s!.id}/stream`, { authorization: `Bearer ${api.token}` })
  t.equal(held.status, 200)
  t.match(await held.next(), /^retry: /)
  const start = Date.now()
  await u.client.DELETE('/api/v1/tokens/{id}', { params: { path: { id: api.id } } })
  const { error, ms } = await endsWithError(held, start)
  t.equal(error.code, 'INVALID_TOKEN')
  t.ok(ms < 1000, `the other instance ended it ${ms} ms after the revocation`)
})
