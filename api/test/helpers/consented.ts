import { joinAgent } from './agent.ts'
import { statements } from './statements.ts'
import type { TestApp } from './app.ts'

type Csr = Awaited<ReturnType<TestApp['createUser']>>

/**
 * A session of `csr` with a joined agent whose system-information consent is approved (it lasts
 * for the session) and whose first collection is finished, so a Refresh is released at once; and
 * the agent's cursor after it.
 */
export async function consentedSession(h: TestApp, csr: Csr, name: string) {
  const at = (id: string) => ({ params: { path: { id } } })
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: name } })
  const agent = await joinAgent(h, s!.number)
  const { data: first } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s!.id))
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: first!.consent!.id } }, body: { approved: true } })
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  await agent.client.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: first!.command!.id } }, body: { sequence: 0, status: 'failed', message: 'not now' } })
  return { session: s!, agent, cursor: feed!.cursor }
}

/**
 * The CSR's Refresh while the agent's poll holds (from `cursor`): the POST's answer, the held
 * poll's answer, and every statement sent from the POST to that answer.
 */
export async function refreshWhileHeld(h: TestApp, csr: Csr, agent: Awaited<ReturnType<typeof joinAgent>>, sessionId: string, cursor: number) {
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor, wait: 10 } } })
  await new Promise((r) => setTimeout(r, 50))
  const count = statements(h.app.database)
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: sessionId } } })
  const { data: answer } = await held
  count.stop()
  return { refresh: refresh!, answer: answer!, statements: count.list }
}
