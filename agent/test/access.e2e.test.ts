import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { is } from 'drizzle-orm'
import { PgTable } from 'drizzle-orm/pg-core'
import t, { type Test } from 'tap'
import { ApiError, encryptCredentials, type Schemas } from '@helpline/sdk'
import * as schema from '../../api/src/db/schema.ts'
import { createCategory, upload } from '../../api/test/helpers/scripts.ts'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { AGENT_PROTOCOL, agentVersion } from '../src/version.ts'
import { at, newSession, startAgent, stateDir, until, type Running } from './helpers/process.ts'

/**
 * Log on as another user, log off, and restart with automatic rejoin, through the real agent (a
 * child process) against a real server, the CSR's side through the SDK. The logon cases use a
 * real throwaway Linux user whose password PAM checks; the restart uses the simulated computer,
 * whose "restart" is the agent exiting with code 10 and this test starting it again.
 */
const SIMULATED_PASSWORD = `sim-${randomBytes(9).toString('base64url')}`
const server = await startTestServer(t, {
  JOIN_MAX_ATTEMPTS_PER_IP: 10_000,
  JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000,
  AGENT_POLL_WAIT_SECONDS: 5,
})
const csr = await server.h.createUser('csr', { name: 'Carla CSR' })
const api = csr.client
const category = await createCategory(server.h, 'Access')
const whoami = await upload(csr, category, { name: 'Who am I', executable: { name: 'who.sh', content: '#!/bin/sh\nid -un\necho "home=$HOME user=$USER"\n' } })

type Session = Awaited<ReturnType<typeof newSession>>
const DONE = ['succeeded', 'failed', 'cancelled']

async function joined(t: Parameters<typeof startAgent>[0], name: string, extra: string[] = [], env: Record<string, string> = {}) {
  const session = await newSession(api, name)
  const dir = stateDir()
  const agent = startAgent(t, ['join', session.number, '--server', server.url, '--state-dir', dir, '--approve', 'all', ...extra], env)
  await agent.waitFor(/You joined support session/)
  return { session, dir, agent }
}

const sessionOf = async (id: string) => (await api.GET('/api/v1/sessions/{id}', at(id))).data!
const commandsOf = async (id: string) => (await api.GET('/api/v1/sessions/{id}/commands', { params: { path: { id }, query: { perPage: 100 } } })).data!.data
const chatOf = async (id: string) => (await api.GET('/api/v1/sessions/{id}/chat', { params: { path: { id }, query: { limit: 500 } } })).data!.data
const commandDone = (sessionId: string, commandId: string) =>
  until('the command to finish', async () => (await commandsOf(sessionId)).find((c) => c.id === commandId)!, (c) => DONE.includes(c.status), 45_000)

/** The CSR's whole logon: ask, wait for the customer's approval, encrypt for the agent's key (or another), send. */
async function logon(session: Session, credentials: { username: string; password: string }, encryptFor?: string): Promise<Schemas['Command']> {
  const { data: asked, response } = await api.POST('/api/v1/sessions/{id}/logon', at(session.id))
  if (response.status !== 202) throw new Error(`logon request: ${response.status}`)
  await until(
    'the customer to approve',
    async () => (await api.GET('/api/v1/sessions/{id}/consents', at(session.id))).data!.data.find((c) => c.id === asked!.consent!.id)!,
    (c) => c.status === 'approved',
    20_000,
  )
  const ciphertext = await encryptCredentials(encryptFor ?? asked!.publicKey!, credentials)
  const { data: queued } = await api.POST('/api/v1/sessions/{id}/logon/credentials', { ...at(session.id), body: { consentId: asked!.consent!.id, ciphertext } })
  return commandDone(session.id, queued!.command!.id)
}

/** Runs the `id -un` script in the session and returns what it printed. */
async function runWhoami(session: Session): Promise<string> {
  const { data } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: whoami.id }], sessionIds: [session.id] } })
  const batch = await until('the script to finish', async () => (await api.GET('/api/v1/script-batches/{id}', at(data!.id))).data!, (b) => b.status === 'finished', 45_000)
  const run = batch.sessions[0]!.runs[0]!
  if (run.status !== 'succeeded') throw new Error(`the script ${run.status}: ${run.error}`)
  const { data: out } = await api.GET('/api/v1/script-runs/{id}/output', { params: { path: { id: run.id }, query: { limit: 5000 } } })
  return out!.chunks
    .filter((c) => c.stream === 'stdout')
    .map((c) => c.data)
    .join('')
}

/** Every row of every table, as text: Uint8Array and Buffer columns decoded, so nothing hides in bytes. */
async function dumpDatabase(t: Test): Promise<string> {
  const { db } = server.h.app.database
  const parts: string[] = []
  for (const [name, table] of Object.entries(schema)) {
    if (!is(table, PgTable)) continue
    const rows = await db.select().from(table)
    parts.push(
      `${name}: ${JSON.stringify(rows, (_k, v: unknown) => {
        if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1')
        if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
          return Buffer.from((v as { data: number[] }).data).toString('latin1')
        }
        return typeof v === 'bigint' ? String(v) : v
      })}`,
    )
  }
  t.ok(parts.length >= 10, `dumped ${parts.length} tables`)
  return parts.join('\n')
}

function filesUnder(dir: string): string {
  if (!existsSync(dir)) return ''
  return readdirSync(dir, { recursive: true })
    .map(String)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => `${path}\n${readFileSync(path, 'latin1')}`)
    .join('\n')
}

/** Where a secret must not be: every table, the server's log, the agent's output, its state folder. */
async function assertNowhere(t: Test, secrets: Record<string, string>, agents: Running[], dirs: string[], known: string) {
  const places: [string, string][] = [
    ['the database', await dumpDatabase(t)],
    ['the server log', server.h.logs.join('\n')],
    ['the agent’s output', agents.map((a) => a.output()).join('\n')],
    ['the agent’s state folder', dirs.map(filesUnder).join('\n')],
  ]
  // The search can find things: what the session did is there.
  t.ok(places[0]![1].includes(known) && places[1]![1].length > 0 && places[2]![1].includes(known), `the dump and the output hold “${known}”`)
  for (const [what, secret] of Object.entries(secrets)) {
    const forms = [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')]
    for (const [where, text] of places) t.notOk(forms.some((f) => text.includes(f)), `${what} is not in ${where}`)
  }
}

const isRoot = process.getuid?.() === 0
const hasTools = ['useradd', 'chpasswd', 'userdel', 'su', 'script', 'getent'].every((tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})
const ownUser = (() => {
  try {
    return execFileSync('id', ['-un'], { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
})()

t.test(
  'log on as a real Linux user: wrong password refused, right one works, scripts and system information run as that user, log off and session end restore the customer’s user, the password is nowhere',
  { skip: !isRoot ? 'needs root: it creates a throwaway user, and the agent must run as root to switch users' : !hasTools ? 'needs useradd, chpasswd, userdel, su, util-linux script and getent' : false },
  async (t) => {
    const username = `helpline-t-${randomBytes(4).toString('hex')}`
    const password = `Pw-${randomBytes(12).toString('base64url')}`
    const wrong = `Wrong-${randomBytes(12).toString('base64url')}`
    execFileSync('useradd', ['-M', '-s', '/bin/sh', username])
    t.teardown(() => execFileSync('userdel', [username], { stdio: 'ignore' }))
    execFileSync('chpasswd', { input: `${username}:${password}\n` })
    const uid = execFileSync('id', ['-u', username], { encoding: 'utf8' }).trim()

    const { session, dir, agent } = await joined(t, 'Uma')
    t.equal((await runWhoami(session)).split('\n')[0], ownUser, `a script first runs as the agent’s own user (${ownUser})`)

    const failed = await logon(session, { username, password: wrong })
    t.equal(failed.status, 'failed', 'a wrong password fails')
    t.equal(failed.error, 'Logon failed: wrong user name or password')
    await until('the chat line', () => chatOf(session.id), (chat) => chat.some((m) => m.body.startsWith('Logon failed')))
    t.pass('the CSR sees a “Logon failed” line')
    t.equal((await sessionOf(session.id)).agent!.workingAs, null, 'workingAs unchanged')
    await agent.waitFor(new RegExp(`Logging on as “${username}” failed: wrong user name or password`))

    const ok = await logon(session, { username, password })
    t.equal(ok.status, 'succeeded', 'the right password works')
    t.equal((await sessionOf(session.id)).agent!.workingAs, username, 'the session says whom the agent works as')
    await agent.waitFor(new RegExp(`Carla CSR now works on this computer as the user “${username}”`))
    t.pass('the customer is told whom the CSR works as')
    const asUser = await runWhoami(session)
    t.equal(asUser.split('\n')[0], username, 'a script now runs as that user')
    t.match(asUser, `user=${username}`, 'with that user’s USER')
    t.match(agent.output(), new RegExp(`Running script “Who am I” \\(1 of 1\\) as ${username}`), 'the customer sees as whom it runs')

    await api.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
    const snapshots = await until('the snapshot', async () => (await api.GET('/api/v1/sessions/{id}/snapshots', at(session.id))).data!, (d) => d.total === 1, 60_000)
    const { data: snap } = await api.GET('/api/v1/sessions/{id}/snapshots/{itemId}', { params: { path: { id: session.id, itemId: snapshots.data[0]!.id } } })
    const users = snap!.categories.find((c) => c.id === 'users')!
    t.same(users.fields.find((f) => f.label === 'Agent runs as')?.value, `${username} (uid ${uid})`, 'system information is read as that user')

    const { data: off } = await api.POST('/api/v1/sessions/{id}/logoff', at(session.id))
    t.equal((await commandDone(session.id, off!.command!.id)).status, 'succeeded', 'log off succeeds')
    t.equal((await sessionOf(session.id)).agent!.workingAs, null, 'workingAs is cleared')
    await agent.waitFor(new RegExp(`Logged off “${username}”: your support representative works as your own user \\(${ownUser}\\) again`))
    t.equal((await runWhoami(session)).split('\n')[0], ownUser, 'a script runs as the customer’s own user again')

    t.equal((await logon(session, { username, password })).status, 'succeeded', 'logged on again')
    await api.POST('/api/v1/sessions/{id}/end', at(session.id))
    t.equal(await agent.exited, 0, 'the agent ends with the session')
    t.match(agent.output(), new RegExp(`The session ended, so “${username}” was logged off: this agent works as your own user again\\.`), 'and says it went back to the customer’s user')
    const events = (await api.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100 } } })).data!.data
    t.ok(events.some((e) => e.type === 'agent.logged_off' && e.data.reason === 'session_ended'), 'the record says so too')

    await assertNowhere(t, { 'the password': password, 'the wrong password': wrong }, [agent], [dir], username)
  },
)

t.test('credentials encrypted for another key: the agent reports decrypt_failed and keeps nothing', async (t) => {
  const { session, dir, agent } = await joined(t, 'Vera', ['--platform', 'simulated'], { HELPLINE_AGENT_SIMULATED_PASSWORD: SIMULATED_PASSWORD })
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const command = await logon(session, { username: 'admin', password: SIMULATED_PASSWORD }, other)
  t.equal(command.status, 'failed', 'the logon fails')
  t.equal(command.error, 'The credentials were not encrypted for this agent', 'saying why')
  const { db } = server.h.app.database
  const rows = (await db.select().from(schema.commands)).filter((r) => r.id === command.id)
  t.same(rows[0]!.payload, {}, 'the server kept no ciphertext')
  t.same(rows[0]!.result, { reason: 'decrypt_failed' }, 'the reason is recorded')
  t.equal((await sessionOf(session.id)).agent!.workingAs, null, 'nothing changed')
  await agent.waitFor(/the credentials were not encrypted for this agent/)
  t.same(readdirSync(dir).sort(), ['agent-key.pem', 'state.json'], 'the agent kept nothing new')

  // The simulated computer: the right password "logs on" without switching, and says so.
  t.equal((await logon(session, { username: 'admin', password: SIMULATED_PASSWORD })).status, 'succeeded', 'the simulated computer takes its password')
  await agent.waitFor(/Simulated computer: nothing really switches/)
  t.equal((await sessionOf(session.id)).agent!.workingAs, 'admin', 'and the session shows the user')
  agent.child.kill('SIGINT')
  t.equal(await agent.exited, 0, 'Ctrl-C leaves')
  t.match(agent.output(), /You left while your support representative worked as “admin”: logged off, back to your own user\./, 'leaving logs off, and says so')
  await assertNowhere(t, { 'the password': SIMULATED_PASSWORD }, [agent], [dir], 'admin')
})

t.test('restart with automatic rejoin (simulated): exit 10, rejoin from the saved state, once per approval, the old token refused, the report complete', async (t) => {
  const { session, dir, agent } = await joined(t, 'Walt', ['--platform', 'simulated'])
  const before = await sessionOf(session.id)
  t.match(await runWhoami(session), new RegExp(`^${ownUser}\\n`), 'a script before the restart')
  const oldToken = (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { rejoinToken: string }).rejoinToken

  const { data: asked, response } = await api.POST('/api/v1/sessions/{id}/reboot', at(session.id))
  t.equal(response.status, 202, 'the restart is asked for')
  t.equal(asked!.consent!.kind, 'reboot', 'the customer is asked first')
  t.equal(await agent.exited, 10, 'after approval the agent exits with code 10 (EXIT.rebooting)')
  t.match(agent.output(), /Restarting this computer at Carla CSR’s request\. The agent starts again by itself/, 'the customer is told')
  t.match(agent.output(), /Simulated restart: the agent exits now \(exit code 10\)/, 'and why it exits')
  t.equal((await sessionOf(session.id)).agent!.rebooting, true, 'the CSR sees the computer restarting')
  t.equal((await commandsOf(session.id)).find((c) => c.id === asked!.command!.id)!.status, 'succeeded', 'the command succeeded before the restart')
  const journal = readFileSync(join(dir, 'journal.jsonl'), 'utf8')
  t.match(journal, `"t":"reboot","commandId":"${asked!.command!.id}"`, 'the restart was journaled')

  const again = startAgent(t, ['rejoin', '--state-dir', dir, '--platform', 'simulated', '--approve', 'all'])
  await again.waitFor(/Rejoined your support session \d{3}-\d{3}-\d{3} with Carla CSR\./)
  const after = await sessionOf(session.id)
  t.equal(after.agent!.id, before.agent!.id, 'the same agent rejoined the same session')
  t.equal(after.agent!.rebooting, false, 'no longer restarting')
  t.match(await runWhoami(session), new RegExp(`^${ownUser}\\n`), 'a script after the restart works')
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(again.child.exitCode, null, 'the restarted agent keeps running: no second restart')
  t.notMatch(again.output(), /Restarting this computer/, 'nor a second announcement')

  const reuse = await server.h
    .client()
    .POST('/api/v1/agent/rejoin', { body: { rejoinToken: oldToken, protocol: AGENT_PROTOCOL, agentVersion } })
    .catch((e: unknown) => e)
  t.ok(reuse instanceof ApiError && reuse.status === 401, `the old rejoin token is refused with 401 (${reuse instanceof ApiError ? reuse.code : String(reuse)})`)

  const { data: report } = await api.GET('/api/v1/sessions/{id}/report', at(session.id))
  const types = report!.timeline.map((e) => e.type)
  t.equal(types.filter((x) => x === 'agent.rebooting').length, 1, 'the timeline lists agent.rebooting once')
  t.ok(types.indexOf('agent.rejoined') > types.indexOf('agent.rebooting'), 'then agent.rejoined')
  const rejoined = report!.timeline.find((e) => e.type === 'agent.rejoined')!
  t.equal(rejoined.data.afterReboot, true, 'marked as after the restart')
  const events: Schemas['SessionEvent'][] = []
  for (let page = 1; ; page++) {
    const { data } = await api.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100, page } } })
    events.push(...data!.data)
    if (events.length >= data!.total || data!.data.length === 0) break
  }
  t.same(report!.timeline.map((e) => e.id).sort((a, b) => a - b), events.map((e) => e.id).sort((a, b) => a - b), `the report has every event of the session (${events.length})`)
  t.equal(report!.scriptRuns.length, 2, 'both script runs, with their output')
  t.ok(report!.scriptRuns.every((r) => r.output.some((c) => c.data.includes(ownUser))), 'each with what it printed')
  const text = await server.h.inject({ method: 'GET', url: `/api/v1/sessions/${session.id}/report/text`, token: csr.token })
  t.equal(text.statusCode, 200, 'the .txt report')
  t.match(text.body, /agent\.rebooting/, 'lists the restart')
  t.match(text.body, /agent\.rejoined/, 'and the rejoin')
  again.child.kill('SIGINT')
  t.equal(await again.exited, 0, 'Ctrl-C leaves')
})
