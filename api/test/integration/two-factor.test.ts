import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { Secret, TOTP } from 'otpauth'
import { auditEvents, users } from '../../src/db/schema.ts'
import { refused, setupApp, type TestApp, type TestUser } from '../helpers/app.ts'

/**
 * TOTP two-factor sign-in: enrolment with a sealed secret, confirmation, recovery codes shown once
 * and kept as hashes, sign-in with a code that works once per time step, turning it off with the
 * password or a code, and the site setting that requires it of everyone.
 */
const h = await setupApp(t)
const { db } = h.db.database

const codeAt = (secret: string, timestamp: number) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp })
const signIn = (u: TestUser, code?: string) => h.client().POST('/api/v1/auth/login', { body: { email: u.email, password: u.password, ...(code ? { code } : {}) } })
const row = async (id: string) => (await db.select().from(users).where(eq(users.id, id)))[0]!

/** Enrols `u` and returns the secret, the moment its confirming code belongs to, and the recovery codes. */
async function enrol(u: TestUser) {
  const { data: started } = await u.client.POST('/api/v1/me/two-factor', { body: {} })
  const at = Date.now()
  const { data: confirmed } = await u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(started!.secret, at) } })
  return { secret: started!.secret, uri: started!.uri, at, recoveryCodes: confirmed!.recoveryCodes }
}

t.test('enrolment: a sealed secret, confirmed with a code, ten recovery codes kept as hashes', async (t) => {
  const u = await h.createUser('csr')
  const early = await refused(u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: '123456' } }))
  t.equal(early.code, 'TOTP_NOT_STARTED', 'nothing to confirm before set-up starts')

  const { data: started } = await u.client.POST('/api/v1/me/two-factor', { body: {} })
  t.match(started!.uri, new RegExp(`^otpauth://totp/Helpline:${encodeURIComponent(u.email)}\\?.*secret=${started!.secret}`), 'an otpauth URI for the QR code')
  const pending = await row(u.id)
  t.ok(pending.totpPendingSecret, 'the pending secret is stored')
  t.notMatch(pending.totpPendingSecret!, started!.secret, 'sealed, not in plain text')
  t.equal(h.keyring.open(pending.totpPendingSecret!), started!.secret, 'and opens with the server secret')
  t.equal((await signIn(u)).data?.user.twoFactorEnabled, false, 'sign-in is unchanged until confirmed')

  const wrong = await refused(u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: '000000' } }))
  t.equal(wrong.status, 422)
  t.equal(wrong.code, 'TOTP_INVALID')
  t.ok(wrong.errors.code, 'the code field is named')

  const { data: confirmed } = await u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(started!.secret, Date.now()) } })
  t.equal(confirmed!.recoveryCodes.length, 10, 'ten recovery codes')
  t.equal(new Set(confirmed!.recoveryCodes).size, 10, 'all different')
  const on = await row(u.id)
  t.ok(on.totpEnabledAt)
  t.equal(on.totpPendingSecret, null)
  t.equal(h.keyring.open(on.totpSecret!), started!.secret)
  const stored = JSON.stringify(on)
  t.notOk(confirmed!.recoveryCodes.some((c) => stored.includes(c) || stored.includes(c.replaceAll('-', ''))), 'recovery codes are stored only as hashes')
  t.equal((await u.client.GET('/api/v1/me')).data?.twoFactorEnabled, true)
  const [event] = await db.select().from(auditEvents).where(sql`${auditEvents.type} = 'user.two_factor_enabled' and ${auditEvents.targetId} = ${u.id}`)
  t.ok(event, 'recorded in the site audit trail')

  const logs = h.logs.join('\n')
  t.notOk(logs.includes(started!.secret), 'the secret never reaches the log')
  t.notOk(confirmed!.recoveryCodes.some((c) => logs.includes(c)), 'nor the recovery codes')
})

t.test('signing in asks for a code; each code works once', async (t) => {
  const u = await h.createUser('csr')
  const { secret, at, recoveryCodes } = await enrol(u)

  const none = await refused(signIn(u))
  t.equal(none.status, 401)
  t.equal(none.code, 'TOTP_REQUIRED', 'the password alone is not enough')
  const badPassword = await refused(signIn({ ...u, password: 'not-the-password' }, codeAt(secret, at + 30_000)))
  t.equal(badPassword.code, 'INVALID_CREDENTIALS', 'a code does not stand in for the password')
  t.equal((await refused(signIn(u, '000000'))).code, 'TOTP_INVALID', 'a wrong code')
  t.equal((await refused(signIn(u, codeAt(secret, at)))).code, 'TOTP_INVALID', 'the code that confirmed the set-up is spent')

  const next = codeAt(secret, at + 30_000)
  const { data } = await signIn(u, next)
  t.match(data?.token, /^hls_/, 'the next time step’s code signs in')
  t.equal((await refused(signIn(u, next))).code, 'TOTP_INVALID', 'the same code twice works once')

  const { data: recovered } = await signIn(u, recoveryCodes[0]!.toUpperCase())
  t.ok(recovered?.token, 'a recovery code signs in (case does not matter)')
  t.equal((await refused(signIn(u, recoveryCodes[0]!))).code, 'TOTP_INVALID', 'once')
  t.equal(((await row(u.id)).totpRecoveryCodes ?? []).length, 9, 'nine are left')
})

t.test('turning two-factor off needs the password or a code', async (t) => {
  const u = await h.createUser('csr')
  const off = await refused(u.client.POST('/api/v1/me/two-factor/disable', { body: { password: u.password } }))
  t.equal(off.code, 'TOTP_NOT_ENABLED', 'nothing to turn off yet')
  const { secret, at } = await enrol(u)
  const nothing = await refused(u.client.POST('/api/v1/me/two-factor/disable', { body: {} }))
  t.equal(nothing.status, 422)
  t.equal(nothing.code, 'PROOF_REQUIRED')
  const wrong = await refused(u.client.POST('/api/v1/me/two-factor/disable', { body: { password: 'not-the-password' } }))
  t.equal(wrong.code, 'WRONG_PASSWORD')
  t.ok(wrong.errors.password)
  const badCode = await refused(u.client.POST('/api/v1/me/two-factor/disable', { body: { code: '000000' } }))
  t.equal(badCode.code, 'TOTP_INVALID')
  await u.client.POST('/api/v1/me/two-factor/disable', { body: { code: codeAt(secret, at + 30_000) } })
  t.equal((await row(u.id)).totpSecret, null, 'the secret is gone')
  t.ok((await signIn(u)).data?.token, 'the password alone signs in again')
  // And with the password instead of a code.
  await enrol(u)
  await u.client.POST('/api/v1/me/two-factor/disable', { body: { password: u.password } })
  t.equal((await u.client.GET('/api/v1/me')).data?.twoFactorEnabled, false)
})

t.test('replacing the authenticator needs the password or a code', async (t) => {
  const u = await h.createUser('csr')
  const { secret, at } = await enrol(u)
  const bare = await refused(u.client.POST('/api/v1/me/two-factor', { body: {} }))
  t.equal(bare.status, 422)
  t.equal(bare.code, 'PROOF_REQUIRED', 'a borrowed sign-in cannot swap the second factor')
  t.equal((await refused(u.client.POST('/api/v1/me/two-factor', { body: { password: 'not-the-password' } }))).code, 'WRONG_PASSWORD')
  const { data: again } = await u.client.POST('/api/v1/me/two-factor', { body: { password: u.password } })
  t.not(again!.secret, secret, 'a new secret')
  t.equal((await signIn(u, codeAt(secret, at + 30_000))).data?.user.twoFactorEnabled, true, 'the old authenticator works until the new one is confirmed')
  await u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(again!.secret, Date.now()) } })
  t.equal((await refused(signIn(u, codeAt(secret, at + 60_000)))).code, 'TOTP_INVALID', 'then only the new one does')
})

t.test('the site can require two-factor of everyone', async (t) => {
  const csr = await h.createUser('csr')
  const api = (await csr.client.POST('/api/v1/tokens', { body: { name: 'robot', scopes: ['read'] } })).data!.token
  const admin = await h.createUser('admin')
  const { data: settings } = await admin.client.PATCH('/api/v1/settings', { body: { requireTwoFactor: true } })
  t.same(settings, { requireTwoFactor: true })
  t.teardown(() => db.execute(sql`delete from site_settings`))
  const [event] = await db.select().from(auditEvents).where(sql`${auditEvents.type} = 'settings.changed'`)
  t.same(event?.data, { requireTwoFactor: true }, 'recorded in the site audit trail')

  for (const [who, client] of [
    ['a CSR’s sign-in', csr.client],
    ['their API token', h.client(api)],
    ['the admin who turned it on', admin.client],
  ] as const) {
    const blocked = await refused(client.GET('/api/v1/sessions'))
    t.equal(blocked.status, 403, `${who} may do nothing else`)
    t.equal(blocked.code, 'TOTP_ENROLLMENT_REQUIRED')
  }
  t.equal((await csr.client.GET('/api/v1/me')).data?.twoFactorEnrollmentRequired, true, 'the console learns it from /me')
  const { secret, at } = await enrol(csr)
  t.ok((await csr.client.GET('/api/v1/sessions')).data, 'once set up, everything is open again')
  t.equal((await csr.client.GET('/api/v1/me')).data?.twoFactorEnrollmentRequired, false)
  const kept = await refused(csr.client.POST('/api/v1/me/two-factor/disable', { body: { code: codeAt(secret, at + 30_000) } }))
  t.equal(kept.status, 409)
  t.equal(kept.code, 'TOTP_REQUIRED_BY_SITE', 'and it cannot be turned off while required')

  await enrol(admin)
  t.same((await admin.client.GET('/api/v1/settings')).data, { requireTwoFactor: true })
  t.same((await admin.client.PATCH('/api/v1/settings', { body: { requireTwoFactor: false } })).data, { requireTwoFactor: false })
  t.ok((await h.client(api).GET('/api/v1/sessions')).data, 'off again: tokens of users without two-factor work')
})

t.test('codes are rate limited like passwords', async (t) => {
  const limited: TestApp = await setupApp(t, { LOGIN_MAX_ATTEMPTS: 3 })
  const u = await limited.createUser('csr')
  const { data: started } = await u.client.POST('/api/v1/me/two-factor', { body: {} })
  // Starting counts too: it may check a password.
  for (let i = 0; i < 2; i++) t.equal((await refused(u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: '000000' } }))).status, 422)
  const confirm = await refused(u.client.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(started!.secret, Date.now()) } }))
  t.equal(confirm.status, 429, 'guessing the confirmation code is limited')
  const disable = await refused(u.client.POST('/api/v1/me/two-factor/disable', { body: { password: 'guess-guess' } }))
  t.equal(disable.status, 429, 'so is guessing the password to turn it off')
  const restart = await refused(u.client.POST('/api/v1/me/two-factor', { body: { password: 'guess-guess' } }))
  t.equal(restart.status, 429, 'or to replace the authenticator')

  const v = await limited.createUser('csr')
  const { data: s } = await v.client.POST('/api/v1/me/two-factor', { body: {} })
  await v.client.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(s!.secret, Date.now()) } })
  const attempt = () => limited.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: v.email, password: v.password, code: '000000' } })
  // createUser signed v in once already.
  for (let i = 0; i < 2; i++) t.equal((await attempt()).json().code, 'TOTP_INVALID')
  const res = await attempt()
  t.equal(res.statusCode, 429, 'wrong codes at sign-in count against the account’s budget')
})
