/**
 * Takeover and oversight without a browser: the chat's and the report's words for refused joins,
 * admissions, replacements and admins' actions (English and Japanese), and the new calls over the
 * SDK (let a computer in, unpublish, transfer owner).
 */
import t from 'tap'
import { createClient, type Schemas } from '@helpline/sdk'
import { createI18nProvider } from '../src/i18n/index.ts'
import { catalog } from '../src/i18n/catalog.ts'
import { en as messages } from '../src/i18n/en.ts'
import { sessionActions } from '../src/api/resources/sessions.ts'
import { scriptActions } from '../src/api/resources/scripts.ts'
import { computerText, systemLineText } from '../src/resources/sessions/system-lines.ts'
import { eventText } from '../src/resources/reports/report.ts'
import { SID, USER, session } from './helpers/fixtures.ts'

const en = createI18nProvider('en-US', catalog).translate
const ja = createI18nProvider('ja', catalog).translate
const at = (iso: string) => `at ${iso.slice(11, 16)}`

const line = (type: string, data: Record<string, unknown>): Schemas['ChatMessage'] => ({
  id: 'c0000000-0000-4000-8000-000000000001',
  seq: 1,
  sender: 'system',
  authorName: 'Helpline',
  body: 'the server’s English',
  systemEvent: { type, data },
  createdAt: '2026-05-01T10:00:00.000Z',
})

t.test('refused joins, admissions and replacements in the chat, in both languages', async (t) => {
  const refused = line('agent.join_refused', { hostname: 'intruder-box', os: 'linux', osVersion: 'Kali 2026', address: '203.0.113.7' })
  t.equal(
    systemLineText(refused, session, en),
    'Another computer tried to join with the session number (intruder-box, Kali 2026) from 203.0.113.7; it was refused. If the customer changed computers, let it in from the banner above',
  )
  t.match(systemLineText(refused, session, ja), /別のコンピューター（intruder-box, Kali 2026）が 203\.0\.113\.7 から/)
  const granted = line('agent.admission_granted', { until: '2026-05-01T10:05:00.000Z' })
  t.equal(systemLineText(granted, session, en, at), 'A new computer may join with the session number until at 10:05; it will replace the current one')
  t.match(systemLineText(granted, session, ja, at), /at 10:05 まで、新しいコンピューターが/)
  t.equal(
    systemLineText(line('agent.replaced', { admittedByName: 'Carla' }), session, en),
    'A new computer took the session over, let in by Carla; the previous computer can no longer act in this session',
  )
})

t.test('each admin action is worded, in both languages; an unknown one falls back to the server’s text', async (t) => {
  const actions = Object.keys(messages.helpline.chat.system.admin_acted)
  t.same(actions.sort(), ['admit_agent', 'cancel_consent', 'cancel_scripts', 'chat', 'end', 'logoff', 'logon', 'logon_credentials', 'reboot', 'run_scripts', 'system_info'])
  for (const action of actions) {
    const l = line('admin.acted', { adminId: USER.id, adminName: 'Ann Admin', action })
    t.match(systemLineText(l, session, en), /^Site admin Ann Admin /, `${action} in English`)
    t.match(systemLineText(l, session, ja), /^サイト管理者 Ann Admin が/, `${action} in Japanese`)
  }
  t.equal(systemLineText(line('admin.acted', { adminName: 'Ann', action: 'launch_rockets' }), session, en), 'the server’s English')
})

t.test('the report’s words for the new events', async (t) => {
  const event = (type: string, data: Record<string, unknown>): Schemas['SessionEvent'] => ({ id: 1, type, actorType: 'system', actorId: null, data, createdAt: '2026-05-01T10:00:00.000Z', prevHash: '', hash: 'h' })
  t.equal(eventText(event('agent.join_refused', { hostname: 'box', os: 'linux', osVersion: '', address: '10.0.0.9' }), en), 'Another computer was refused: box, linux from 10.0.0.9')
  t.match(eventText(event('agent.admission_granted', { until: '2026-05-01T10:05:00.000Z' }), en), /^A new computer was let in \(until .+\)$/)
  t.equal(eventText(event('admin.acted', { adminName: 'Ann', action: 'end' }), en), 'Site admin Ann ended the session')
  t.equal(eventText(event('agent.replaced', {}), ja), '新しいコンピューターが以前のコンピューターを引き継ぎました')
  t.equal(computerText({}), '?', 'a computer that said nothing about itself')
})

t.test('let a computer in, unpublish and transfer over the SDK', async (t) => {
  const SCRIPT = '5c000000-0000-4000-8000-00000000000a'
  const script = {
    id: SCRIPT, name: 'Fix', description: '', categoryId: SID, categoryName: 'Tools', ownerId: USER.id, ownerName: 'Casey', published: false,
    defaultTimeoutSeconds: 600, version: 1, versionId: SID, digest: 'd', size: 1, files: [], createdAt: session.createdAt, updatedAt: session.createdAt,
  }
  const seen: { method: string; path: string; body: unknown }[] = []
  const fakeFetch = async (input: Request): Promise<Response> => {
    const url = new URL(input.url)
    const text = await input.text()
    const path = url.pathname.replace(SID, ':id').replace(SCRIPT, ':script')
    seen.push({ method: input.method, path, body: text ? JSON.parse(text) : undefined })
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
    switch (`${input.method} ${path}`) {
      case 'POST /api/v1/sessions/:id/admit-agent':
        return json({ until: '2026-05-01T10:05:00.000Z', admittedBy: USER }, 202)
      case 'PATCH /api/v1/scripts/:script':
        return json(script)
      case 'POST /api/v1/scripts/:script/owner':
        return json({ statusCode: 422, code: 'UNKNOWN_USER', error: 'Unprocessable Entity', message: 'no', errors: { ownerId: 'Choose an active user' } }, 422)
      default:
        return json({ statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: 'x' }, 404)
    }
  }
  const client = createClient({ baseUrl: 'http://helpline.test', token: 'tok', fetch: fakeFetch as typeof fetch })
  t.same(await sessionActions(client).admitAgent(SID), { until: '2026-05-01T10:05:00.000Z', admittedBy: USER })
  const scripts = scriptActions(client)
  t.equal((await scripts.unpublishScript(SCRIPT)).published, false)
  t.same(seen.at(-1), { method: 'PATCH', path: '/api/v1/scripts/:script', body: { published: false } }, 'an admin sends exactly published: false')
  await t.rejects(scripts.transferScriptOwner(SCRIPT, USER.id), { message: 'helpline.errors.UNKNOWN_USER', status: 422 })
  t.same(seen.at(-1)?.body, { ownerId: USER.id })
})
