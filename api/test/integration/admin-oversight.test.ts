import t from 'tap'
import { joinAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * Site admins may act on any CSR's session, and that CSR always sees it: each action puts a
 * system line naming the admin and the action in the session's chat, and an `admin.acted` event
 * with the admin as actor in its audit trail. The CSR's own actions add nothing of the kind.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const ann = await h.createUser('admin', { name: 'Ann Admin' })
const at = (id: string) => ({ params: { path: { id } } })
const category = await createCategory(h, 'Oversight')
const script = await upload(csr, category, { name: 'Oversight check', published: true })

async function adminLines(sessionId: string) {
  const { data } = await csr.client.GET('/api/v1/sessions/{id}/chat', at(sessionId))
  return data!.data.filter((m) => m.systemEvent?.type === 'admin.acted')
}
async function adminEvents(sessionId: string) {
  const { data } = await h.admin.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: sessionId }, query: { perPage: 100 } } })
  return data!.data.filter((e) => e.type === 'admin.acted')
}

t.test('every admin action on a CSR’s session is named in that CSR’s chat and audited with the admin as actor', async (t) => {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  const agent = await joinAgent(h, s!.number)
  const admin = ann.client

  await admin.POST('/api/v1/sessions/{id}/chat', { ...at(s!.id), body: { body: 'Hello, I am helping Carla' } })
  await admin.POST('/api/v1/sessions/{id}/chat', { ...at(s!.id), body: { body: 'One more thing' } })
  const { data: info } = await admin.POST('/api/v1/sessions/{id}/system-info/refresh', at(s!.id))
  await admin.POST('/api/v1/sessions/{id}/consents/{itemId}/cancel', { params: { path: { id: s!.id, itemId: info!.consent!.id } } })
  await admin.POST('/api/v1/sessions/{id}/logon', at(s!.id))
  await admin.POST('/api/v1/sessions/{id}/reboot', at(s!.id))
  const { data: batch } = await admin.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [s!.id] } })
  await admin.POST('/api/v1/script-batches/{id}/cancel', at(batch!.id))
  await admin.POST('/api/v1/sessions/{id}/admit-agent', at(s!.id))
  await admin.POST('/api/v1/sessions/{id}/end', at(s!.id))

  const lines = await adminLines(s!.id)
  t.same(
    lines.map((m) => m.body),
    [
      'Site admin Ann Admin is writing in this chat',
      'Site admin Ann Admin asked for the customer’s system information',
      'Site admin Ann Admin withdrew a request to the customer',
      'Site admin Ann Admin asked to log on as another user',
      'Site admin Ann Admin asked to restart the customer’s computer',
      'Site admin Ann Admin asked to run scripts',
      'Site admin Ann Admin cancelled script runs',
      'Site admin Ann Admin let a new computer join this session',
      'Site admin Ann Admin ended the session',
    ],
    'the CSR reads who did what; chat is named once',
  )
  t.same(lines[0]!.systemEvent!.data, { adminId: ann.id, adminName: 'Ann Admin', action: 'chat' }, 'the console words it from the event')
  const events = await adminEvents(s!.id)
  t.same(
    events.map((e) => e.data.action),
    ['chat', 'chat', 'system_info', 'cancel_consent', 'logon', 'reboot', 'run_scripts', 'cancel_scripts', 'admit_agent', 'end'],
    'every action, each chat message too, is in the audit trail',
  )
  t.ok(events.every((e) => e.actorType === 'user' && e.actorId === ann.id), 'with the admin as actor')

  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
  t.same(
    feed!.chat.map((m) => m.authorName),
    ['Ann Admin', 'Ann Admin'],
    'the customer sees who writes: the admin, not the CSR',
  )
})

t.test('the CSR acting on their own session, and an admin on their own, add no such line', async (t) => {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Bea' } })
  await joinAgent(h, s!.number)
  await csr.client.POST('/api/v1/sessions/{id}/chat', { ...at(s!.id), body: { body: 'Hi' } })
  await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s!.id))
  await csr.client.POST('/api/v1/sessions/{id}/end', at(s!.id))
  t.same(await adminLines(s!.id), [])
  t.same(await adminEvents(s!.id), [])

  const { data: own } = await ann.client.POST('/api/v1/sessions', { body: { customerName: 'Cleo' } })
  await joinAgent(h, own!.number)
  await ann.client.POST('/api/v1/sessions/{id}/chat', { ...at(own!.id), body: { body: 'My own session' } })
  const { data: chat } = await ann.client.GET('/api/v1/sessions/{id}/chat', at(own!.id))
  t.notOk(chat!.data.some((m) => m.systemEvent?.type === 'admin.acted'), 'an admin’s own session is theirs')
})
