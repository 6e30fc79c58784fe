/**
 * The session page's logic without a browser: the SSE parser and the stream's reconnects over the
 * real SDK with a scripted fetch, the live state, what the System information view says, the
 * sessions adapter's calls, and the formatting helpers.
 */
import t from 'tap'
import { createClient, type Schemas } from '@helpline/sdk'
import { SseParser, followSessionStream, toSessionEvent, type SessionStreamEvent, type StreamState } from '../src/api/session-stream.ts'
import { sessionActions, sessionsAdapter, type SessionView } from '../src/api/resources/sessions.ts'
import { initialState, liveReducer, systemInfoActivity, type LiveState } from '../src/resources/sessions/live.ts'
import { agentCommand, agentDisplayStatus, formatNumber, joinLink, joinMailto, platformLabel, snapshotFileName } from '../src/resources/sessions/format.ts'
import { SID, USER, agent, session } from './helpers/fixtures.ts'


function consent(id: string, status: Schemas['ConsentStatus'], createdAt = '2026-05-01T10:01:00.000Z'): Schemas['Consent'] {
  return {
    id,
    sessionId: SID,
    kind: 'view_system_info',
    status,
    requestedBy: USER,
    details: {},
    createdAt,
    expiresAt: '2026-05-01T10:03:00.000Z',
    answeredAt: null,
  }
}

function command(id: string, status: Schemas['CommandStatus'], consentId: string | null, createdAt = '2026-05-01T10:01:00.000Z'): Schemas['Command'] {
  return { id, sessionId: SID, kind: 'collect_system_info', status, consentId, createdAt, deliveredAt: null, finishedAt: null, error: null }
}

function chat(seq: number, body: string): Schemas['ChatMessage'] {
  return {
    id: `c0000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    seq,
    sender: 'csr',
    authorName: 'Casey',
    body,
    systemEvent: null,
    createdAt: '2026-05-01T10:00:00.000Z',
  }
}

function state(partial: Partial<SessionView> = {}): LiveState {
  return initialState({ session, chat: [], consents: [], commands: [], snapshots: [], scriptRuns: [], ...partial })
}

t.test('the SSE parser', async (t) => {
  const p = new SseParser()
  t.same(p.push('retry: 2000\n: a comment\n\n'), [], 'comments and retry alone are no message')
  t.equal(p.retry, 2000)
  t.same(p.push('id: 3\nevent: chat\nda'), [], 'nothing until the blank line')
  t.same(p.push('ta: {"a":1}\n\n'), [{ id: '3', event: 'chat', data: '{"a":1}' }], 'a message split across chunks')
  t.same(p.push('data: one\r\ndata: two\r'), [], 'a trailing CR may be half of a CRLF')
  t.same(p.push('\n\r\n'), [{ id: '3', event: 'message', data: 'one\ntwo' }], 'multi-line data, CRLF lines, the id carries over')
  t.same(p.push('data:no space\n\n'), [{ id: '3', event: 'message', data: 'no space' }])
  t.equal(toSessionEvent({ id: '1', event: 'mystery', data: '{}' }), undefined, 'unknown events are ignored')
  t.equal(toSessionEvent({ id: '1', event: 'chat', data: '{oops' }), undefined, 'bad JSON is ignored')
  t.same(toSessionEvent({ id: '1', event: 'chat', data: '{"id":"x"}' }), { event: 'chat', data: { id: 'x' } })
})

/** A fetch that serves scripted stream responses, one per request, and records the URLs. */
function streamServer(answers: (() => Response)[]) {
  const urls: URL[] = []
  const auth: (string | null)[] = []
  const fakeFetch = async (input: Request): Promise<Response> => {
    urls.push(new URL(input.url))
    auth.push(input.headers.get('authorization'))
    const next = answers.shift()
    if (!next) return new Promise<Response>(() => {}) // hold the last request open
    return next()
  }
  const client = createClient({ baseUrl: 'http://helpline.test', token: 'console-token', fetch: fakeFetch as typeof fetch })
  return { client, urls, auth }
}

const sse = (text: string) => () =>
  new Response(
    new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text))
        controller.close()
      },
    }),
    { status: 200, headers: { 'content-type': 'text/event-stream' } },
  )

async function until(check: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

t.test('the stream follows the session and resumes after the last event id', async (t) => {
  const { client, urls, auth } = streamServer([
    sse(`retry: 5\n\nid: 8\nevent: chat\ndata: ${JSON.stringify(chat(8, 'hello'))}\n\nid: 9\nevent: agent\ndata: ${JSON.stringify(agent)}\n\n`),
    () => new Response('bad gateway', { status: 502 }),
    sse(`id: 10\nevent: chat\ndata: ${JSON.stringify(chat(10, 'again'))}\n\n`),
  ])
  const events: SessionStreamEvent[] = []
  const states: StreamState[] = []
  const stop = followSessionStream(client, SID, 7, { onEvent: (e) => events.push(e), onState: (s) => states.push(s) })
  t.teardown(stop)
  await until(() => events.length === 3)
  t.same(
    events.map((e) => e.event),
    ['chat', 'agent', 'chat'],
  )
  await until(() => urls.length === 4)
  t.same(
    urls.map((u) => u.searchParams.get('after')),
    ['7', '9', '9', '10'],
    'each reconnect asks for what came after the last id seen',
  )
  t.equal(urls[0]!.pathname, `/api/v1/sessions/${SID}/stream`)
  t.same(new Set(auth), new Set(['Bearer console-token']), 'the bearer token goes with every attempt')
  t.ok(states.includes('reconnecting'), 'a dropped stream says so')
  t.same(states.slice(0, 2), ['connecting', 'open'], 'connecting, then open')
})

t.test('the stream ends for good when the server says the sign-in ended', async (t) => {
  const { client, urls } = streamServer([
    sse(`id: 3\nevent: chat\ndata: ${JSON.stringify(chat(3, 'before'))}\n\nevent: error\ndata: {"code":"INVALID_TOKEN","message":"A site admin ended this sign-in or API token"}\n\n`),
  ])
  const events: SessionStreamEvent[] = []
  const ended: unknown[] = []
  followSessionStream(client, SID, 0, { onEvent: (e) => events.push(e), onState: (s, reason) => s === 'failed' && ended.push(reason) })
  await until(() => ended.length === 1)
  t.same(events.map((e) => e.event), ['chat'], 'what came before is delivered')
  const reason = ended[0] as { status: number; code: string; message: string }
  t.equal(reason.status, 401, 'as a 401, so the console signs out')
  t.equal(reason.code, 'INVALID_TOKEN')
  t.match(reason.message, /site admin/)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(urls.length, 1, 'and it does not reconnect')
})

t.test('the stream gives up on 404 and stops when asked', async (t) => {
  const notFound = () =>
    new Response(JSON.stringify({ statusCode: 404, code: 'SESSION_NOT_FOUND', error: 'Not Found', message: 'no' }), {
      status: 404,
      headers: { 'content-type': 'application/json' },
    })
  const { client, urls } = streamServer([notFound, notFound])
  const states: StreamState[] = []
  followSessionStream(client, SID, 0, { onEvent: () => {}, onState: (s) => states.push(s) })
  await until(() => states.includes('failed'))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(urls.length, 1, 'no retry after a 404')

  const held = streamServer([])
  const stop = followSessionStream(held.client, SID, 0, { onEvent: () => {} })
  await until(() => held.urls.length === 1)
  stop()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(held.urls.length, 1, 'stopped: no reconnect')
})

t.test('the live state merges by id and follows the latest consent', async (t) => {
  let s = state({ chat: [chat(3, 'b'), chat(2, 'a')] })
  t.same(
    s.chat.map((m) => m.seq),
    [2, 3],
    'chat in seq order',
  )
  s = liveReducer(s, { event: 'chat', data: chat(3, 'b') })
  s = liveReducer(s, { event: 'chat', data: chat(5, 'c') })
  t.same(
    s.chat.map((m) => m.seq),
    [2, 3, 5],
    'a repeated message is one message',
  )

  s = liveReducer(s, { event: 'consent', data: consent('c1', 'pending') })
  t.equal(s.session.systemInfoConsent, 'pending')
  s = liveReducer(s, { event: 'consent', data: consent('c1', 'approved') })
  t.equal(s.consents.length, 1, 'an answered consent replaces its pending self')
  t.equal(s.session.systemInfoConsent, 'approved')

  const older = { ...agent, id: 'a9e00000-0000-4000-8000-000000000000', joinedAt: '2026-05-01T09:00:00.000Z', status: 'offline' as const }
  t.equal(liveReducer(s, { event: 'agent', data: older }).session.agent?.id, agent.id, 'an older agent does not replace the latest')
  t.equal(liveReducer(s, { event: 'agent', data: { ...agent, status: 'offline' } }).session.agent?.status, 'offline', 'the same agent updates')

  const ended = liveReducer(s, { event: 'session', data: { ...session, status: 'ended', systemInfoConsent: null } })
  t.equal(ended.session.status, 'ended')
  t.equal(ended.session.systemInfoConsent, 'approved', 'the consents seen are kept')
  t.equal(liveReducer(s, { event: 'session', data: { ...session, id: 'other' } }), s, 'another session is ignored')
  // After a 401 react-admin resolves calls with { data: {} }: that is no change.
  t.equal(liveReducer(s, { event: 'command', data: {} as Schemas['Command'] }), s, 'an empty answer changes nothing')
})

t.test('what the System information view says about the latest collection', async (t) => {
  t.same(systemInfoActivity(state()), { kind: 'idle' })
  const cases: [Schemas['CommandStatus'], Schemas['ConsentStatus'], string][] = [
    ['awaiting_consent', 'pending', 'waiting_consent'],
    ['queued', 'approved', 'collecting'],
    ['delivered', 'approved', 'collecting'],
    ['running', 'approved', 'collecting'],
    ['succeeded', 'approved', 'collected'],
    ['failed', 'approved', 'failed'],
    ['cancelled', 'denied', 'denied'],
    ['cancelled', 'expired', 'expired'],
    ['cancelled', 'cancelled', 'cancelled'],
  ]
  for (const [commandStatus, consentStatus, kind] of cases) {
    const s = state({ consents: [consent('c1', consentStatus)], commands: [command('k1', commandStatus, 'c1')] })
    t.equal(systemInfoActivity(s).kind, kind, `${commandStatus} + ${consentStatus} → ${kind}`)
  }
  const s = state({
    consents: [consent('c1', 'denied', '2026-05-01T10:00:00.000Z'), consent('c2', 'approved', '2026-05-01T10:05:00.000Z')],
    commands: [command('k1', 'cancelled', 'c1', '2026-05-01T10:00:00.000Z'), command('k2', 'running', 'c2', '2026-05-01T10:05:00.000Z')],
  })
  t.equal(systemInfoActivity(s).kind, 'collecting', 'the latest collection counts, not an older denial')
  const refresh = state({ consents: [consent('c1', 'approved')], commands: [command('k1', 'queued', null)] })
  t.equal(systemInfoActivity(refresh).kind, 'collecting', 'a refresh without a new consent')
})

t.test('formatting', async (t) => {
  t.equal(formatNumber('123456789'), '123-456-789')
  t.equal(formatNumber('123-456-789'), '123-456-789')
  t.equal(formatNumber('12345'), '12345', 'anything else as it is')
  t.equal(
    agentCommand('123456789', 'https://help.example.com/'),
    "curl -fLo helpline-agent.mjs 'https://help.example.com/api/v1/join/123-456-789/downloads/helpline-agent.mjs' && node helpline-agent.mjs",
  )
  t.equal(joinLink('123456789', 'https://help.example.com/'), 'https://help.example.com/join/123-456-789')
  t.equal(
    joinMailto({ to: 'jane+1@example.com', subject: 'Session 1 & 2', body: 'Hi,\nopen https://x/join/1?a=b' }),
    'mailto:jane%2B1@example.com?subject=Session%201%20%26%202&body=Hi%2C%0Aopen%20https%3A%2F%2Fx%2Fjoin%2F1%3Fa%3Db',
    'every part encoded, so an & or a line break in the text cannot add or cut a field',
  )
  t.equal(platformLabel(agent), 'Debian GNU/Linux 12 · x64 · customer-pc')
  const at = new Date(2026, 4, 1, 14, 32) // local time, as the file name uses
  t.equal(snapshotFileName('Jane Doe', '123456789', at), 'system-info-Jane-Doe-123-456-789-2026-05-01_1432.txt')
  t.equal(snapshotFileName('山田 太郎', '123-456-789', at), 'system-info-山田-太郎-123-456-789-2026-05-01_1432.txt', 'any script stays')
  t.equal(snapshotFileName('a/b:c*?"<>|.', '123-456-789', at), 'system-info-a-b-c-123-456-789-2026-05-01_1432.txt', 'no path or reserved characters')
  t.equal(snapshotFileName('...', '123-456-789', at), 'system-info-customer-123-456-789-2026-05-01_1432.txt')
  t.equal(agentDisplayStatus(null, 'waiting'), 'none')
  t.equal(agentDisplayStatus(agent, 'active'), 'online')
  t.equal(agentDisplayStatus(agent, 'ended'), 'left', 'an ended session’s agent has left, not online or offline')
  t.equal(agentDisplayStatus({ ...agent, status: 'offline' }, 'ended'), 'left')
  t.equal(agentDisplayStatus({ ...agent, status: 'left' }, 'ended'), 'left')
})

t.test('the sessions adapter and actions over the SDK', async (t) => {
  const seen: { method: string; path: string; query: URLSearchParams; body: unknown }[] = []
  const snapshot = { id: 'snap', sessionId: SID, commandId: 'k', collectedAt: session.createdAt, createdAt: session.createdAt, sizeBytes: 1, hostname: 'pc', os: 'linux' }
  const fakeFetch = async (input: Request): Promise<Response> => {
    const url = new URL(input.url)
    const text = await input.text()
    seen.push({ method: input.method, path: url.pathname, query: url.searchParams, body: text ? JSON.parse(text) : undefined })
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
    const key = `${input.method} ${url.pathname.replace(SID, ':id')}`
    switch (key) {
      case 'GET /api/v1/sessions':
        return json({ data: [session], total: 1 })
      case 'POST /api/v1/sessions':
        return json(session, 201)
      case 'GET /api/v1/sessions/:id':
        return json(session)
      case 'GET /api/v1/sessions/:id/chat':
        return json({ data: [chat(1, 'hi')], total: 1 })
      case 'GET /api/v1/sessions/:id/consents':
        return json({ data: [consent('c1', 'approved')], total: 1 })
      case 'GET /api/v1/sessions/:id/commands':
        return json({ data: [], total: 0 })
      case 'GET /api/v1/sessions/:id/snapshots':
        return json({ data: [snapshot], total: 1 })
      case 'GET /api/v1/sessions/:id/script-runs':
        return json({ statusCode: 500, code: 'INTERNAL', error: 'Internal Server Error', message: 'down' }, 500)
      case 'GET /api/v1/sessions/:id/snapshots/snap/text':
        return new Response('# SYSTEM\n', { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' } })
      case 'POST /api/v1/sessions/:id/system-info/refresh':
        return json({ statusCode: 409, code: 'ALREADY_QUEUED', error: 'Conflict', message: 'busy' }, 409)
      default:
        return json({ statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: key }, 404)
    }
  }
  const client = createClient({ baseUrl: 'http://helpline.test', token: 'tok', fetch: fakeFetch as typeof fetch })
  const adapter = sessionsAdapter(client)
  const actions = sessionActions(client)

  await adapter.getList!({ page: 2, perPage: 10, sort: 'customerName', order: 'asc', status: 'active', q: ' 123 ', mine: true, bogus: 'x' })
  const q = seen.at(-1)!.query
  t.same(Object.fromEntries(q), { page: '2', perPage: '10', sort: 'customerName', order: 'asc', q: '123', status: 'active', mine: 'true' }, 'only filters the API knows')
  await adapter.getList!({ page: 1, perPage: 25, status: 'nonsense' })
  t.same(Object.fromEntries(seen.at(-1)!.query), { page: '1', perPage: '25', sort: 'createdAt', order: 'desc' }, 'newest first by default')

  await adapter.create!({ customerName: ' Jane Doe ', customerEmail: '', description: '  Printer  ' })
  t.same(seen.at(-1)!.body, { customerName: 'Jane Doe', description: 'Printer' }, 'empty optional fields are left out')

  seen.length = 0
  const view = await actions.loadSessionView(SID)
  t.equal(seen[0]!.path, `/api/v1/sessions/${SID}`, 'the session (and its cursor) is read before its lists')
  t.equal(seen.length, 6)
  t.equal(view.chat.length, 1)
  t.same(view.scriptRuns, [], 'the page opens even when the script runs cannot be read')
  t.equal(view.consents[0]!.status, 'approved')
  t.equal(view.snapshots[0]!.id, 'snap')

  t.equal(await actions.snapshotText(SID, 'snap'), '# SYSTEM\n', 'the API’s .txt as text')
  await t.rejects(actions.requestSystemInfo(SID), { message: 'helpline.errors.ALREADY_QUEUED', status: 409 }, 'errors in react-admin’s terms')
})
