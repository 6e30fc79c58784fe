/**
 * The README's audit example as an integrator runs it: an admin's token checks the site trail
 * and every session's, and names the first broken event of a session someone edited directly in
 * the database.
 */
import t from 'tap'
import { sql } from 'drizzle-orm'
import { uploadScript } from '@helpline/sdk'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { joinAgent } from '../../api/test/helpers/agent.ts'
import { runExample } from './helpers/readme.ts'

t.test('the README audit example names the broken session and lists transfers', async (t) => {
  const server = await startTestServer(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
  const { h } = server
  const csr = await h.createUser('csr', { name: 'Carla' })
  const { data: category } = await h.admin.client.POST('/api/v1/script-categories', { body: { name: 'Audit' } })
  const script = await uploadScript(csr.client, { name: 'Audited', categoryId: category!.id, executable: { name: 'a.sh', content: '#!/bin/sh\n' } })
  await h.admin.client.POST('/api/v1/scripts/{id}/owner', { params: { path: { id: script.id } }, body: { ownerId: h.admin.id } })
  const sessions = []
  for (const name of ['Intact', 'Tampered']) {
    const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: name } })
    await joinAgent(h, s!.number)
    sessions.push(s!)
  }
  const { data: events } = await h.admin.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: sessions[1]!.id } } })
  const edited = events!.data[1]!
  await h.app.database.db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`)
    await tx.execute(sql`update session_events set data = '{}'::jsonb where id = ${edited.id}`)
  })

  const lines = await runExample(t, 'audit-check', { url: server.url.replace(/\/+$/, ''), token: h.admin.token })
  t.same(lines, [
    'site trail: intact (1 events)',
    `session ${sessions[1]!.number}: first broken event ${edited.id}: its content or hash was changed`,
    `script ${script.id} went from ${csr.id} to ${h.admin.id}`,
  ])
})
