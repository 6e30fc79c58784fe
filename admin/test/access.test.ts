/**
 * Log on as another user, log off, restart and the session report without a browser: what the
 * header offers, the logon dialog's phases, the chat's new system lines, the report's words for
 * events and its helpers, the Reports list's date filters, and the new calls over the SDK.
 */
import t from 'tap'
import { createClient, type Schemas } from '@helpline/sdk'
import { createI18nProvider } from '../src/i18n/index.ts'
import { catalog } from '../src/i18n/catalog.ts'
import { dayBoundary, sessionActions, toSessionQuery, type SessionView } from '../src/api/resources/sessions.ts'
import { initialState, liveReducer, type LiveState } from '../src/resources/sessions/live.ts'
import { accessControls, logonFailureText, logonPhase, type LogonAttempt } from '../src/resources/sessions/access.ts'
import { systemLineText } from '../src/resources/sessions/system-lines.ts'
import {
  accessEvents,
  actorText,
  argsText,
  durationText,
  eventDetails,
  eventText,
  platformText,
  reportFileName,
  reportPath,
  reportPrintPath,
} from '../src/resources/reports/report.ts'
import { SID, USER, agent, session } from './helpers/fixtures.ts'

const en = createI18nProvider('en-US', catalog).translate
const ja = createI18nProvider('ja', catalog).translate

function consent(id: string, status: Schemas['ConsentStatus'], kind: Schemas['ConsentKind'] = 'logon_as_user'): Schemas['Consent'] {
  return { id, sessionId: SID, kind, status, requestedBy: USER, details: {}, createdAt: '2026-05-01T10:01:00.000Z', expiresAt: '2026-05-01T10:03:00.000Z', answeredAt: null }
}

function command(id: string, kind: string, status: Schemas['CommandStatus'], extra: Partial<Schemas['Command']> = {}): Schemas['Command'] {
  return { id, sessionId: SID, kind, status, consentId: null, createdAt: '2026-05-01T10:02:00.000Z', deliveredAt: null, finishedAt: null, error: null, ...extra }
}

function state(partial: Partial<SessionView> = {}): LiveState {
  return initialState({ session, chat: [], consents: [], commands: [], snapshots: [], scriptRuns: [], ...partial })
}

const withAgent = (s: LiveState, a: Partial<Schemas['AgentInfo']>) => liveReducer(s, { event: 'agent', data: { ...agent, ...a } })

t.test('what the header offers', async (t) => {
  const fresh = accessControls(state())
  t.same(fresh, { workingAs: null, restarting: false, rebootAwaitingConsent: false, loggingOff: false, canLogon: true, canLogoff: false, canReboot: true })

  const loggedOn = withAgent(state(), { workingAs: 'alice' })
  t.match(accessControls(loggedOn), { workingAs: 'alice', canLogon: false, canLogoff: true, canReboot: true }, 'logged on: Log off instead of Log on')
  const off = liveReducer(loggedOn, { event: 'command', data: command('k1', 'logoff', 'queued') })
  t.match(accessControls(off), { loggingOff: true, canLogoff: false }, 'a log off on its way')

  const logonSent = state({ commands: [command('k0', 'logon_as_user', 'delivered')] })
  t.equal(accessControls(logonSent).canLogon, false, 'not twice at once')

  const waiting = state({ commands: [command('k2', 'reboot', 'awaiting_consent')] })
  t.match(accessControls(waiting), { rebootAwaitingConsent: true, canReboot: false })
  const restarting = withAgent(state({ commands: [command('k2', 'reboot', 'running')] }), { rebooting: true })
  t.match(accessControls(restarting), { restarting: true, canLogon: false, canReboot: false }, 'nothing can be asked of a restarting computer')
  const back = withAgent(restarting, { rebooting: false })
  t.match(accessControls(back), { restarting: false, canReboot: true }, 'after the rejoin a restart can be asked again')

  t.match(accessControls(withAgent(state(), { status: 'offline' })), { canLogon: false, canReboot: false }, 'an offline agent')
  const ended = liveReducer(withAgent(state(), { workingAs: 'alice' }), { event: 'session', data: { ...session, status: 'ended', agent: { ...agent, workingAs: 'alice' } } })
  t.match(accessControls(ended), { workingAs: null, canLogon: false, canLogoff: false, canReboot: false }, 'an ended session offers nothing')
})

t.test('the logon dialog follows the consent, then the command', async (t) => {
  const pending = consent('c1', 'pending')
  let attempt: LogonAttempt | undefined
  t.same(logonPhase(state(), attempt), { kind: 'asking' }, 'the request is on its way')

  attempt = { consent: pending, publicKey: 'PEM' }
  let s = liveReducer(state(), { event: 'consent', data: pending })
  t.equal(logonPhase(s, attempt).kind, 'waiting_consent')
  t.equal(logonPhase(state(), attempt).kind, 'waiting_consent', 'the request’s own answer counts before the stream has it')

  s = liveReducer(s, { event: 'consent', data: consent('c1', 'approved') })
  t.equal(logonPhase(s, attempt).kind, 'credentials', 'approved through the stream: ask for the account')
  t.same(logonPhase(s, attempt, true), { kind: 'sending', username: '' }, 'encrypting and sending')

  attempt = { ...attempt, username: 'fixer', commandId: 'k1' }
  t.same(logonPhase(s, attempt), { kind: 'sending', username: 'fixer' }, 'the command is not in the state yet')
  s = liveReducer(s, { event: 'command', data: command('k1', 'logon_as_user', 'delivered') })
  t.equal(logonPhase(s, attempt).kind, 'sending', 'the agent is logging on')
  const done = liveReducer(s, { event: 'command', data: command('k1', 'logon_as_user', 'succeeded') })
  t.same(logonPhase(done, attempt), { kind: 'logged_on', username: 'fixer' }, 'logged on, by the name typed')
  t.same(logonPhase(withAgent(done, { workingAs: 'FIXER' }), attempt), { kind: 'logged_on', username: 'FIXER' }, 'the agent’s word wins')

  const failed = liveReducer(s, { event: 'command', data: command('k1', 'logon_as_user', 'failed', { error: 'wrong user name or password' }) })
  t.same(logonPhase(failed, attempt), { kind: 'failed', message: 'wrong user name or password' })
  const dropped = liveReducer(s, { event: 'command', data: command('k1', 'logon_as_user', 'cancelled', { error: 'The agent did not pick up the credentials in time' }) })
  t.equal(logonPhase(dropped, attempt).kind, 'failed', 'credentials nobody picked up')
  t.same(logonPhase(s, { consent: pending, publicKey: 'PEM', error: 'helpline.errors.CONSENT_REQUIRED' }), { kind: 'failed', message: 'helpline.errors.CONSENT_REQUIRED' }, 'a refused send')

  const reasoned = liveReducer(failed, {
    event: 'chat',
    data: {
      id: 'c0000000-0000-4000-8000-000000000009',
      seq: 9,
      sender: 'system',
      authorName: 'Helpline',
      body: 'Logon failed: Logon failed: wrong user name or password',
      systemEvent: { type: 'agent.logon_failed', data: { reason: 'bad_credentials' } },
      createdAt: '2026-05-01T10:02:05.000Z',
    },
  })
  const phase = logonPhase(reasoned, attempt)
  t.same(phase, { kind: 'failed', message: 'wrong user name or password', reason: 'bad_credentials' }, 'the reason from the agent’s chat line')
  t.equal(logonFailureText({ message: 'Logon failed: wrong user name or password', reason: 'bad_credentials' }, en), 'Logon failed: wrong user name or password', 'a known reason in our words')
  t.equal(logonFailureText({ message: 'Logon failed: wrong user name or password', reason: 'bad_credentials' }, ja), 'ログオンに失敗しました: ユーザー名またはパスワードが違います')
  t.equal(logonFailureText({ message: 'Logon failed: no such user', reason: 'unavailable' }, en), 'Logon failed: no such user', 'otherwise the message, not "Logon failed" twice')
  t.equal(logonFailureText({ message: 'helpline.errors.CONSENT_REQUIRED' }, en), 'Logon failed: The customer has not approved this, or the approval was already used: ask again', 'a refusal in our words')
  t.equal(logonFailureText({ message: null }, en), 'Logon failed: no reason given')

  for (const status of ['denied', 'expired', 'cancelled'] as const) {
    const answered = liveReducer(state(), { event: 'consent', data: consent('c1', status) })
    t.same(logonPhase(answered, { consent: pending, publicKey: 'PEM' }), { kind: 'closed', reason: status }, `${status}: the dialog closes`)
  }
})

t.test('the chat words the new system lines', async (t) => {
  const line = (type: string, data: Record<string, unknown>, body: string): Schemas['ChatMessage'] => ({
    id: 'c0000000-0000-4000-8000-000000000001',
    seq: 1,
    sender: 'system',
    authorName: 'Helpline',
    body,
    systemEvent: { type, data },
    createdAt: '2026-05-01T10:00:00.000Z',
  })
  t.equal(systemLineText(line('agent.logged_on', { username: 'fixer' }, 'x'), session, en), 'Logged on to the customer’s computer as fixer')
  t.equal(systemLineText(line('agent.logged_on', { username: 'fixer' }, 'x'), session, ja), 'お客様のコンピューターに fixer としてログオンしました')
  t.equal(systemLineText(line('agent.logged_off', {}, 'x'), session, en), 'Logged off: back to the customer’s own user')
  t.equal(systemLineText(line('agent.rebooting', {}, 'x'), session, en), 'The customer’s computer is restarting; the agent rejoins by itself')
  t.equal(systemLineText(line('agent.rejoined', { afterReboot: true }, 'x'), session, en), 'Jane Doe rejoined after the restart')
  t.equal(systemLineText(line('agent.rejoined', { afterReboot: false }, 'x'), session, en), 'Jane Doe rejoined')
  t.match(systemLineText(line('agent.rejoin_expired', { minutes: 15 }, 'x'), session, ja), /15 分以内に戻りませんでした/, 'a computer that did not come back, in Japanese')
  t.equal(systemLineText(line('agent.logon_failed', { reason: 'bad_credentials' }, 'x'), session, en), 'Logon failed: wrong user name or password', 'a known reason in our words')
  t.equal(
    systemLineText(line('agent.logon_failed', { reason: 'no_rights' }, 'Logon failed: the agent may not switch users'), session, en),
    'Logon failed: the agent may not switch users',
    'otherwise the agent’s own message',
  )
})

function event(id: number, type: string, data: Record<string, unknown> = {}, actorType: Schemas['SessionEvent']['actorType'] = 'system', actorId: string | null = null): Schemas['SessionEvent'] {
  return { id, type, actorType, actorId, data, createdAt: `2026-05-01T10:${String(id).padStart(2, '0')}:00.000Z`, prevHash: null, hash: null }
}

t.test('the report’s words for the timeline', async (t) => {
  const cases: [Schemas['SessionEvent'], string][] = [
    [event(1, 'session.created', { customerName: 'Jane Doe' }), 'Session created'],
    [event(2, 'agent.joined', { platform: agent.platform }), 'The customer joined from Debian GNU/Linux 12 · x64 · customer-pc'],
    [event(3, 'consent.requested', { kind: 'logon_as_user' }), 'Asked the customer: Log on as another user'],
    [event(4, 'consent.approved', { kind: 'reboot' }), 'The customer approved: Restart the computer'],
    [event(5, 'agent.logged_on', { username: 'fixer' }), 'Logged on as fixer'],
    [event(6, 'agent.logon_failed', { reason: 'bad_credentials', message: 'Logon failed: wrong user name or password' }), 'Logon failed: wrong user name or password'],
    [event(7, 'agent.logon_failed', { reason: 'x', message: 'no such user' }), 'Logon failed: no such user'],
    [event(8, 'agent.logged_off', { username: 'fixer' }), 'Logged off fixer: back to the customer’s own user'],
    [event(9, 'agent.logged_off', { username: 'fixer', reason: 'session_ended' }), 'Logged off fixer: back to the customer’s own user (the session ended)'],
    [event(10, 'agent.logged_off', { username: null, reason: 'agent_restarted' }), 'Logged off: back to the customer’s own user (the agent restarted)'],
    [event(11, 'agent.rebooting'), 'The customer’s computer is restarting'],
    [event(12, 'agent.rejoined', { afterReboot: true }), 'The customer’s agent rejoined after the restart'],
    [event(13, 'command.failed', { kind: 'collect_system_info', error: 'disk on fire' }), 'Collect the system information: failed: disk on fire'],
    [event(14, 'command.queued', { kind: 'mystery_kind' }), 'mystery_kind: sent to the agent'],
    [event(15, 'script_batch.requested', { scripts: [{ name: 'Flush DNS', version: 2 }, { name: 'Ping' }] }), 'Scripts requested: Flush DNS (version 2), Ping'],
    [event(16, 'script_run.started', { scriptName: 'Flush DNS', version: 2 }), 'Script started: Flush DNS (version 2)'],
    [event(17, 'script_run.ended', { scriptName: 'Flush DNS', version: 2, status: 'succeeded' }), 'Script Flush DNS (version 2): Succeeded'],
    [event(18, 'script_run.skipped', { scriptName: 'Ping', version: 1 }), 'Script Ping (version 1): Skipped'],
    [event(19, 'snapshot.stored', { sizeBytes: 10 }), 'System information collected'],
    [event(20, 'session.ended'), 'Session ended'],
  ]
  for (const [e, text] of cases) t.equal(eventText(e, en), text, e.type)
  t.equal(eventText(event(5, 'agent.logged_on', { username: 'fixer' }), ja), 'fixer としてログオン', 'in Japanese too')
  const unknown = event(21, 'future.thing', { a: 1, b: 'two', nested: { c: 3 }, none: null })
  t.equal(eventText(unknown, en), undefined, 'an unknown type has no words: the page shows the raw type')
  t.equal(eventDetails(unknown), 'a=1 b=two', 'and its plain details')

  const timeline = cases.map(([e]) => e)
  t.same(
    accessEvents(timeline).map((e) => e.type),
    ['agent.logged_on', 'agent.logon_failed', 'agent.logon_failed', 'agent.logged_off', 'agent.logged_off', 'agent.logged_off', 'agent.rebooting', 'agent.rejoined'],
    'logons, log offs, restarts and rejoins, in order',
  )

  const other = { id: '7d1c7c1e-0000-4000-8000-000000000002', name: 'Olga Admin' }
  const report = { session, consents: [{ ...consent('c1', 'approved'), requestedBy: other }] }
  t.equal(actorText(event(1, 'x', {}, 'user', USER.id), report, en), 'Casey', 'the CSR by name')
  t.equal(actorText(event(1, 'x', {}, 'user', other.id), report, en), 'Olga Admin', 'whoever asked a consent, by name')
  t.equal(actorText(event(1, 'x', {}, 'user', 'unknown'), report, en), 'A user')
  t.equal(actorText(event(1, 'x', {}, 'agent', agent.id), report, en), 'Customer’s agent')
  t.equal(actorText(event(1, 'x'), report, en), 'Helpline')
})

t.test('report helpers', async (t) => {
  t.equal(reportPath(SID), `/sessions/${SID}/report`)
  t.equal(reportPrintPath(SID), `/print/sessions/${SID}/report`)
  const at = new Date(2026, 4, 1, 14, 32)
  t.equal(reportFileName('Jane Doe', '123456789', at), 'session-report-Jane-Doe-123-456-789-2026-05-01_1432.txt')
  t.equal(reportFileName('山田 太郎', '123-456-789', at), 'session-report-山田-太郎-123-456-789-2026-05-01_1432.txt')
  t.equal(platformText({ os: 'linux', osVersion: '', arch: 'x64', hostname: 'pc' }), 'linux · x64 · pc', 'the OS when there is no version')
  t.equal(platformText(null), '')
  t.equal(durationText(null), '—')
  t.equal(durationText(3725), '1 h 2 min')
  t.equal(durationText(42), '42 s')
  t.equal(argsText([], '(none)'), '(none)')
  t.equal(argsText(['a b', ''], '(none)'), '"a b" ""', 'quoted, so spaces and empty ones show')
  t.equal(en('helpline.report.snapshots', { smart_count: 1 }), 'System information (1 snapshot)', 'one snapshot')
  t.equal(en('helpline.report.timeline', { smart_count: 48 }), 'Timeline (48 events)', 'many events')
  t.equal(en('helpline.report.chat', { smart_count: 0 }), 'Chat (0 messages)')
  t.equal(ja('helpline.report.snapshots', { smart_count: 1 }), 'システム情報（1 件のスナップショット）')
})

t.test('the Reports list’s filters', async (t) => {
  t.equal(dayBoundary('2026-05-01', 'from'), new Date(2026, 4, 1).toISOString(), 'from: the first moment of the day, local time')
  t.equal(dayBoundary('2026-05-01', 'to'), new Date(2026, 4, 2).toISOString(), 'to: the day picked is included')
  t.equal(dayBoundary('2026-12-31', 'to'), new Date(2027, 0, 1).toISOString(), 'across the year')
  t.equal(dayBoundary('2026-05-01T10:00:00.000Z', 'to'), '2026-05-01T10:00:00.000Z', 'a date-time as it is')
  t.equal(dayBoundary('yesterday', 'from'), undefined)
  t.equal(dayBoundary('', 'from'), undefined)
  t.equal(dayBoundary(null, 'to'), undefined)
  const q = toSessionQuery({ page: 1, perPage: 25, from: '2026-05-01', to: '2026-05-31', csrId: USER.id, status: 'ended' })
  t.same(q, { page: 1, perPage: 25, sort: 'createdAt', order: 'desc', status: 'ended', csrId: USER.id, from: new Date(2026, 4, 1).toISOString(), to: new Date(2026, 5, 1).toISOString() })
  t.notOk('csrId' in toSessionQuery({ page: 1, perPage: 25, csrId: 'not-a-uuid' }), 'a malformed CSR id is dropped')
})

t.test('the access and report calls over the SDK', async (t) => {
  const seen: { method: string; path: string; body: unknown }[] = []
  const fakeFetch = async (input: Request): Promise<Response> => {
    const url = new URL(input.url)
    const text = await input.text()
    seen.push({ method: input.method, path: url.pathname.replace(SID, ':id'), body: text ? JSON.parse(text) : undefined })
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
    switch (`${input.method} ${url.pathname.replace(SID, ':id')}`) {
      case 'POST /api/v1/sessions/:id/logon':
        return json({ command: null, consent: consent('c1', 'pending'), publicKey: 'PEM', algorithm: 'RSA-OAEP-256' }, 202)
      case 'POST /api/v1/sessions/:id/logon/credentials':
        return json({ command: command('k1', 'logon_as_user', 'queued'), consent: null }, 202)
      case 'POST /api/v1/sessions/:id/logoff':
        return json({ statusCode: 409, code: 'NOT_LOGGED_ON', error: 'Conflict', message: 'no' }, 409)
      case 'POST /api/v1/sessions/:id/reboot':
        return json({ statusCode: 409, code: 'ALREADY_QUEUED', error: 'Conflict', message: 'busy' }, 409)
      case 'GET /api/v1/sessions/:id/report':
        return json({ generatedAt: session.createdAt, session, durationSeconds: 5, agentPlatform: null, timeline: [], consents: [], snapshots: [], scriptRuns: [], chat: [] })
      case 'GET /api/v1/sessions/:id/report/text':
        return new Response('Helpline session report 123-456-789\n', { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' } })
      default:
        return json({ statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: 'x' }, 404)
    }
  }
  const actions = sessionActions(createClient({ baseUrl: 'http://helpline.test', token: 'tok', fetch: fakeFetch as typeof fetch }))
  const asked = await actions.requestLogon(SID)
  t.equal(asked.publicKey, 'PEM')
  const sent = await actions.submitLogonCredentials(SID, 'c1', 'Y2lwaGVydGV4dGNpcGhlcnRleHQ=')
  t.equal(sent.command!.kind, 'logon_as_user')
  t.same(seen.at(-1), { method: 'POST', path: '/api/v1/sessions/:id/logon/credentials', body: { consentId: 'c1', ciphertext: 'Y2lwaGVydGV4dGNpcGhlcnRleHQ=' } }, 'only the consent and the ciphertext travel')
  await t.rejects(actions.logoff(SID), { message: 'helpline.errors.NOT_LOGGED_ON', status: 409 })
  await t.rejects(actions.requestReboot(SID), { message: 'helpline.errors.ALREADY_QUEUED', status: 409 })
  t.equal((await actions.getSessionReport(SID)).durationSeconds, 5)
  t.equal(await actions.sessionReportText(SID), 'Helpline session report 123-456-789\n', 'the .txt as text')
})
