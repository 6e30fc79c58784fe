import t from 'tap'
import { and, asc, eq, sql } from 'drizzle-orm'
import { Secret, TOTP } from 'otpauth'
import { accessTokens, chatMessages, commands, consentRequests, sessionEvents } from '../../src/db/schema.ts'
import { hashToken } from '../../src/lib/crypto.ts'
import { joinAgent } from '../helpers/agent.ts'
import { secondInstance, setupApp, type TestUser } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/db.ts'

/**
 * CSR sign-ins and API tokens are resolved from memory after their first lookup. Each fact a
 * credential is derived from — the token itself (revoked, signed out, ended by an admin), its
 * user (disabled, password set or changed, role, two-factor enrolment), the site's two-factor
 * requirement — ends or changes what the memory gives on the credential's very next request on
 * this instance, and within moments on another one (PostgreSQL: a second instance on the same
 * database); expiry is checked against the clock on every use, and sliding still slides. And the
 * consent answer, written in fewer statements, still releases what waited, in order.
 */
/** The assertions the helpers make, on whichever test calls them. */
type Check = Pick<typeof t, 'equal' | 'ok'>

const h = await setupApp(t)
const { db } = h.app.database
const other = testDatabaseUrl ? await secondInstance(t, h) : undefined

const codeAt = (secret: string, timestamp: number) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp })

async function statusHere(token: string, url: string) {
  return (await h.inject({ method: 'GET', url, token })).statusCode
}

async function answerThere(token: string, url: string) {
  const res = await fetch(`${other!.address}${url}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, code: ((await res.json().catch(() => ({}))) as { code?: string }).code }
}

/** Uses the credential on both instances, so that each holds it in memory. */
async function useEverywhere(tt: Check, token: string, url = '/api/v1/me') {
  tt.equal(await statusHere(token, url), 200, `${url} works here`)
  if (other) tt.equal((await answerThere(token, url)).status, 200, `${url} works on the other instance`)
}

/**
 * The credential's next request here answers `status` (the change was made here), and on the
 * other instance within a second (its announcement travels through PostgreSQL).
 */
async function answersEverywhere(tt: Check, token: string, status: number, url = '/api/v1/me', code?: string) {
  const here = await h.inject({ method: 'GET', url, token })
  tt.equal(here.statusCode, status, `${url}: ${status} here, on the very next request`)
  if (code) tt.equal(here.json<{ code: string }>().code, code)
  if (!other) return
  const changed = Date.now()
  let there = await answerThere(token, url)
  while (there.status !== status && Date.now() - changed < 3000) there = await answerThere(token, url)
  tt.equal(there.status, status, `${url}: ${status} on the other instance ${Date.now() - changed} ms after the change`)
  if (code) tt.equal(there.code, code)
  tt.ok(Date.now() - changed < 1000, 'at once')
}

const tokenIdOf = async (token: string) => (await db.select({ id: accessTokens.id }).from(accessTokens).where(eq(accessTokens.tokenHash, hashToken(token))))[0]!.id
const apiToken = async (u: TestUser, scopes: ('read' | 'sessions' | 'admin')[] = ['read'], expiresAt?: string) =>
  (await u.client.POST('/api/v1/tokens', { body: { name: 'robot', scopes, ...(expiresAt ? { expiresAt } : {}) } })).data!

t.test('memory answers: a revocation made behind the app’s back (no announcement) is not seen until memory is dropped', async (t) => {
  const u = await h.createUser('csr')
  await useEverywhere(t, u.token)
  await db.update(accessTokens).set({ revokedAt: new Date(), revokedReason: 'revoked' }).where(eq(accessTokens.tokenHash, hashToken(u.token)))
  t.equal(await statusHere(u.token, '/api/v1/me'), 200, 'accepted from memory: no lookup per request')
  if (!other) return
  t.equal((await answerThere(u.token, '/api/v1/me')).status, 200, 'also on the other instance')
  // The LISTEN connection drops: announcements may have been missed, so memory is forgotten.
  await db.execute(sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`)
  const dropped = Date.now()
  let status = 200
  while (status === 200 && Date.now() - dropped < 5000) {
    await new Promise((r) => setTimeout(r, 50))
    status = await statusHere(u.token, '/api/v1/me')
  }
  t.equal(status, 401, `refused ${Date.now() - dropped} ms after the LISTEN connection dropped`)
})

t.test('an API token revoked by its owner, a sign-out, a sign-in ended by an admin', async (t) => {
  const u = await h.createUser('csr')
  const api = await apiToken(u)
  await useEverywhere(t, api.token)
  t.equal((await u.client.DELETE('/api/v1/tokens/{id}', { params: { path: { id: api.id } } })).response.status, 204)
  await answersEverywhere(t, api.token, 401)

  const signIn = await h.login(u.email, u.password)
  await useEverywhere(t, signIn)
  t.equal((await h.inject({ method: 'POST', url: '/api/v1/auth/logout', token: signIn })).statusCode, 204)
  await answersEverywhere(t, signIn, 401)

  await useEverywhere(t, u.token)
  const revoke = await h.admin.client.DELETE('/api/v1/users/{id}/tokens/{tokenId}', { params: { path: { id: u.id, tokenId: await tokenIdOf(u.token) } } })
  t.equal(revoke.response.status, 204)
  await answersEverywhere(t, u.token, 401)
})

t.test('a disabled user: every sign-in and token refused', async (t) => {
  const u = await h.createUser('csr')
  const api = await apiToken(u)
  await useEverywhere(t, u.token)
  await useEverywhere(t, api.token)
  t.equal((await h.admin.client.POST('/api/v1/users/{id}/disable', { params: { path: { id: u.id } } })).response.status, 200)
  await answersEverywhere(t, u.token, 401, '/api/v1/me', 'ACCOUNT_DISABLED')
  await answersEverywhere(t, api.token, 401)
})

t.test('a password set by an admin, and one changed by its owner, end the other credentials', async (t) => {
  const u = await h.createUser('csr')
  await useEverywhere(t, u.token)
  t.equal((await h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: u.id } }, body: { password: 'a-new-password-1' } })).response.status, 200)
  await answersEverywhere(t, u.token, 401)

  const first = await h.login(u.email, 'a-new-password-1')
  const second = await h.login(u.email, 'a-new-password-1')
  await useEverywhere(t, first)
  await useEverywhere(t, second)
  const changed = await h.inject({ method: 'PUT', url: '/api/v1/me/password', token: second, payload: { currentPassword: 'a-new-password-1', newPassword: 'another-password-2' } })
  t.equal(changed.statusCode, 204)
  await answersEverywhere(t, first, 401)
  await answersEverywhere(t, second, 200) // the sign-in that changed it stays
})

t.test('a role taken away: the sign-in and an API token with the admin scope no longer reach admin routes', async (t) => {
  const a = await h.createUser('admin')
  const api = await apiToken(a, ['read', 'admin'])
  await useEverywhere(t, a.token, '/api/v1/users')
  await useEverywhere(t, api.token, '/api/v1/users')
  t.equal((await h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: a.id } }, body: { role: 'csr' } })).response.status, 200)
  await answersEverywhere(t, a.token, 403, '/api/v1/users', 'FORBIDDEN')
  await answersEverywhere(t, api.token, 403, '/api/v1/users', 'FORBIDDEN')
  await answersEverywhere(t, a.token, 200, '/api/v1/me') // reduced, not ended

  // And given back: the admin scope the token was made with works again.
  t.equal((await h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: a.id } }, body: { role: 'admin' } })).response.status, 200)
  await answersEverywhere(t, api.token, 200, '/api/v1/users')
})

t.test('the site’s two-factor requirement, and a user’s enrolment, change what a cached credential may do', async (t) => {
  // The admin who changes the setting has two-factor: the requirement does not lock them out.
  const admin = await h.createUser('admin')
  const enrolAdmin = await admin.client.POST('/api/v1/me/two-factor', { body: {} })
  await admin.client.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(enrolAdmin.data!.secret, Date.now()) } })
  const u = await h.createUser('csr')
  const v = await h.createUser('csr')
  const api = await apiToken(u)
  await useEverywhere(t, u.token, '/api/v1/sessions')
  await useEverywhere(t, api.token, '/api/v1/sessions')
  await useEverywhere(t, v.token, '/api/v1/sessions')
  t.teardown(() => admin.client.PATCH('/api/v1/settings', { body: { requireTwoFactor: false } }))
  t.equal((await admin.client.PATCH('/api/v1/settings', { body: { requireTwoFactor: true } })).response.status, 200)
  await answersEverywhere(t, u.token, 403, '/api/v1/sessions', 'TOTP_ENROLLMENT_REQUIRED')
  await answersEverywhere(t, api.token, 403, '/api/v1/sessions', 'TOTP_ENROLLMENT_REQUIRED')
  await answersEverywhere(t, v.token, 403, '/api/v1/sessions', 'TOTP_ENROLLMENT_REQUIRED')

  // Enrolling (its own route is open before two-factor) opens everything again, everywhere.
  const { data: started } = await u.client.POST('/api/v1/me/two-factor', { body: {} })
  const { response } = await u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(started!.secret, Date.now()) } })
  t.equal(response.status, 200)
  await answersEverywhere(t, u.token, 200, '/api/v1/sessions')
  await answersEverywhere(t, api.token, 200, '/api/v1/sessions')

  // No longer required: open again everywhere for those without two-factor.
  t.equal((await admin.client.PATCH('/api/v1/settings', { body: { requireTwoFactor: false } })).response.status, 200)
  await answersEverywhere(t, v.token, 200, '/api/v1/sessions')
})

const waitUntil = async (at: number) => {
  while (Date.now() <= at) await new Promise((r) => setTimeout(r, Math.max(10, at - Date.now() + 5)))
}

t.test('expiry is checked against the clock on every use, cached or not', async (t) => {
  const u = await h.createUser('csr')
  const expiresAt = Date.now() + 2500
  const api = await apiToken(u, ['read'], new Date(expiresAt).toISOString())
  await useEverywhere(t, api.token)
  await waitUntil(expiresAt)
  t.equal(await statusHere(api.token, '/api/v1/me'), 401, 'an expired API token is refused here')
  if (other) t.equal((await answerThere(api.token, '/api/v1/me')).status, 401, 'and there')

  // A console sign-in whose expiry (as stored) is near, used from the same address within the
  // minute: nothing slides it, and it ends at its expiry although both instances hold it.
  const signIn = await h.login(u.email, u.password)
  const ends = Date.now() + 2000
  await db.update(accessTokens).set({ expiresAt: new Date(ends) }).where(eq(accessTokens.tokenHash, hashToken(signIn)))
  await useEverywhere(t, signIn)
  await waitUntil(ends)
  const refusedHere = await h.inject({ method: 'GET', url: '/api/v1/me', token: signIn })
  t.equal(refusedHere.statusCode, 401)
  t.match(refusedHere.json<{ message: string }>().message, /expired/)
  if (other) t.equal((await answerThere(signIn, '/api/v1/me')).status, 401, 'and there')
})

t.test('a console sign-in still slides: a use from a new address writes last use and moves the expiry, seen by every instance', async (t) => {
  const u = await h.createUser('csr')
  const signIn = await h.login(u.email, u.password)
  const near = Date.now() + 2000
  await db.update(accessTokens).set({ expiresAt: new Date(near) }).where(eq(accessTokens.tokenHash, hashToken(signIn)))
  await useEverywhere(t, signIn) // both hold it with the near expiry
  const moved = await h.inject({ method: 'GET', url: '/api/v1/me', token: signIn, remoteAddress: '10.9.8.7' })
  t.equal(moved.statusCode, 200)
  const [row] = await db.select().from(accessTokens).where(eq(accessTokens.tokenHash, hashToken(signIn)))
  t.equal(row!.lastUsedIp, '10.9.8.7', 'the new address is written at once')
  t.ok(row!.expiresAt!.getTime() > Date.now() + 60 * 60_000, 'the expiry slid forward')
  await waitUntil(near)
  t.equal(await statusHere(signIn, '/api/v1/me'), 200, 'still works here past the old expiry')
  if (other) t.equal((await answerThere(signIn, '/api/v1/me')).status, 200, 'and on the other instance, which had the old expiry in memory')
})

t.test('a consent approved in its few statements: the answer, its chat line and the released command reach the agent in order; the chain verifies', async (t) => {
  const csr = await h.createUser('csr')
  const { data: session } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Consent' } })
  const agent = await joinAgent(h, session!.number)
  const at = { params: { path: { id: session!.id } } }
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at)
  const { data: asked } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  t.same(asked!.commands, [], 'nothing to run before the answer')
  const consentId = refresh!.consent!.id
  const { response } = await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consentId } }, body: { approved: true } })
  t.equal(response.status, 204)
  const { data: answered } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: asked!.cursor, wait: 0 } } })
  t.same(answered!.consents.map((c) => [c.id, c.status]), [[consentId, 'approved']])
  t.same(answered!.commands.map((c) => c.id), [refresh!.command!.id], 'the waiting collection is released')
  // The CSR's chat shows the answer, numbered between the answered request and the released command.
  const [consent] = await db.select({ seq: consentRequests.seq }).from(consentRequests).where(eq(consentRequests.id, consentId))
  const [line] = await db.select({ seq: chatMessages.seq }).from(chatMessages).where(and(eq(chatMessages.sessionId, session!.id), eq(chatMessages.body, 'The customer approved: View system information')))
  const [command] = await db.select({ seq: commands.dispatchSeq }).from(commands).where(eq(commands.id, refresh!.command!.id))
  t.ok(line, 'the system line is in the chat')
  t.ok(consent!.seq < line!.seq && line!.seq < command!.seq!, `request ${consent!.seq} < line ${line!.seq} < release ${command!.seq}`)
  t.ok(answered!.cursor >= command!.seq!, 'the agent’s cursor covers them')
  const events = await db.select({ type: sessionEvents.type }).from(sessionEvents).where(eq(sessionEvents.sessionId, session!.id)).orderBy(asc(sessionEvents.id))
  t.same(events.map((e) => e.type).slice(-3), ['consent.approved', 'command.queued', 'command.delivered'])
  const { data: verified } = await h.admin.client.GET('/api/v1/sessions/{id}/events/verify', at)
  t.match(verified, { ok: true, unchained: 0, firstBroken: null }, 'the audit chain verifies')
  const twice = await h.inject({ method: 'POST', url: `/api/v1/agent/consents/${consentId}/answer`, token: agent.token, payload: { approved: false } })
  t.same([twice.statusCode, twice.json<{ code: string }>().code], [409, 'CONSENT_ALREADY_ANSWERED'])
})
