import t from 'tap'
import { ApiError } from '@helpline/sdk'
import { setupApp } from '../helpers/app.ts'
import { joinAgent, sampleUpload } from '../helpers/agent.ts'

const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })

async function refused(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected the call to be refused')
}

t.test('smoke: create, join, consent, collect, export', async (t) => {
  const { data: session } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  t.match(session!.number, /^\d{3}-\d{3}-\d{3}$/)
  t.equal(session!.status, 'waiting')
  const agent = await joinAgent(h, session!.number)
  const path = { params: { path: { id: session!.id } } }
  const { data: refreshed } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', path)
  t.equal(refreshed!.command.status, 'awaiting_consent')
  t.ok(refreshed!.consent)
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  t.equal(feed!.consents.length, 1)
  t.equal(feed!.commands.length, 0, 'no command before consent')
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: feed!.consents[0]!.id } }, body: { approved: true } })
  const { data: feed2 } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: feed!.cursor, wait: 0 } } })
  t.equal(feed2!.commands.length, 1)
  const { data: ack } = await agent.client.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: feed2!.commands[0]!.id } }, body: sampleUpload() })
  t.equal(ack!.duplicate, false)
  const { data: list } = await csr.client.GET('/api/v1/sessions/{id}/snapshots', path)
  t.equal(list!.total, 1)
  const txt = await h.inject({ method: 'GET', url: `/api/v1/sessions/${session!.id}/snapshots/${ack!.snapshotId}/text`, token: csr.token })
  t.equal(txt.statusCode, 200)
  t.match(txt.headers['content-type'], /text\/plain/)
  t.match(txt.body, /# SYSTEM/)
  console.log(txt.body)
  const { data: events } = await csr.client.GET('/api/v1/sessions/{id}/events', path)
  t.ok(events!.total > 5)
  const { data: chat } = await csr.client.GET('/api/v1/sessions/{id}/chat', path)
  console.log(chat!.data.map((m) => m.body))
  t.ok(refused)
})
