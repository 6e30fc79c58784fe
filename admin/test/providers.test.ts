/**
 * The auth and data providers over the real SDK, with fetch replaced by a
 * scripted server: what goes on the wire, and how answers become react-admin's.
 */
import t from 'tap'
import { createClient } from '@helpline/sdk'
import { HttpError } from 'react-admin'
import { createAuthProvider } from '../src/api/auth-provider.ts'
import { createDataProvider } from '../src/api/data-provider.ts'
import { usersAdapter, userActions } from '../src/api/resources/users.ts'
import { tokensAdapter } from '../src/api/resources/tokens.ts'
import { meActions } from '../src/api/resources/me.ts'
import type { TokenStore } from '../src/api/token-store.ts'

interface Seen {
  method: string
  path: string
  query: URLSearchParams
  auth: string | null
  body: unknown
}

type Answer = { status: number; body?: unknown } | Error

const user = {
  id: '7d1c7c1e-0000-4000-8000-000000000001',
  email: 'ada@example.com',
  name: 'Ada',
  role: 'admin',
  disabled: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  lastLoginAt: null,
}

function error(status: number, code: string, message: string, errors?: Record<string, string>) {
  return { status, body: { statusCode: status, code, error: 'Error', message, ...(errors ? { errors } : {}) } }
}

/** A console wired to a fake server that answers `routes` ("METHOD /path" → answer). */
function setup(routes: Record<string, Answer>, token?: string) {
  const seen: Seen[] = []
  let stored = token
  const tokens: TokenStore = {
    get: () => stored,
    set: (value) => {
      stored = value
    },
    clear: () => {
      stored = undefined
    },
  }
  const fakeFetch = async (input: Request): Promise<Response> => {
    const url = new URL(input.url)
    const text = await input.text()
    seen.push({
      method: input.method,
      path: url.pathname,
      query: url.searchParams,
      auth: input.headers.get('authorization'),
      body: text ? JSON.parse(text) : undefined,
    })
    const answer = routes[`${input.method} ${url.pathname}`] ?? error(404, 'ROUTE_NOT_FOUND', 'no route')
    if (answer instanceof Error) throw answer
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
    })
  }
  const client = createClient({ baseUrl: 'http://helpline.test', token: () => tokens.get(), fetch: fakeFetch as typeof fetch })
  const authProvider = createAuthProvider(client, tokens)
  const dataProvider = createDataProvider(
    { users: usersAdapter(client), tokens: tokensAdapter(client) },
    { ...userActions(client), ...meActions(client) },
  )
  return { seen, tokens, authProvider, dataProvider }
}

t.test('login stores the token; identity and permissions come from /me', async (t) => {
  const { seen, tokens, authProvider } = setup({
    'POST /api/v1/auth/login': { status: 200, body: { token: 'hls_secret', expiresAt: user.createdAt, user } },
    'GET /api/v1/me': { status: 200, body: user },
  })
  await t.rejects(authProvider.checkAuth({}), 'not signed in before login')
  await authProvider.login({ email: 'ada@example.com', password: 'pw-pw-pw-pw' })
  t.same(seen[0]?.body, { email: 'ada@example.com', password: 'pw-pw-pw-pw' })
  t.equal(tokens.get(), 'hls_secret')
  await t.resolves(authProvider.checkAuth({}))
  t.equal(await authProvider.getPermissions!({}), 'admin')
  t.match(await authProvider.getIdentity!(), { id: user.id, fullName: 'Ada' })
  t.equal(seen.at(-1)?.auth, 'Bearer hls_secret', 'later calls carry the token')
})

t.test('a refused login rejects with our translation key and stores nothing', async (t) => {
  const { tokens, authProvider } = setup({
    'POST /api/v1/auth/login': error(401, 'INVALID_CREDENTIALS', 'Invalid email or password'),
  })
  const failure = await authProvider.login({ email: 'a@b.c', password: 'x' }).catch((e: unknown) => e)
  t.type(failure, HttpError)
  t.equal((failure as HttpError).message, 'helpline.errors.INVALID_CREDENTIALS')
  t.equal((failure as HttpError).status, 401)
  t.equal(tokens.get(), undefined)
})

t.test('logout forgets the token even when the server fails', async (t) => {
  const ok = setup({ 'POST /api/v1/auth/logout': { status: 204 } }, 'hls_a')
  await ok.authProvider.logout({})
  t.equal(ok.seen[0]?.auth, 'Bearer hls_a', 'the server is asked to revoke the token')
  t.equal(ok.tokens.get(), undefined)

  const down = setup({ 'POST /api/v1/auth/logout': new TypeError('fetch failed') }, 'hls_b')
  await t.resolves(down.authProvider.logout({}))
  t.equal(down.tokens.get(), undefined)
})

t.test('checkError signs out on 401 only', async (t) => {
  const { tokens, authProvider } = setup({}, 'hls_c')
  await t.resolves(authProvider.checkError(new HttpError('helpline.errors.FORBIDDEN', 403)), '403 stays signed in')
  t.equal(tokens.get(), 'hls_c')
  await t.rejects(authProvider.checkError(new HttpError('expired', 401)), '401 signs out')
  t.equal(tokens.get(), undefined)
})

t.test('a site that requires two-factor sends the user to set it up, still signed in', async (t) => {
  const { tokens, authProvider } = setup({}, 'hls_d')
  const required = new HttpError('helpline.errors.TOTP_ENROLLMENT_REQUIRED', 403, { code: 'TOTP_ENROLLMENT_REQUIRED' })
  const answer = await authProvider.checkError(required).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.match(answer, { logoutUser: false, redirectTo: '/profile' })
  t.equal(tokens.get(), 'hls_d', 'the sign-in is kept')
})

t.test('signing in sends the two-factor code only when there is one', async (t) => {
  const answer = { token: 'hls_new', expiresAt: user.createdAt, user: { ...user, twoFactorEnabled: true } }
  const { seen, authProvider } = setup({ 'POST /api/v1/auth/login': { status: 200, body: answer } })
  await authProvider.login({ email: 'ada@example.com', password: 'pw' })
  await authProvider.login({ email: 'ada@example.com', password: 'pw', code: '123456' })
  t.same(seen.map((r) => r.body), [
    { email: 'ada@example.com', password: 'pw' },
    { email: 'ada@example.com', password: 'pw', code: '123456' },
  ])
})

t.test('getList sends paging, sorting and filters as the API names them', async (t) => {
  const { seen, dataProvider } = setup({ 'GET /api/v1/users': { status: 200, body: { data: [user], total: 31 } } }, 't')
  const result = await dataProvider.getList('users', {
    pagination: { page: 2, perPage: 10 },
    sort: { field: 'email', order: 'ASC' },
    filter: { q: 'ada', role: 'admin', disabled: false, ignored: 'x' },
  })
  t.same(result, { data: [user], total: 31 })
  t.same(Object.fromEntries(seen[0]!.query), {
    page: '2',
    perPage: '10',
    sort: 'email',
    order: 'asc',
    q: 'ada',
    role: 'admin',
    disabled: 'false',
  })

  await dataProvider.getList('users', { pagination: { page: 1, perPage: 25 }, sort: { field: 'id', order: 'ASC' }, filter: {} })
  t.match(Object.fromEntries(seen[1]!.query), { sort: 'createdAt', order: 'desc' }, 'an unsortable field falls back')
})

t.test('a field error from the API lands on the form field', async (t) => {
  const { dataProvider } = setup(
    {
      'POST /api/v1/users': error(409, 'EMAIL_TAKEN', 'Email already used', { email: 'Already used' }),
      'PUT /api/v1/me/password': error(422, 'WEAK_PASSWORD', 'Weak', {
        newPassword: 'Password is too repetitive',
        currentPassword: 'Wrong password',
      }),
    },
    't',
  )
  const taken = await dataProvider
    .create('users', { data: { email: 'ada@example.com', name: 'Ada', role: 'csr', password: 'long-enough-1' } })
    .catch((e: unknown) => e)
  t.type(taken, HttpError)
  t.equal((taken as HttpError).status, 409)
  t.same((taken as HttpError).body.errors, { email: 'helpline.errors.EMAIL_TAKEN' }, 'one field: our words')

  const weak = await dataProvider.changePassword({ currentPassword: 'a', newPassword: 'b' }).catch((e: unknown) => e)
  t.same(
    (weak as HttpError).body.errors,
    { newPassword: 'Password is too repetitive', currentPassword: 'Wrong password' },
    "several fields: the server's words per field",
  )
})

t.test('update sends only the editable fields that changed', async (t) => {
  const { seen, dataProvider } = setup({ 'PATCH /api/v1/users/u1': { status: 200, body: { ...user, name: 'Ada L.' } } }, 't')
  await dataProvider.update('users', {
    id: 'u1',
    data: { ...user, id: 'u1', name: 'Ada L.', password: '' },
    previousData: { ...user, id: 'u1' },
  })
  t.same(seen[0]?.body, { name: 'Ada L.' })
})

t.test('tokens: expiry goes out as ISO, revoke is a DELETE, disable is a POST', async (t) => {
  const created = { id: 'k1', name: 'ci', prefix: 'hlp_ab', createdAt: user.createdAt, expiresAt: null, lastUsedAt: null, token: 'hlp_abcdef' }
  const { seen, dataProvider } = setup(
    {
      'POST /api/v1/tokens': { status: 201, body: created },
      'DELETE /api/v1/tokens/k1': { status: 204 },
      'POST /api/v1/users/u1/disable': { status: 200, body: { ...user, disabled: true } },
    },
    't',
  )
  const when = new Date('2030-05-01T10:00:00.000Z')
  const result = await dataProvider.create('tokens', { data: { name: 'ci', expiresAt: when } })
  t.same(seen[0]?.body, { name: 'ci', expiresAt: '2030-05-01T10:00:00.000Z' })
  t.equal((result.data as typeof created).token, 'hlp_abcdef')

  await dataProvider.create('tokens', { data: { name: 'forever', expiresAt: '' } })
  t.same(seen[1]?.body, { name: 'forever' }, 'no expiry: the field is left out')
  await dataProvider.create('tokens', { data: { name: 'scoped', scopes: ['admin', 'read', 'bogus'] } })
  t.same((seen[2]?.body as { scopes?: unknown }).scopes, ['read', 'admin'], 'ticked scopes go out in the API’s terms and order')

  const gone = await dataProvider.delete('tokens', { id: 'k1', previousData: created })
  t.equal(seen[3]?.method, 'DELETE')
  t.equal(gone.data.id, 'k1')

  const disabled = await dataProvider.disableUser('u1')
  t.equal(disabled.disabled, true)
})

t.test('calls a resource does not offer are refused', async (t) => {
  const { dataProvider } = setup({}, 't')
  await t.rejects(dataProvider.update('tokens', { id: 'k1', data: {}, previousData: { id: 'k1' } }), /not available/)
  await t.rejects(dataProvider.getList('sessions', { pagination: { page: 1, perPage: 1 }, sort: { field: 'id', order: 'ASC' }, filter: {} }))
})
