import t from 'tap'
import { createClient } from '@helpline/sdk'
import { secondInstance, setupApp } from '../helpers/app.ts'
import { joinAgent } from '../helpers/agent.ts'
import { testDatabaseUrl } from '../helpers/db.ts'

/**
 * Two API instances on one PostgreSQL serve the same sessions: a command created through one
 * wakes an agent's long-poll held by the other, through LISTEN/NOTIFY.
 */
const skip = testDatabaseUrl ? false : 'needs PostgreSQL: set TEST_DATABASE_URL (LISTEN/NOTIFY between two instances)'
t.test('two API instances on one PostgreSQL', { skip }, async (t) => {
  const h = await setupApp(t)
  const csr = await h.createUser('csr')
  const { address } = await secondInstance(t, h)

  t.test('a command created on one instance reaches a poll held by the other within a second', async (t) => {
    const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Two instances' } })
    const agent = await joinAgent(h, s!.number)
    const path = { params: { path: { id: s!.id } } }
    const { data: first } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', path)
    await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: first!.consent!.id } }, body: { approved: true } })
    const { data: caughtUp } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { wait: 0 } } })
    await agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: first!.command!.id } }, body: { sequence: 0, status: 'failed', message: 'test' } })

    // The agent talks to the second instance over real HTTP; the CSR to the first.
    const remote = createClient({ baseUrl: address, token: agent.token })
    const holding = remote.GET('/api/v1/agent/poll', { params: { query: { cursor: caughtUp!.cursor, wait: 10 } } })
    await new Promise((r) => setTimeout(r, 300))
    const created = Date.now()
    const { data: queued } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', path)
    const { data: woken } = await holding
    const latency = Date.now() - created
    t.same(woken!.commands.map((c) => c.id), [queued!.command!.id])
    t.ok(latency < 1000, `delivered ${latency} ms after it was created on the other instance`)
  })
})
