import t from 'tap'
type Tap = Pick<typeof t, 'equal' | 'notOk' | 'ok'>
import { eq, sql } from 'drizzle-orm'
import { Secret, TOTP } from 'otpauth'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { accessTokens, auditEvents, oidcLogins, siteSettings, users } from '../../src/db/schema.ts'
import { adminEmail, refused, setupApp, type TestApp } from '../helpers/app.ts'
import { startProvider, type Account } from '../helpers/oidc-provider.ts'

/**
 * Single sign-on against a real OpenID Connect provider (oidc-provider, helpers/oidc-provider.ts)
 * on a loopback port. Each flow is the browser's: start → provider → callback → console with a
 * one-time code → exchange. The ID tokens the provider signs are swapped at its token endpoint for
 * forged ones (another audience, expired, signed with another key) where a test says so.
 */

// --- The identity provider and the browser -----------------------------------------------------

const redirectUrl = 'http://helpline.test/api/v1/auth/oidc/callback'
const idp = await startProvider(t, redirectUrl)
const { issuer, clientSecret, accounts } = idp
const account = (id: string, fields: Partial<Account> = {}) => idp.account(id, fields)

const sso = idp.config(redirectUrl)

/** Starts a sign-in and follows the provider's redirects (with its cookies) until it sends the browser back to us. */
async function toProviderAndBack(h: TestApp, accountId: string, options: { returnTo?: string; deny?: boolean } = {}) {
  idp.next = { accountId, ...(options.deny ? { deny: true } : {}) }
  const start = await h.inject({ method: 'GET', url: `/api/v1/auth/oidc/start${options.returnTo ? `?returnTo=${encodeURIComponent(options.returnTo)}` : ''}` })
  if (start.statusCode !== 302) throw new Error(`start answered ${start.statusCode}: ${start.body}`)
  const jar = new Map<string, string>()
  let url = new URL(String(start.headers.location))
  const authorize = url
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } })
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';')
      const at = pair!.indexOf('=')
      jar.set(pair!.slice(0, at), pair!.slice(at + 1))
    }
    const location = res.headers.get('location')
    if (!location) throw new Error(`the provider stopped at ${url.pathname} with ${res.status}: ${(await res.text()).slice(0, 300)}`)
    url = new URL(location, url)
    if (url.href.startsWith(redirectUrl)) return { authorize, callback: url }
  }
  throw new Error('the provider never sent the browser back')
}

const callback = (h: TestApp, url: URL) => h.inject({ method: 'GET', url: url.pathname + url.search })

/** The console's half: reads the one-time code from where the callback sent the browser. */
function consoleParams(location: string) {
  const hash = new URL(location).hash
  if (!hash.startsWith('#/login?')) throw new Error(`not the console's sign-in page: ${location}`)
  return new URLSearchParams(hash.slice('#/login?'.length))
}

async function signInWithSso(h: TestApp, accountId: string, options: { returnTo?: string } = {}) {
  const { callback: url } = await toProviderAndBack(h, accountId, options)
  const back = await callback(h, url)
  if (back.statusCode !== 302) throw new Error(`callback answered ${back.statusCode}: ${back.body}`)
  const params = consoleParams(String(back.headers.location))
  const code = params.get('oidc')!
  const { data, response } = await h.client().POST('/api/v1/auth/oidc/exchange', { body: { code } })
  if (!data) throw new Error(`exchange answered ${response.status}`)
  return { ...data, code, params }
}

const h = await setupApp(t, sso)
const { db } = h.db.database
const userByEmail = async (email: string) => (await db.select().from(users).where(sql`lower(${users.email}) = ${email}`))[0]
const siteEvents = async (type: string, targetId: string) =>
  db.select().from(auditEvents).where(sql`${auditEvents.type} = ${type} and ${auditEvents.targetId} = ${targetId}`)

// --- Sign-in ----------------------------------------------------------------------------------

t.test('the sign-in page learns that SSO is on, and what the button says', async (t) => {
  const { data } = await h.client().GET('/api/v1/auth/methods')
  t.same(data, { password: 'all', sso: { displayName: 'Example SSO', startUrl: '/api/v1/auth/oidc/start' } })
})

t.test('a CSR by group: created on first sign-in, signed in through a one-time code, never by password', async (t) => {
  const id = account('ann')
  const { authorize, callback: url } = await toProviderAndBack(h, id, { returnTo: '#/sessions' })
  t.equal(authorize.origin, issuer, 'start sends the browser to the provider')
  t.equal(authorize.searchParams.get('code_challenge_method'), 'S256', 'with a PKCE challenge')
  t.ok(authorize.searchParams.get('state') && authorize.searchParams.get('nonce'), 'and a state and a nonce')
  t.equal(authorize.searchParams.get('client_id'), 'helpline')
  t.notOk(authorize.searchParams.has('code_verifier'), 'the verifier stays on the server')

  const back = await callback(h, url)
  t.equal(back.statusCode, 302)
  const location = String(back.headers.location)
  t.ok(location.startsWith('http://helpline.test/#/login?'), `to the console (${location.split('?')[0]})`)
  t.notMatch(location, /hls_/, 'no bearer token in the URL')
  const params = consoleParams(location)
  t.equal(params.get('returnTo'), '#/sessions', 'the page asked for comes back')
  const code = params.get('oidc')!

  const { data: signedIn } = await h.client().POST('/api/v1/auth/oidc/exchange', { body: { code } })
  t.equal(signedIn!.user.email, 'ann@example.com')
  t.equal(signedIn!.user.role, 'csr', 'helpline-csrs → CSR')
  t.equal(signedIn!.user.name, 'Ms ann', 'named as the provider names her')
  const { data: me } = await h.client(signedIn!.token).GET('/api/v1/me')
  t.equal(me!.canChangePassword, false, 'an account made by SSO has no password to change')
  const [token] = await db.select().from(accessTokens).where(eq(accessTokens.userId, signedIn!.user.id))
  t.equal(token!.signInMethod, 'oidc')

  const again = await refused(h.client().POST('/api/v1/auth/oidc/exchange', { body: { code } }))
  t.equal(again.status, 401, 'the one-time code works once')
  t.equal(again.code, 'OIDC_CODE_INVALID')

  const byPassword = await refused(h.client().POST('/api/v1/auth/login', { body: { email: 'ann@example.com', password: '!sso' } }))
  t.equal(byPassword.code, 'INVALID_CREDENTIALS', 'an SSO account cannot sign in with a password, whatever is tried')
  const change = await refused(h.client(signedIn!.token).PUT('/api/v1/me/password', { body: { currentPassword: 'x', newPassword: 'a-new-password-1' } }))
  t.equal(change.status, 403)
  t.equal(change.code, 'NO_LOCAL_PASSWORD')

  t.equal((await siteEvents('user.created', signedIn!.user.id)).length, 1, 'the creation is audited')
  const [event] = await siteEvents('user.signed_in', signedIn!.user.id)
  t.equal(event?.data.method, 'oidc', 'the sign-in is audited with its method')

  const second = await signInWithSso(h, id)
  t.equal(second.user.id, signedIn!.user.id, 'the second time finds her by issuer and subject')
  t.notOk(h.logs.some((l) => l.includes(clientSecret)), 'the client secret is never logged')
})

t.test('an admin by group; the role follows the groups at every sign-in, audited', async (t) => {
  const id = account('bob', { groups: ['staff', 'helpline-admins'] })
  const first = await signInWithSso(h, id)
  t.equal(first.user.role, 'admin', 'helpline-admins → site admin')
  t.equal((await h.client(first.token).GET('/api/v1/users')).response.status, 200, 'and acts as one')
  accounts[id]!.groups = ['helpdesk']
  const second = await signInWithSso(h, id)
  t.equal(second.user.role, 'csr', 'moved to helpdesk → CSR')
  const [changed] = await siteEvents('user.role_changed', first.user.id)
  t.same(changed?.data, { from: 'admin', to: 'csr', method: 'oidc' })
  const old = await refused(h.client(first.token).GET('/api/v1/users'))
  t.equal(old.status, 403, 'the earlier sign-in lost the admin role too')
})

t.test('an existing user is linked by verified email on first SSO sign-in', async (t) => {
  const existing = await h.createUser('csr', { email: 'carol@example.com' })
  const id = account('carol-at-idp', { email: 'Carol@example.com' })
  const signedIn = await signInWithSso(h, id)
  t.equal(signedIn.user.id, existing.id, 'the same account')
  const row = await userByEmail('carol@example.com')
  t.equal(row!.oidcSubject, id, 'now linked to the provider’s subject')
  t.equal((await siteEvents('user.sso_linked', existing.id)).length, 1, 'the link is audited')
  t.equal((await h.client(signedIn.token).GET('/api/v1/me')).data!.canChangePassword, true, 'she keeps her password')

  const disabled = await h.createUser('csr', { email: 'dan@example.com' })
  await h.admin.client.POST('/api/v1/users/{id}/disable', { params: { path: { id: disabled.id } } })
  const { callback: url } = await toProviderAndBack(h, account('dan'))
  const res = await callback(h, url)
  t.equal(res.statusCode, 403, 'a disabled user stays refused')
  t.equal(res.json().code, 'ACCOUNT_DISABLED')
})

t.test('the provider’s refusal sends the browser back to the sign-in page with the reason', async (t) => {
  const { callback: url } = await toProviderAndBack(h, account('erin'), { deny: true })
  t.equal(url.searchParams.get('error'), 'access_denied')
  const res = await callback(h, url)
  t.equal(res.statusCode, 302)
  t.equal(consoleParams(String(res.headers.location)).get('oidc_error'), 'access_denied')
  t.notOk(await userByEmail('erin@example.com'), 'nobody was created')
})

// --- Refusals ---------------------------------------------------------------------------------

/** A callback the server must refuse: its status and code, and no sign-in. */
async function refusedCallback(t: Tap, url: URL, status: number, code: string, email: string) {
  const before = (await db.select({ n: sql<number>`count(*)::int` }).from(accessTokens))[0]!.n
  const res = await callback(h, url)
  t.equal(res.statusCode, status, `${code}: ${status}`)
  t.equal(res.json().code, code)
  t.notOk(res.headers.location, 'no redirect with a code')
  t.equal((await db.select({ n: sql<number>`count(*)::int` }).from(accessTokens))[0]!.n, before, 'no sign-in was made')
  t.notOk(await userByEmail(email), 'nobody was created')
}

t.test('a wrong, unknown or reused state: 400 OIDC_STATE_INVALID and no sign-in', async (t) => {
  const { callback: url } = await toProviderAndBack(h, account('frank'))
  const wrong = new URL(url)
  wrong.searchParams.set('state', 'not-the-state-we-sent')
  await refusedCallback(t, wrong, 400, 'OIDC_STATE_INVALID', 'frank@example.com')
  const missing = new URL(url)
  missing.searchParams.delete('state')
  await refusedCallback(t, missing, 400, 'OIDC_STATE_INVALID', 'frank@example.com')

  const { callback: good } = await toProviderAndBack(h, account('gina'))
  t.equal((await callback(h, good)).statusCode, 302, 'the real one signs in')
  const replay = await callback(h, good)
  t.equal(replay.statusCode, 400, 'the same answer again is refused: a state is used once')
  t.equal(replay.json().code, 'OIDC_STATE_INVALID')
})

t.test('a wrong nonce: 400 OIDC_NONCE_INVALID and no sign-in', async (t) => {
  const { callback: url } = await toProviderAndBack(h, account('hugo'))
  // The provider echoes the nonce it was sent; the one kept here no longer matches it.
  await db.update(oidcLogins).set({ nonce: 'another-sign-in-s-nonce' })
  await refusedCallback(t, url, 400, 'OIDC_NONCE_INVALID', 'hugo@example.com')
})

t.test('an ID token for another client (wrong audience): refused', async (t) => {
  idp.tamper = (token) => idp.forge(token, { aud: 'some-other-client', azp: 'some-other-client' })
  t.teardown(() => (idp.tamper = undefined))
  const { callback: url } = await toProviderAndBack(h, account('ivy'))
  await refusedCallback(t, url, 401, 'OIDC_TOKEN_INVALID', 'ivy@example.com')
})

t.test('an expired ID token: refused', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  idp.tamper = (token) => idp.forge(token, { iat: now - 7200, exp: now - 3600 })
  t.teardown(() => (idp.tamper = undefined))
  const { callback: url } = await toProviderAndBack(h, account('jack'))
  await refusedCallback(t, url, 401, 'OIDC_TOKEN_EXPIRED', 'jack@example.com')
})

t.test('an ID token not signed by the provider: refused', async (t) => {
  idp.tamper = (token) => idp.forge(token, {}, { strangerKey: true })
  t.teardown(() => (idp.tamper = undefined))
  const { callback: url } = await toProviderAndBack(h, account('kim'))
  await refusedCallback(t, url, 401, 'OIDC_TOKEN_INVALID', 'kim@example.com')
})

t.test('a disallowed domain, an unverified email, or none of the groups: 403', async (t) => {
  let { callback: url } = await toProviderAndBack(h, account('lou', { email: 'lou@elsewhere.org' }))
  await refusedCallback(t, url, 403, 'OIDC_DOMAIN_NOT_ALLOWED', 'lou@elsewhere.org')
  ;({ callback: url } = await toProviderAndBack(h, account('mia', { email_verified: false })))
  await refusedCallback(t, url, 403, 'OIDC_DOMAIN_NOT_ALLOWED', 'mia@example.com')
  ;({ callback: url } = await toProviderAndBack(h, account('ned', { groups: ['finance'] })))
  await refusedCallback(t, url, 403, 'OIDC_NO_ROLE', 'ned@example.com')
})

t.test('a returnTo that is not a console page is refused', async (t) => {
  for (const returnTo of ['https://evil.example/', '//evil.example', '#//evil.example', 'javascript:alert(1)']) {
    const res = await h.inject({ method: 'GET', url: `/api/v1/auth/oidc/start?returnTo=${encodeURIComponent(returnTo)}` })
    t.equal(res.statusCode, 400, returnTo)
  }
})

t.test('when the site requires two-factor sign-in, an SSO sign-in is exempt (the provider does MFA)', async (t) => {
  const sso = await signInWithSso(h, account('olga'))
  const local = await h.createUser('csr')
  await h.admin.client.PATCH('/api/v1/settings', { body: { requireTwoFactor: true } })
  // The admin has no second factor either, so the setting is put back behind the API's back.
  t.teardown(() => db.delete(siteSettings).where(eq(siteSettings.key, 'requireTwoFactor')))
  t.equal((await h.client(sso.token).GET('/api/v1/me')).data!.twoFactorEnrollmentRequired, false)
  t.equal((await h.client(sso.token).GET('/api/v1/sessions')).response.status, 200, 'and works')
  t.equal((await local.client.GET('/api/v1/me')).data!.twoFactorEnrollmentRequired, true, 'a password sign-in is not')
})

// --- Local passwords off, not configured, rate limits, configuration errors ------------------

t.test('LOCAL_PASSWORDS=off: only the break-glass admin signs in with a password (and TOTP still applies)', async (t) => {
  const off = await setupApp(t, { ...sso, LOCAL_PASSWORDS: 'off', BREAK_GLASS_ADMIN: adminEmail })
  t.same((await off.client().GET('/api/v1/auth/methods')).data!.password, 'break_glass')
  const { data: csr } = await off.admin.client.POST('/api/v1/users', { body: { email: 'pat@example.com', name: 'Pat', role: 'csr', password: 'pat-password-123' } })
  const login = await refused(off.client().POST('/api/v1/auth/login', { body: { email: 'pat@example.com', password: 'pat-password-123' } }))
  t.equal(login.status, 403)
  t.equal(login.code, 'LOCAL_PASSWORDS_OFF')
  const reset = await refused(off.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: csr!.id } }, body: { password: 'another-password-9' } }))
  t.equal(reset.code, 'LOCAL_PASSWORDS_OFF', 'nor may an admin give anyone else a password')
  const pat = await signInWithSso(off, account('pat'))
  t.equal(pat.user.id, csr!.id, 'Pat signs in with SSO instead')
  t.equal((await off.client(pat.token).GET('/api/v1/me')).data!.canChangePassword, false)
  const change = await refused(off.client(pat.token).PUT('/api/v1/me/password', { body: { currentPassword: 'pat-password-123', newPassword: 'pat-password-456' } }))
  t.equal(change.code, 'LOCAL_PASSWORDS_OFF')

  const admin = off.admin.client
  t.equal((await admin.PUT('/api/v1/me/password', { body: { currentPassword: off.admin.password, newPassword: 'break-glass-pw-2' } })).response.status, 204, 'the break-glass admin changes theirs')
  const { data: enrolment } = await admin.POST('/api/v1/me/two-factor', { body: {} })
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(enrolment!.secret) })
  await admin.POST('/api/v1/me/two-factor/confirm', { body: { code: totp.generate() } })
  const noCode = await refused(off.client().POST('/api/v1/auth/login', { body: { email: adminEmail, password: 'break-glass-pw-2' } }))
  t.equal(noCode.code, 'TOTP_REQUIRED', 'the break-glass admin still needs their second factor')

  // The provider claims the break-glass admin's email (with a group that would make it a CSR):
  // the account is neither linked nor demoted, so the way in stays open when SSO goes wrong.
  const before = await off.db.database.db.select().from(users).where(sql`lower(${users.email}) = ${adminEmail.toLowerCase()}`)
  const { callback: url } = await toProviderAndBack(off, account('glass-at-idp', { email: adminEmail }))
  const res = await callback(off, url)
  t.equal(res.statusCode, 403, 'single sign-on refuses the break-glass account')
  t.equal(res.json().code, 'OIDC_BREAK_GLASS_ACCOUNT')
  const after = await off.db.database.db.select().from(users).where(sql`lower(${users.email}) = ${adminEmail.toLowerCase()}`)
  t.same(
    after.map((u) => [u.role, u.oidcSubject]),
    before.map((u) => [u.role, u.oidcSubject]),
    'still an admin, and linked to no identity',
  )
})

/** One request to each step of a single sign-on, as a stranger would send it. */
const ssoSteps = [
  { method: 'GET' as const, url: '/api/v1/auth/oidc/start' },
  { method: 'GET' as const, url: '/api/v1/auth/oidc/callback?state=x&code=y' },
  { method: 'POST' as const, url: '/api/v1/auth/oidc/exchange', payload: { code: 'hlo_aaaaaaaaaaaaaaaaaaaaaaaa' } },
]

t.test('without SSO: the page offers passwords only, and the SSO operations are 404', async (t) => {
  const plain = await setupApp(t)
  t.same((await plain.client().GET('/api/v1/auth/methods')).data, { password: 'all' })
  for (const request of ssoSteps) {
    const res = await plain.inject(request)
    t.equal(res.statusCode, 404, request.url)
    t.equal(res.json().code, 'OIDC_NOT_CONFIGURED')
  }
})

t.test('start, callback and exchange share a per-address budget', async (t) => {
  const limited = await setupApp(t, { ...sso, LOGIN_MAX_ATTEMPTS_PER_IP: 2 })
  t.equal((await limited.inject({ method: 'GET', url: '/api/v1/auth/oidc/start' })).statusCode, 302)
  t.equal((await limited.inject(ssoSteps[2]!)).statusCode, 401)
  for (const request of ssoSteps) {
    const res = await limited.inject(request)
    t.equal(res.statusCode, 429, request.url)
    t.match(res.headers['retry-after'], /^\d+$/)
  }
})

t.test('a misconfiguration stops the server at start-up, naming the setting and not the secret', async (t) => {
  const fails = (env: Record<string, string>, pattern: RegExp) => {
    try {
      loadConfig(env)
      t.fail('accepted')
    } catch (err) {
      t.ok(err instanceof ConfigError)
      t.match((err as Error).message, pattern)
      t.notMatch((err as Error).message, /top-secret-value/)
    }
  }
  fails({ OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_SECRET: 'top-secret-value' }, /OIDC_CLIENT_ID: needed[\s\S]*OIDC_REDIRECT_URL[\s\S]*OIDC_ADMIN_VALUES/)
  fails({ OIDC_CLIENT_ID: 'helpline', OIDC_CLIENT_SECRET: 'top-secret-value' }, /OIDC_CLIENT_ID: needs OIDC_ISSUER/)
  fails({ LOCAL_PASSWORDS: 'off' }, /LOCAL_PASSWORDS: off needs single sign-on/)
  fails({ OIDC_ISSUER: 'http://idp.example.com', OIDC_CLIENT_ID: 'x', PUBLIC_URL: 'https://help.example.com', OIDC_CSR_VALUES: '*' }, /must be https/)
  const ok = loadConfig({ OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'x', PUBLIC_URL: 'https://help.example.com', OIDC_CSR_VALUES: '*' })
  t.equal(ok.OIDC_ROLE_CLAIM, 'groups', 'PUBLIC_URL gives the redirect URL; the role claim defaults to groups')
})
