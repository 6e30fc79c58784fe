import { existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { directSql, replaceVersionFile } from '../../api/test/helpers/direct-sql.ts'
import { createCategory, upload } from '../../api/test/helpers/scripts.ts'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { at, newSession, startAgent, stateDir, until } from './helpers/process.ts'

/**
 * The real agent against a real server whose database was written to directly (what the API now
 * refuses, or what only someone with database access could do): what the customer reads cannot
 * be rewritten, a file name cannot leave the run folder, and a version the server did not sign
 * is never offered to the customer.
 */
const server = await startTestServer(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000, AGENT_POLL_WAIT_SECONDS: 5 })
const csr = await server.h.createUser('csr', { name: 'Carla CSR' })
const api = csr.client
const category = await createCategory(server.h, 'Trust')
const run = directSql(t, server.h)
const batchOf = async (id: string) => (await api.GET('/api/v1/script-batches/{id}', at(id))).data!
const finished = (id: string) => until('the batch to finish', () => batchOf(id), (b) => b.status === 'finished')

t.test('escape sequences, OSC and bidi characters in names and chat never reach the customer’s terminal', async (t) => {
  // Names the API now refuses, written straight into the database.
  await run(`update users set name = $1 where id = $2`, ['Carla\u001b]0;pwned\u0007 CSR\u202e', csr.id])
  const script = await upload(csr, category, { name: 'Disk check', executable: { name: 'disk.sh', content: '#!/bin/sh\necho disk\n' } })
  await run(`update scripts set name = $1 where id = $2`, ['Disk check\u001b[2K\rApprove? (this is safe)\u2066', script.id])

  const session = await newSession(api, 'Alice')
  const agent = startAgent(t, ['join', session.number, '--server', server.url, '--state-dir', stateDir(), '--approve', 'ask'])
  await agent.waitFor(/You joined support session/)
  await api.POST('/api/v1/sessions/{id}/chat', { ...at(session.id), body: { body: 'hi\u001b[2J\u001b]8;;http://evil.example\u0007click\u001b]8;;\u0007 \u202egnp.exe\u009b31m\nsecond line' } })
  await agent.waitFor(/second line/)
  const { data: batch } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [session.id] } })
  await agent.waitFor(/Allow\? Type y/)
  agent.type('n')
  await finished(batch!.id)
  await agent.waitFor(/You refused: Run scripts on this computer\. Nothing was done\./)

  const bytes = agent.stdoutBytes()
  const text = bytes.toString('utf8')
  t.equal(bytes.indexOf(0x1b), -1, 'no ESC byte')
  t.equal(bytes.indexOf(0x07), -1, 'no BEL byte')
  t.equal(bytes.indexOf(0x0d), -1, 'no carriage return')
  t.notMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'no other C0 or C1 control character')
  t.notMatch(text, /[\u202a-\u202e\u2066-\u2069]/, 'no bidi override or isolate')
  t.match(text, /\[Carla\]0;pwned CSR\] hi\[2J\]8;;http:\/\/evil\.exampleclick\]8;; gnp\.exe31m\n {4}second line\n/, 'the chat shows what was sent as plain text, its second line indented')
  t.match(text, /Carla\]0;pwned CSR \(your support representative\) asks for your permission:/, 'the CSR’s name as plain text in the prompt')
  t.match(text, /\n {2}1\. “Disk check\[2KApprove\? \(this is safe\)” version 1: /, 'the script name stays inside its line of the prompt: it cannot erase it')
  agent.child.kill('SIGINT')
  await agent.exited
})

t.test('a database write the customer never approved: a file name that leaves the run folder, a version the server did not sign', async (t) => {
  const session = await newSession(api, 'Bob')
  const dir = stateDir()
  const first = startAgent(t, ['join', session.number, '--server', server.url, '--state-dir', dir, '--approve', 'all'])
  await first.waitFor(/You joined support session/)
  // The agent is away (restarting) while the requests are made and the database is changed.
  first.child.kill('SIGKILL')
  await first.exited

  const escape = `helpline-escape-${process.pid}-${Date.now()}`
  const path = await upload(csr, category, {
    name: 'Path trick',
    executable: { name: 'run.sh', content: '#!/bin/sh\ncat notes.txt\n' },
    inputs: [{ name: 'notes.txt', content: 'planted\n' }],
  })
  const marker = join(tmpdir(), `helpline-unsigned-ran-${process.pid}-${Date.now()}`)
  const unsigned = await upload(csr, category, { name: 'Swapped', executable: { name: 'swap.sh', content: '#!/bin/sh\necho original\n' } })
  const { data: a } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: path.id }], sessionIds: [session.id] } })
  const { data: b } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: unsigned.id }], sessionIds: [session.id] } })

  // Every copy the server keeps says the same, as a careful attacker would make it.
  const everywhere = async (batchId: string, from: string, to: string) => {
    const consent = `(select consent_id from script_runs where batch_id = '${batchId}' limit 1)`
    const command = `(select command_id from script_runs where batch_id = '${batchId}' limit 1)`
    await run(`update run_batches set scripts = replace(scripts::text, $1, $2)::jsonb where id = $3`, [from, to, batchId])
    await run(`update consent_requests set details = replace(details::text, $1, $2)::jsonb where id = ${consent}`, [from, to])
    await run(`update commands set payload = replace(payload::text, $1, $2)::jsonb where id = ${command}`, [from, to])
  }
  await run(`update script_files set name = $1 where version_id = $2 and name = 'notes.txt'`, [`../../../../tmp/${escape}`, path.versionId])
  await everywhere(a!.id, '"notes.txt"', `"../../../../tmp/${escape}"`)
  const tampered = await replaceVersionFile(run, unsigned.versionId, 'swap.sh', `#!/bin/sh\ntouch ${marker}\n`)
  const was = unsigned.files[0]!
  await everywhere(b!.id, was.sha256, tampered.sha256)
  await everywhere(b!.id, unsigned.digest, tampered.digest)
  await everywhere(b!.id, `"size": ${was.size}`, `"size": ${tampered.size}`)

  const agent = startAgent(t, ['rejoin', '--state-dir', dir, '--approve', 'all'])
  const [doneA, doneB] = [await finished(a!.id), await finished(b!.id)]
  t.equal(doneA.sessions[0]!.status, 'denied', 'the request with the path was denied by the agent, although --approve all')
  t.equal(doneB.sessions[0]!.status, 'denied', 'the request with the unsigned files too')
  t.notOk(existsSync(join('/tmp', escape)), 'no file was written outside the run folder')
  t.same(readdirSync(tmpdir()).filter((n) => n.includes(escape)), [], 'nor anywhere in the temp folder')
  t.notOk(existsSync(marker), 'the swapped script never ran')

  await agent.waitFor(/the server’s signature does not match its files/)
  const out = agent.output()
  t.match(out, new RegExp(`refused automatically, without asking you: “Path trick” has a file name that is not allowed on this computer: "\\.\\./\\.\\./\\.\\./\\.\\./tmp/${escape}"`), 'the customer is told which file')
  t.match(out, /refused automatically, without asking you: “Swapped” version 1: the server’s signature does not match its files/, 'and which script was not signed as sent')
  t.notMatch(out, /Approved automatically/, '--approve all never saw them')
  const chat = await until(
    'the agent to tell the CSR',
    async () => (await api.GET('/api/v1/sessions/{id}/chat', at(session.id))).data!.data.filter((m) => m.sender === 'customer').map((m) => m.body),
    (lines) => lines.length >= 2,
  )
  t.match(chat.join('\n'), new RegExp(`\\[agent\\] The request to run scripts was refused automatically.*"Path trick": file name "\\.\\./\\.\\./\\.\\./\\.\\./tmp/${escape}" must be a plain file name`), 'the CSR reads why in the chat')
  t.match(chat.join('\n'), /"Swapped" v1: the server's signature does not match the listed files/)
  agent.child.kill('SIGINT')
  await agent.exited
})
