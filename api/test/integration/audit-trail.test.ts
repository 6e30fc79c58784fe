import t from 'tap'
import { sql } from 'drizzle-orm'
import type { Db } from '../../src/db/client.ts'
import { joinAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * The audit trails are tamper-evident (issue 12, failure 8): someone with full write access to
 * the database who switches the append-only triggers off (`session_replication_role = replica`)
 * can change, remove or add events, but the chain check names the first broken one, through the
 * API and through `verifyAll` (what `npm run audit:verify` runs). The PostgreSQL roles that keep
 * the app itself from doing this are in database-roles.test.ts.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const { db } = h.app.database
const admin = h.admin.client
const at = (id: string) => ({ params: { path: { id } } })

/** As a database superuser would: with the triggers that refuse UPDATE and DELETE switched off. */
async function tamper(change: (tx: Db) => Promise<unknown>) {
  await db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`)
    await change(tx)
  })
}

/** A session with a handful of events: created, joined, chat, a consent asked. */
async function busySession() {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  await joinAgent(h, s!.number)
  await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', at(s!.id))
  await csr.client.POST('/api/v1/sessions/{id}/end', at(s!.id))
  const { data: events } = await csr.client.GET('/api/v1/sessions/{id}/events', { params: { path: { id: s!.id }, query: { perPage: 100 } } })
  return { session: s!, events: events!.data }
}
const verify = async (id: string) => (await admin.GET('/api/v1/sessions/{id}/events/verify', at(id))).data!

t.test('listed events carry their links; an untouched trail verifies', async (t) => {
  const { session, events } = await busySession()
  t.ok(events.length >= 5)
  t.equal(events[0]!.prevHash, '', 'the first event starts the chain')
  events.slice(1).forEach((e, i) => t.equal(e.prevHash, events[i]!.hash, `event ${e.id} points at the one before`))
  t.ok(events.every((e) => /^[0-9a-f]{64}$/.test(e.hash ?? '')), 'each has its HMAC')
  t.same(await verify(session.id), { ok: true, events: events.length, verified: events.length, unchained: 0, firstBroken: null })
  const csrTries = await refused(csr.client.GET('/api/v1/sessions/{id}/events/verify', at(session.id)))
  t.equal(csrTries.status, 403, 'site admins only')
  const missing = await refused(admin.GET('/api/v1/sessions/{id}/events/verify', at('00000000-0000-4000-8000-000000000000')))
  t.same([missing.status, missing.code], [404, 'SESSION_NOT_FOUND'])
})

t.test('an edited, a removed and an inserted event are each named as the first broken link', async (t) => {
  const edited = await busySession()
  const victim = edited.events[2]!
  await tamper((tx) => tx.execute(sql`update session_events set data = '{"forged": true}'::jsonb where id = ${victim.id}`))
  t.match(await verify(edited.session.id), { ok: false, verified: 2, firstBroken: { id: victim.id, reason: /content or hash was changed/ } }, 'edited content')

  const rehashed = await busySession()
  const second = rehashed.events[1]!
  // Recomputing a plain hash does not help without the server secret.
  await tamper((tx) => tx.execute(sql`update session_events set actor_type = 'system', hash = encode(sha256(convert_to(prev_hash || 'x', 'UTF8')), 'hex') where id = ${second.id}`))
  t.match(await verify(rehashed.session.id), { ok: false, firstBroken: { id: second.id } }, 'edited content with a made-up hash')

  const removed = await busySession()
  const gone = removed.events[1]!
  await tamper((tx) => tx.execute(sql`delete from session_events where id = ${gone.id}`))
  t.match(await verify(removed.session.id), { ok: false, firstBroken: { id: removed.events[2]!.id, reason: /does not follow the row before it/ } }, 'a removed event: the next one no longer follows')

  const inserted = await busySession()
  const last = inserted.events.at(-1)!
  await tamper((tx) =>
    tx.execute(sql`insert into session_events (session_id, type, actor_type, data, created_at, prev_hash, hash, key_id)
      select session_id, 'session.note', 'system', '{}'::jsonb, created_at, hash, hash, key_id from session_events where id = ${last.id}`),
  )
  const report = await verify(inserted.session.id)
  t.equal(report.ok, false, 'an added event')
  t.ok(report.firstBroken!.id > last.id, 'is named')

  const unchained = await busySession()
  await tamper((tx) => tx.execute(sql`update session_events set hash = null, prev_hash = null where id = ${unchained.events[3]!.id}`))
  t.match(await verify(unchained.session.id), { ok: false, firstBroken: { id: unchained.events[3]!.id, reason: /unchained row after the chain began/ } }, 'an event stripped of its link')

  const broken: string[] = []
  const totals = await h.app.services.audit.verifyAll(({ chain, report }) => broken.push(`${chain} @${report.firstBroken?.id}`))
  t.equal(totals.broken, 5, 'verifyAll (npm run audit:verify) finds all five')
  for (const s of [edited, rehashed, removed, unchained]) t.ok(broken.some((b) => b.includes(s.session.id)), `including ${s.session.number}`)
  t.ok(broken.some((b) => b.includes(`session ${edited.session.number} (${edited.session.id}) @${victim.id}`)), 'naming the session and its first broken event')
})

t.test('the site-wide trail: listed with filters, verified, and tampering is named', async (t) => {
  const category = await createCategory(h, 'Site trail')
  const a = await upload(csr, category, { name: 'Site trail one', published: true })
  const b = await upload(csr, category, { name: 'Site trail two', published: true })
  await admin.PATCH('/api/v1/scripts/{id}', { ...at(a.id), body: { published: false } })
  await admin.PATCH('/api/v1/scripts/{id}', { ...at(b.id), body: { published: false } })
  await admin.POST('/api/v1/scripts/{id}/owner', { ...at(b.id), body: { ownerId: h.admin.id } })

  const { data: all } = await admin.GET('/api/v1/audit-events', { params: { query: { order: 'desc', perPage: 100 } } })
  t.equal(all!.data[0]!.type, 'script.owner_transferred', 'newest first when asked')
  const { data: unpublished } = await admin.GET('/api/v1/audit-events', { params: { query: { type: 'script.unpublished', actorId: h.admin.id } } })
  t.same(unpublished!.data.map((e) => e.targetId), [a.id, b.id])
  const { data: window } = await admin.GET('/api/v1/audit-events', { params: { query: { from: new Date(Date.now() + 60_000).toISOString() } } })
  t.equal(window!.total, 0, 'from filters by time')
  const { data: before } = await admin.GET('/api/v1/audit-events', { params: { query: { to: new Date(Date.now() + 60_000).toISOString(), targetType: 'script' } } })
  t.equal(before!.total, 3)
  const ordered = (await admin.GET('/api/v1/audit-events', { params: { query: { perPage: 100 } } })).data!.data
  ordered.slice(1).forEach((e, i) => t.equal(e.prevHash, ordered[i]!.hash, `site event ${e.id} points at the one before`))
  t.match((await admin.GET('/api/v1/audit-events/verify')).data, { ok: true, firstBroken: null })
  t.equal((await refused(csr.client.GET('/api/v1/audit-events'))).status, 403)

  const target = unpublished!.data[1]!
  await tamper((tx) => tx.execute(sql`update audit_events set actor_id = null where id = ${target.id}`))
  t.match((await admin.GET('/api/v1/audit-events/verify')).data, { ok: false, firstBroken: { id: target.id, reason: /content or hash was changed/ } })
})
