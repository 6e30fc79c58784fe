import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import postgres from 'postgres'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { Keyring, newSigningKeyPem } from '../../src/lib/keyring.ts'
import { testPlatform, testPublicKey } from '../helpers/agent.ts'
import { runBuiltCommand } from '../helpers/built-server.ts'
import { testDatabaseUrl } from '../helpers/db.ts'

/**
 * The production setup of the README on a real PostgreSQL (issue 12, failure 8): migrations run
 * as the owner (DATABASE_OWNER_URL), the app as a role that owns nothing (DATABASE_URL). The app
 * works, and cannot switch off, empty or rewrite its audit trails. Someone who can (a superuser)
 * leaves a broken chain that the verify endpoint and `npm run audit:verify` name.
 *
 * Roles are cluster-wide: each run creates uniquely named ones and drops them afterwards.
 */
const skip = testDatabaseUrl ? false : 'needs PostgreSQL (roles, grants and triggers of a real server): set TEST_DATABASE_URL'

/** `npm run audit:verify` with the given environment (the built command, plain node): exit code and output. */
const auditVerify = (env: Record<string, string>) => runBuiltCommand('audit-verify', env)

t.test('audit:verify without the server’s keys refuses to check and makes no keys of its own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'helpline-audit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const keyDir = join(dir, 'keys')
  const run = await auditVerify({ DATA_DIR: join(dir, 'data'), KEY_DIR: keyDir })
  t.equal(run.code, 2)
  t.match(run.output, /The server's keys are not here .*server-secret/)
  t.notOk(existsSync(keyDir), 'no new keys: a checker with its own keys would find every chain broken')
})

t.test('the app as a role that owns nothing: it works, and cannot touch its audit trail; a superuser can, and is caught', { skip }, async (t) => {
  const superuser = postgres(testDatabaseUrl!, { max: 1, onnotice: () => {} })
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`
  const ownerRole = `helpline_owner_${suffix}`
  const appRole = `helpline_app_${suffix}`
  const dbName = `helpline_roles_${suffix}`
  await superuser.unsafe(`create role ${ownerRole} login`)
  await superuser.unsafe(`create role ${appRole} login`)
  await superuser.unsafe(`create database ${dbName} owner ${ownerRole}`)
  const connections: postgres.Sql[] = []
  let server: FastifyInstance | undefined
  t.teardown(async () => {
    await server?.close()
    for (const c of connections) await c.end({ timeout: 5 })
    await superuser.unsafe(`drop database if exists ${dbName} with (force)`)
    await superuser.unsafe(`drop role if exists ${appRole}`)
    await superuser.unsafe(`drop role if exists ${ownerRole}`)
    await superuser.end()
  })
  const urlAs = (role: string | undefined) => {
    const url = new URL(testDatabaseUrl!)
    if (role) {
      url.username = role
      url.password = ''
    }
    url.pathname = `/${dbName}`
    return url.toString()
  }
  const connect = (role?: string) => {
    const c = postgres(urlAs(role), { max: 1, onnotice: () => {} })
    connections.push(c)
    return c
  }

  const signingKey = newSigningKeyPem()
  const secret = randomBytes(32).toString('hex')
  const config = loadConfig(
    { DATABASE_URL: urlAs(appRole), DATABASE_OWNER_URL: urlAs(ownerRole) },
    { CONSOLE_DIR: '/nonexistent', JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 },
  )
  server = await buildApp({ config, keyring: new Keyring(signingKey, Buffer.from(secret, 'hex')), logger: false })
  await server.ready()

  // The app works as its role: sign-in, a session with an agent, chat, a script unpublished by an admin (site trail).
  await server.services.accounts.ensureFirstAdmin('admin@example.com', 'admin-password-1', () => 'admin-password-1')
  const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, token?: string, payload?: unknown) => {
    const res = await server!.inject({ method, url, ...(payload ? { payload: payload as object } : {}), headers: token ? { authorization: `Bearer ${token}` } : {} })
    if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res.statusCode === 204 ? undefined : res.json()
  }
  const { token } = await call('POST', '/api/v1/auth/login', undefined, { email: 'admin@example.com', password: 'admin-password-1' })
  const sessions: { id: string; number: string }[] = []
  for (const name of ['Alice', 'Bea', 'Cleo']) {
    const s = await call('POST', '/api/v1/sessions', token, { customerName: name })
    const joined = await call('POST', '/api/v1/agent/join', undefined, { number: s.number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey })
    await call('POST', `/api/v1/sessions/${s.id}/chat`, token, { body: 'hello' })
    await call('POST', '/api/v1/agent/chat', joined.agentToken, { body: 'hi' })
    await call('POST', `/api/v1/sessions/${s.id}/system-info/refresh`, token)
    await call('POST', `/api/v1/sessions/${s.id}/end`, token)
    sessions.push(s)
  }
  const eventsOf = async (id: string) => (await call('GET', `/api/v1/sessions/${id}/events?perPage=100`, token)).data as { id: number }[]
  const verify = async (id: string) => call('GET', `/api/v1/sessions/${id}/events/verify`, token)
  for (const s of sessions) t.match(await verify(s.id), { ok: true, firstBroken: null })

  const app = connect(appRole)
  const [who] = await app`select current_user as name, (select count(*) from pg_tables where schemaname = 'public' and tableowner = current_user)::int as owned`
  t.same(who, { name: appRole, owned: 0 }, 'the app’s role owns no table')
  const refusedAsApp = async (what: string, statement: string) => {
    try {
      await app.unsafe(statement)
      t.fail(`${what} should be refused`)
    } catch (err) {
      t.equal((err as { code?: string }).code, '42501', `${what}: refused (${(err as Error).message})`)
    }
  }
  await refusedAsApp('disable the append-only trigger', 'alter table session_events disable trigger session_events_no_change')
  await refusedAsApp('disable every trigger of the site trail', 'alter table audit_events disable trigger all')
  await refusedAsApp('stop triggers for the connection', 'set session_replication_role = replica')
  await refusedAsApp('truncate the session trail', 'truncate session_events')
  await refusedAsApp('truncate the site trail', 'truncate audit_events')
  await refusedAsApp('edit a session event', `update session_events set data = '{}'::jsonb`)
  await refusedAsApp('delete a session event', 'delete from session_events')
  await refusedAsApp('edit a site event', 'update audit_events set data = \'{}\'::jsonb')
  await refusedAsApp('delete a site event', 'delete from audit_events')
  await refusedAsApp('create a table of its own', 'create table mine (id int)')
  const [counted] = await app`select count(*)::int as n from session_events`
  t.ok(counted!.n > 0, 'it still reads the trail')

  const env = { DATABASE_URL: urlAs(appRole), SERVER_SECRET: secret, SIGNING_KEY: signingKey, KEY_DIR: '/nonexistent' }
  const clean = await auditVerify(env)
  t.equal(clean.code, 0, 'audit:verify (as the app’s role: it only reads) finds nothing wrong')
  t.match(clean.output, /All intact: 3 session trail\(s\) and the site trail/)

  // A superuser can do what the app cannot: switch the trigger off and rewrite history.
  const owner = connect()
  const [alice, bea, cleo] = await Promise.all(sessions.map((s) => eventsOf(s.id)))
  await owner.unsafe('alter table session_events disable trigger session_events_no_change')
  await owner`update session_events set data = ${owner.json({ forged: true })} where id = ${alice![3]!.id}`
  await owner`delete from session_events where id = ${bea![2]!.id}`
  await owner`insert into session_events (session_id, type, actor_type, data, created_at, prev_hash, hash, key_id)
    select session_id, 'agent.left', 'agent', '{}'::jsonb, created_at, prev_hash, hash, key_id from session_events where id = ${cleo![4]!.id}`
  await owner.unsafe('alter table session_events enable trigger session_events_no_change')

  t.match(await verify(sessions[0]!.id), { ok: false, firstBroken: { id: alice![3]!.id, reason: /content or hash was changed/ } }, 'an edited event is named')
  t.match(await verify(sessions[1]!.id), { ok: false, firstBroken: { id: bea![3]!.id, reason: /does not follow/ } }, 'a deleted one: the event after it is named')
  const inserted = await verify(sessions[2]!.id)
  t.equal(inserted.ok, false, 'an inserted one is caught')
  t.ok(inserted.firstBroken.id >= cleo![5]!.id, `at or after the copied event (${JSON.stringify(inserted.firstBroken)})`)

  const run = await auditVerify(env)
  t.equal(run.code, 1, 'audit:verify exits 1')
  const lines = run.output.split('\n').filter((l) => l.startsWith('BROKEN'))
  t.equal(lines.length, 3, 'one line per broken chain')
  t.match(run.output, new RegExp(`BROKEN session ${sessions[0]!.number} \\(${sessions[0]!.id}\\): first broken event ${alice![3]!.id}: its content or hash was changed`))
  t.match(run.output, new RegExp(`BROKEN session ${sessions[1]!.number} \\(${sessions[1]!.id}\\): first broken event ${bea![3]!.id}: does not follow`))
  t.match(run.output, /3 broken chain\(s\) among 3 session trail\(s\) and the site trail/)
})
