import { request } from 'node:http'
import t from 'tap'
import { catalogues } from '../src/i18n/index.ts'
import { browserCommand, hasDesktop } from '../src/ui/open-browser.ts'
import { WindowServer, type WindowActions } from '../src/ui/window-server.ts'

/**
 * The customer window's server refuses anything that is not the customer's own page: no secret,
 * another Host (DNS rebinding), another Origin or site, or a change that is not JSON.
 */
function call(url: URL, options: { method?: string; headers?: Record<string, string>; body?: string; path?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: url.port, method: options.method ?? 'GET', path: options.path ?? url.pathname, headers: { host: url.host, ...options.headers } },
      (res) => {
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

const answers: [string, boolean][] = []
const chats: string[] = []
let left = 0
const actions: WindowActions = {
  answer: (id, approved) => {
    if (id === 'gone') return 'unknown'
    if (answers.some(([a]) => a === id)) return 'answered'
    answers.push([id, approved])
    return 'ok'
  },
  chat: (text) => chats.push(text),
  leave: () => left++,
  confirm: () => undefined,
}

const strings: Record<string, string> = Object.fromEntries(Object.entries(catalogues.en).filter(([key]) => key.startsWith('win_')))
const server = new WindowServer(actions, strings, 'en')
const url = new URL(await server.start())
t.teardown(() => server.close())
const own = `http://${url.host}`
const json = { 'content-type': 'application/json', origin: own }

t.test('the page and its state, for the page itself', async (t) => {
  t.match(url.href, /^http:\/\/127\.0\.0\.1:\d+\/s\/[A-Za-z0-9_-]{32}\/$/, 'a loopback address with a random secret')
  const page = await call(url)
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/, 'no other page can frame it (a click on Allow cannot be stolen)')
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.match(page.headers['content-security-policy'], /script-src 'self'/, 'no inline script')
  const js = await call(url, { path: `${url.pathname}app.js` })
  t.equal(js.status, 200)
  t.notMatch(js.body, /innerHTML/, 'the page never turns text into HTML')
  server.setStatus({ phase: 'joined', csr: 'Alice', number: '123-456-789' })
  const state = JSON.parse((await call(url, { path: `${url.pathname}api/state` })).body)
  t.match(state.status, { phase: 'joined', csr: 'Alice' })
  t.equal(state.strings.win_allow, 'Allow', 'with the words in the customer’s language')
})

t.test('refused: no secret, a wrong secret, another Host, another Origin or site', async (t) => {
  const port = url.port
  for (const [what, options] of [
    ['no secret', { path: '/' }],
    ['no secret for the state', { path: '/api/state' }],
    ['a wrong secret', { path: `/s/${'x'.repeat(32)}/api/state` }],
    ['a secret prefix only', { path: `${url.pathname.slice(0, -5)}/api/state` }],
    ['a name rebound to 127.0.0.1 (DNS rebinding)', { headers: { host: `evil.example:${port}` } }],
    ['localhost instead of the address it was opened at', { headers: { host: `localhost:${port}` } }],
    ['a foreign Origin', { path: `${url.pathname}api/state`, headers: { origin: 'http://evil.example' } }],
    ['a cross-site fetch', { path: `${url.pathname}api/state`, headers: { 'sec-fetch-site': 'cross-site' } }],
  ] as const) {
    const res = await call(url, options)
    t.equal(res.status, 403, what)
  }
})

t.test('changes: only JSON from this page’s Origin', async (t) => {
  const consent = `${url.pathname}api/consents/c1`
  const body = JSON.stringify({ approved: true })
  t.equal((await call(url, { method: 'POST', path: consent, body, headers: { 'content-type': 'application/json' } })).status, 403, 'no Origin: refused')
  t.equal((await call(url, { method: 'POST', path: consent, body, headers: { origin: own, 'content-type': 'text/plain' } })).status, 403, 'a form or text post: refused')
  t.equal((await call(url, { method: 'POST', path: consent, body, headers: { ...json, origin: 'http://evil.example' } })).status, 403)
  t.same(answers, [], 'nothing was answered by those')
  t.equal((await call(url, { method: 'POST', path: consent, body, headers: json })).status, 200)
  t.same(answers, [['c1', true]], 'the page’s own answer counts')
  t.equal((await call(url, { method: 'POST', path: consent, body, headers: json })).status, 409, 'once')
  t.equal((await call(url, { method: 'POST', path: `${url.pathname}api/consents/gone`, body, headers: json })).status, 404)
  t.equal((await call(url, { method: 'POST', path: `${url.pathname}api/chat`, body: JSON.stringify({ text: ' hello ' }), headers: json })).status, 200)
  t.same(chats, ['hello'])
  t.equal((await call(url, { method: 'POST', path: `${url.pathname}api/leave`, body: '{}', headers: json })).status, 200)
  t.equal(left, 1)
  t.equal((await call(url, { method: 'POST', path: `${url.pathname}api/chat`, body: 'x'.repeat(20_000), headers: json })).status, 400, 'a huge body is refused')
})

t.test('the state is long-polled: an answer as soon as something changes', async (t) => {
  const first = JSON.parse((await call(url, { path: `${url.pathname}api/state` })).body)
  const started = Date.now()
  const held = call(url, { path: `${url.pathname}api/state?since=${first.version}` })
  setTimeout(() => server.addMessage({ from: 'csr', author: 'Alice', text: 'Hello there', at: new Date().toISOString() }), 200)
  const next = JSON.parse((await held).body)
  t.ok(Date.now() - started >= 150, 'held until the change')
  t.equal(next.version, first.version + 1)
  t.match(next.messages.at(-1), { from: 'csr', author: 'Alice', text: 'Hello there' })
})

t.test('opening the browser', async (t) => {
  t.same(browserCommand('http://127.0.0.1:1/s/x/', 'linux'), { command: 'xdg-open', args: ['http://127.0.0.1:1/s/x/'] })
  t.same(browserCommand('http://127.0.0.1:1/s/x/', 'darwin'), { command: 'open', args: ['http://127.0.0.1:1/s/x/'] })
  t.same(browserCommand('http://127.0.0.1:1/s/x/', 'win32'), { command: 'cmd.exe', args: ['/d', '/s', '/c', 'start', '""', 'http://127.0.0.1:1/s/x/'] })
  t.equal(hasDesktop({}, 'linux'), false, 'Linux without a display: no window')
  t.equal(hasDesktop({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux'), true)
  t.equal(hasDesktop({}, 'win32'), true)
})
