import t from 'tap'
import { ApiError } from '@helpline/sdk'
import { refused, setupApp, type TestUser } from '../helpers/app.ts'

const h = await setupApp(t)

t.test('login, me, logout', async (t) => {
  const { data } = await h.client().POST('/api/v1/auth/login', { body: { email: 'ADMIN@example.com', password: h.admin.password } })
  t.equal(data?.user.email, h.admin.email, 'email is matched case-insensitively')
  t.match(data?.token, /^hls_/)
  const api = h.client(data!.token)
  const me = await api.GET('/api/v1/me')
  t.equal(me.data?.role, 'admin')
  await api.POST('/api/v1/auth/logout')
  const after = await refused(api.GET('/api/v1/me'))
  t.equal(after.status, 401, 'a revoked login token is refused')
  t.equal(after.code, 'INVALID_TOKEN')
})

t.test('wrong password and unknown email give the same answer', async (t) => {
  const wrong = await refused(h.client().POST('/api/v1/auth/login', { body: { email: h.admin.email, password: 'nope-nope-nope' } }))
  const unknown = await refused(h.client().POST('/api/v1/auth/login', { body: { email: 'ghost@example.com', password: 'nope-nope-nope' } }))
  t.equal(wrong.status, 401)
  t.equal(wrong.code, 'INVALID_CREDENTIALS')
  t.same(unknown.body, wrong.body)
})

t.test('site admin manages users', async (t) => {
  const { data: created } = await h.admin.client.POST('/api/v1/users', {
    body: { email: 'Carol@Example.com', name: 'Carol', role: 'csr', password: 'carol-password' },
  })
  t.equal(created?.role, 'csr')
  t.equal(created?.disabled, false)

  const dup = await refused(h.admin.client.POST('/api/v1/users', { body: { email: 'carol@example.com', name: 'C2', role: 'csr', password: 'carol-password' } }))
  t.equal(dup.status, 409)
  t.equal(dup.code, 'EMAIL_TAKEN')
  t.ok(dup.errors.email, 'the email field is named')

  const weak = await refused(h.admin.client.POST('/api/v1/users', { body: { email: 'dave@example.com', name: 'Dave', role: 'csr', password: 'short' } }))
  t.equal(weak.status, 422)
  t.equal(weak.code, 'WEAK_PASSWORD')
  t.ok(weak.errors.password, 'the password field is named')

  const { data: renamed } = await h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: created!.id } }, body: { name: 'Carol B.' } })
  t.equal(renamed?.name, 'Carol B.')

  const carolToken = await h.login('carol@example.com', 'carol-password')
  await h.admin.client.POST('/api/v1/users/{id}/disable', { params: { path: { id: created!.id } } })
  const blocked = await refused(h.client().POST('/api/v1/auth/login', { body: { email: 'carol@example.com', password: 'carol-password' } }))
  t.equal(blocked.code, 'ACCOUNT_DISABLED')
  const stale = await refused(h.client(carolToken).GET('/api/v1/me'))
  t.equal(stale.status, 401, 'a disabled user’s existing token stops working')
  await h.admin.client.POST('/api/v1/users/{id}/enable', { params: { path: { id: created!.id } } })
  t.ok(await h.login('carol@example.com', 'carol-password'), 're-enabled user signs in again')

  const missing = await refused(h.admin.client.GET('/api/v1/users/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } }))
  t.equal(missing.status, 404)
})

t.test('the last admin and yourself cannot be disabled', async (t) => {
  const disable = (by: TestUser, id: string) => by.client.POST('/api/v1/users/{id}/disable', { params: { path: { id } } })
  const last = await refused(disable(h.admin, h.admin.id))
  t.equal(last.status, 409)
  t.equal(last.code, 'LAST_ADMIN', 'the only active admin cannot disable themself')
  const demote = await refused(h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: h.admin.id } }, body: { role: 'csr' } }))
  t.equal(demote.code, 'LAST_ADMIN', 'nor remove their admin role')

  const second = await h.createUser('admin')
  const self = await refused(disable(h.admin, h.admin.id))
  t.equal(self.code, 'CANNOT_DISABLE_SELF', 'with another admin, disabling yourself is still refused')
  const { data } = await disable(h.admin, second.id)
  t.equal(data?.disabled, true, 'one admin may disable another while one stays active')
  const gone = await refused(second.client.GET('/api/v1/me'))
  t.equal(gone.status, 401, 'a disabled admin keeps no access')
  await h.admin.client.POST('/api/v1/users/{id}/enable', { params: { path: { id: second.id } } })
  await h.admin.client.POST('/api/v1/users/{id}/disable', { params: { path: { id: second.id } } })
})

t.test('user list sorts, filters and counts', async (t) => {
  const { data } = await h.admin.client.GET('/api/v1/users', { params: { query: { sort: 'email', order: 'desc', perPage: 2, role: 'csr' } } })
  t.ok(data!.total >= 1)
  t.ok(data!.data.every((u) => u.role === 'csr'))
  const emails = data!.data.map((u) => u.email)
  t.same(emails, [...emails].sort().reverse(), 'sorted by email descending')
  const { data: q } = await h.admin.client.GET('/api/v1/users', { params: { query: { q: 'carol' } } })
  t.same(q!.data.map((u) => u.name), ['Carol B.'])
})

t.test('change own password', async (t) => {
  const u = await h.createUser('csr')
  const otherLogin = await h.login(u.email, u.password)
  const wrong = await refused(u.client.PUT('/api/v1/me/password', { body: { currentPassword: 'not-it-at-all', newPassword: 'new-password-1' } }))
  t.equal(wrong.status, 422)
  t.ok(wrong.errors.currentPassword)
  const weak = await refused(u.client.PUT('/api/v1/me/password', { body: { currentPassword: u.password, newPassword: 'aaaaaaaaaaaa' } }))
  t.equal(weak.code, 'WEAK_PASSWORD')
  t.ok(weak.errors.newPassword)
  await u.client.PUT('/api/v1/me/password', { body: { currentPassword: u.password, newPassword: 'new-password-1' } })
  t.ok(await h.login(u.email, 'new-password-1'), 'the new password works')
  t.equal((await refused(h.client(otherLogin).GET('/api/v1/me'))).status, 401, 'other sign-ins end')
  t.ok((await u.client.GET('/api/v1/me')).data, 'this sign-in stays')
})

t.test('personal API tokens', async (t) => {
  const u = await h.createUser('csr')
  const { data: created } = await u.client.POST('/api/v1/tokens', { body: { name: 'ci robot' } })
  t.match(created?.token, /^hlp_/)
  const robot = h.client(created!.token)
  t.equal((await robot.GET('/api/v1/me')).data?.email, u.email, 'the token acts as its owner')
  const { data: list } = await u.client.GET('/api/v1/tokens')
  t.equal(list?.total, 1)
  t.notOk(JSON.stringify(list).includes(created!.token), 'the secret is never listed')
  t.ok(list?.data[0]?.lastUsedAt, 'last use is recorded')
  const past = await refused(u.client.POST('/api/v1/tokens', { body: { name: 'old', expiresAt: '2001-01-01T00:00:00Z' } }))
  t.equal(past.status, 422)
  const theirs = await refused(h.admin.client.DELETE('/api/v1/tokens/{id}', { params: { path: { id: created!.id } } }))
  t.equal(theirs.status, 404, 'someone else’s token is not found')
  await u.client.DELETE('/api/v1/tokens/{id}', { params: { path: { id: created!.id } } })
  t.equal((await refused(robot.GET('/api/v1/me'))).status, 401, 'revocation takes effect on the next request')
  const rows = await h.db.database.db.query.accessTokens.findMany()
  t.notOk(JSON.stringify(rows).includes(created!.token), 'only a hash is stored')
})

t.test('login is rate limited per address', async (t) => {
  const limited = await setupApp(t, { LOGIN_MAX_ATTEMPTS_PER_IP: 4 })
  // setupApp signed the admin in once from this address.
  for (let i = 0; i < 3; i++) {
    const res = await limited.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: `u${i}@example.com`, password: 'guess-guess' } })
    t.equal(res.statusCode, 401)
  }
  const res = await limited.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'u9@example.com', password: 'guess-guess' } })
  t.equal(res.statusCode, 429, 'many accounts from one address are refused')
})

t.test('login is rate limited per account', async (t) => {
  const limited = await setupApp(t, { LOGIN_MAX_ATTEMPTS: 3 })
  const attempt = () =>
    limited.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'victim@example.com', password: 'guess-guess' } })
  for (let i = 0; i < 3; i++) t.equal((await attempt()).statusCode, 401)
  const res = await attempt()
  t.equal(res.statusCode, 429)
  t.equal(res.json().code, 'RATE_LIMITED')
  t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After says when to try again')
})

t.test('secrets never reach the log', async (t) => {
  const joined = h.logs.join('\n')
  t.notOk(joined.includes(h.admin.password), 'no password')
  t.notOk(joined.includes(h.admin.token), 'no token')
})

t.test('unknown users are 404 for every user operation', async (t) => {
  const id = '00000000-0000-4000-8000-00000000abcd'
  const path = { params: { path: { id } } }
  for (const call of [
    () => h.admin.client.PATCH('/api/v1/users/{id}', { ...path, body: { name: 'x' } }),
    () => h.admin.client.POST('/api/v1/users/{id}/disable', path),
    () => h.admin.client.POST('/api/v1/users/{id}/enable', path),
  ]) {
    const err = await refused(call())
    t.equal(err.status, 404)
    t.equal(err.code, 'USER_NOT_FOUND')
  }
})

t.test('read and update a user', async (t) => {
  const u = await h.createUser('csr')
  const { data } = await h.admin.client.GET('/api/v1/users/{id}', { params: { path: { id: u.id } } })
  t.equal(data?.email, u.email)
  const weak = await refused(h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: u.id } }, body: { password: 'abc' } }))
  t.equal(weak.status, 422)
  t.ok(weak.errors.password)
  const taken = await refused(h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: u.id } }, body: { email: h.admin.email.toUpperCase() } }))
  t.equal(taken.code, 'EMAIL_TAKEN')
  const { data: promoted } = await h.admin.client.PATCH('/api/v1/users/{id}', { params: { path: { id: u.id } }, body: { role: 'admin', password: 'brand-new-password' } })
  t.equal(promoted?.role, 'admin')
  t.ok(await h.login(u.email, 'brand-new-password'), 'an admin can reset a password')
})

t.test('API tokens are capped per user', async (t) => {
  const u = await h.createUser('csr')
  for (let i = 0; i < 50; i++) await u.client.POST('/api/v1/tokens', { body: { name: `t${i}` } })
  const err = await refused(u.client.POST('/api/v1/tokens', { body: { name: 'one too many' } }))
  t.equal(err.status, 409)
  t.equal(err.code, 'TOO_MANY_TOKENS')
  const { data } = await u.client.GET('/api/v1/tokens', { params: { query: { perPage: 10, page: 5 } } })
  t.equal(data?.total, 50)
  t.equal(data?.data.length, 10, 'pages through them')
})
