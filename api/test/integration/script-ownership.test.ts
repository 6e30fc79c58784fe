import t from 'tap'
import { uploadScriptVersion } from '@helpline/sdk'
import { refused, setupApp } from '../helpers/app.ts'
import { createCategory, file, upload } from '../helpers/scripts.ts'

/**
 * What runs on customers' computers is its owner's to write: only the owner edits a script,
 * uploads versions or deletes it. A site admin may unpublish any script or give it to another
 * owner, and both land in the site-wide audit trail.
 */
const h = await setupApp(t)
const alice = await h.createUser('csr', { name: 'Alice' })
const bob = await h.createUser('csr', { name: 'Bob' })
const tools = await createCategory(h, 'Tools')
const id = (scriptId: string) => ({ params: { path: { id: scriptId } } })
const admin = h.admin.client

t.test('a site admin who is not the owner cannot edit, version or delete a script', async (t) => {
  const s = await upload(alice, tools, { name: 'Reset spooler', published: true })
  const edit = await refused(admin.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { description: 'changed by admin' } }))
  t.equal(edit.status, 403)
  t.equal(edit.code, 'NOT_OWNER')
  const mixed = await refused(admin.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { published: false, name: 'Renamed' } }))
  t.equal(mixed.code, 'NOT_OWNER', 'unpublishing does not carry other changes with it')
  const version = await refused(uploadScriptVersion(admin, s.id, { executable: file('run.sh', 'echo admin was here') }))
  t.equal(version.code, 'NOT_OWNER', 'nor a new version of what runs')
  const del = await refused(admin.DELETE('/api/v1/scripts/{id}', id(s.id)))
  t.equal(del.status, 403)
  t.equal(del.code, 'NOT_OWNER')
  const { data: still } = await alice.client.GET('/api/v1/scripts/{id}', id(s.id))
  t.same(still, s, 'nothing changed')

  const { data: own } = await alice.client.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { description: 'by the owner' } })
  t.equal(own?.description, 'by the owner', 'the owner edits it')
  const { data: audit } = await admin.GET('/api/v1/audit-events', { params: { query: { targetId: s.id } } })
  t.equal(audit?.total, 0, 'refusals change nothing, so nothing is recorded')
})

t.test('a site admin unpublishes any script, once, recorded in the site audit trail', async (t) => {
  const s = await upload(alice, tools, { name: 'Clear cache', published: true })
  const { data: hidden } = await admin.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { published: false } })
  t.equal(hidden?.published, false)
  t.equal(hidden?.version, s.version, 'the files and version stay')
  t.equal((await refused(bob.client.GET('/api/v1/scripts/{id}', id(s.id)))).status, 404, 'other CSRs no longer see it')
  const { data: again } = await admin.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { published: false } })
  t.equal(again?.published, false, 'unpublishing an unpublished script is fine')

  const { data: audit } = await admin.GET('/api/v1/audit-events', { params: { query: { targetType: 'script', targetId: s.id } } })
  t.equal(audit?.total, 1, 'one event: the second call changed nothing')
  t.match(audit?.data[0], { type: 'script.unpublished', actorType: 'user', actorId: h.admin.id, targetType: 'script', targetId: s.id, data: { name: 'Clear cache', ownerId: alice.id } })

  const { data: back } = await alice.client.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { published: true } })
  t.equal(back?.published, true, 'the owner may publish it again')
})

t.test('a site admin transfers ownership; the new owner takes over, the old one is out', async (t) => {
  const s = await upload(alice, tools, { name: 'Printer fix' })
  const { data: moved } = await admin.POST('/api/v1/scripts/{id}/owner', { ...id(s.id), body: { ownerId: bob.id } })
  t.equal(moved?.ownerId, bob.id)
  t.equal(moved?.ownerName, 'Bob')
  const v2 = await uploadScriptVersion(bob.client, s.id, { executable: file('run.sh', 'echo bob') })
  t.equal(v2.version, 2, 'the new owner uploads versions')
  t.equal((await refused(alice.client.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { description: 'mine?' } }))).status, 404, 'the old owner no longer sees the unpublished script')

  const { data: audit } = await admin.GET('/api/v1/audit-events', { params: { query: { type: 'script.owner_transferred', targetId: s.id } } })
  t.equal(audit?.total, 1)
  t.match(audit?.data[0], { actorId: h.admin.id, data: { name: 'Printer fix', fromOwnerId: alice.id, toOwnerId: bob.id } })

  const nobody = await refused(admin.POST('/api/v1/scripts/{id}/owner', { ...id(s.id), body: { ownerId: '00000000-0000-4000-8000-000000000000' } }))
  t.equal(nobody.status, 422)
  t.equal(nobody.code, 'UNKNOWN_USER')
  t.ok(nobody.errors?.ownerId, 'names the field')
  const carol = await h.createUser('csr', { name: 'Carol' })
  await admin.POST('/api/v1/users/{id}/disable', id(carol.id))
  const disabled = await refused(admin.POST('/api/v1/scripts/{id}/owner', { ...id(s.id), body: { ownerId: carol.id } }))
  t.equal(disabled.code, 'UNKNOWN_USER', 'nor to a disabled user')
  const missing = await refused(admin.POST('/api/v1/scripts/{id}/owner', { ...id('00000000-0000-4000-8000-000000000001'), body: { ownerId: bob.id } }))
  t.equal(missing.status, 404)
  const csrTries = await refused(bob.client.POST('/api/v1/scripts/{id}/owner', { ...id(s.id), body: { ownerId: alice.id } }))
  t.equal(csrTries.status, 403, 'only site admins transfer')

  const { data: site } = await admin.GET('/api/v1/audit-events/verify')
  t.same(site, { ok: true, events: site!.events, verified: site!.events, unchained: 0, firstBroken: null }, 'the site trail verifies')
})
