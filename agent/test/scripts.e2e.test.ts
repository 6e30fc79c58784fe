import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ApiError, type Schemas } from '@helpline/sdk'
import { directSql, replaceVersionFile } from '../../api/test/helpers/direct-sql.ts'
import { createCategory, upload } from '../../api/test/helpers/scripts.ts'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { at, newSession, startAgent, stateDir, until, type Running } from './helpers/process.ts'

/**
 * Library scripts run by the real agent (a child process) against a real server: real .sh, .py
 * and .js files, their order, inputs, arguments, timeouts, cancel, stop at the first failure,
 * tampered files, a killed agent, and several agents at once.
 */
const server = await startTestServer(t, {
  JOIN_MAX_ATTEMPTS_PER_IP: 10_000,
  JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000,
  AGENT_POLL_WAIT_SECONDS: 5,
  // A dead agent's run is lost this long past its timeout (the kill test restarts it sooner).
  SCRIPT_LOST_GRACE_SECONDS: 30,
})
const csr = await server.h.createUser('csr', { name: 'Carla CSR' })
const api = csr.client
const category = await createCategory(server.h, 'Diagnostics')

type Batch = Schemas['ScriptBatch']
const scratch = mkdtempSync(join(tmpdir(), 'helpline-scripts-e2e-'))

async function joinedAgent(t: Parameters<typeof startAgent>[0], name: string, approve: 'all' | 'none' | 'ask' = 'all', dir = stateDir()) {
  const s = await newSession(api, name)
  const agent = startAgent(t, ['join', s.number, '--server', server.url, '--state-dir', dir, '--approve', approve])
  await agent.waitFor(/You joined support session/)
  return { session: s, agent, dir }
}

const FINAL = ['denied', 'expired', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'lost']
const batchOf = async (id: string) => (await api.GET('/api/v1/script-batches/{id}', at(id))).data!
const finished = (id: string, ms = 60_000) => until('the batch to finish', () => batchOf(id), (b) => b.status === 'finished', ms)
async function outputOf(runId: string) {
  const { data } = await api.GET('/api/v1/script-runs/{id}/output', { params: { path: { id: runId }, query: { limit: 5000 } } })
  return data!
}
const text = (o: Awaited<ReturnType<typeof outputOf>>, stream?: string) =>
  o.chunks
    .filter((c) => !stream || c.stream === stream)
    .map((c) => c.data)
    .join('')

/** The agent's temporary folders: `helpline-run-<its pid>-…` in the system temp directory. */
const runDirsOf = (agent: Running) => readdirSync(tmpdir()).filter((n) => n.startsWith(`helpline-run-${agent.child.pid}-`))
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')
  } catch {
    return false
  }
}

t.test('.sh, .py and .js in the chosen order: inputs next to them, arguments verbatim, output in the chat, nothing left behind', async (t) => {
  const { session, agent, dir } = await joinedAgent(t, 'Alice')
  const sh = await upload(csr, category, {
    name: 'First: shell',
    published: true,
    executable: { name: 'check.sh', content: '#!/bin/sh\necho "sh sees: $(cat settings.ini)"\necho "args: $1|$2"\necho "to stderr" >&2\npwd\n' },
    inputs: [{ name: 'settings.ini', content: 'mode=diagnose\n' }],
  })
  const py = await upload(csr, category, {
    name: 'Second: python',
    executable: { name: 'probe.py', content: 'import sys, time\nprint("py args", sys.argv[1:])\nsys.stdout.flush()\ntime.sleep(0.3)\nprint("py done")\n' },
  })
  const js = await upload(csr, category, {
    name: 'Third: node',
    published: true,
    executable: { name: 'report.mjs', content: 'import { readFileSync } from "node:fs"\nconsole.log("js reads", readFileSync("data.json", "utf8").trim())\n' },
    inputs: [{ name: 'data.json', content: '{"ok":true}\n' }],
  })
  // The CSR's order is not the upload order.
  const { data: created, response } = await api.POST('/api/v1/script-batches', {
    body: {
      scripts: [
        { scriptId: py.id, args: ['two words', '$HOME', '--flag="x"'] },
        { scriptId: sh.id, args: ['a b', "c'd"] },
        { scriptId: js.id },
      ],
      sessionIds: [session.id],
    },
  })
  t.equal(response.status, 201)
  t.same(created!.scripts.map((s) => s.name), ['Second: python', 'First: shell', 'Third: node'], 'the batch keeps the chosen order')
  t.same(created!.scripts[1]!.files.map((f) => f.name), ['check.sh', 'settings.ini'], 'with the exact files of each version')
  const batch = await finished(created!.id)
  const runs = batch.sessions[0]!.runs
  t.same(runs.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded'], 'every script succeeded')
  t.same(runs.map((r) => r.exitCode), [0, 0, 0])
  const starts = runs.map((r) => Date.parse(r.startedAt!))
  const ends = runs.map((r) => Date.parse(r.finishedAt!))
  t.ok(starts[0]! < starts[1]! && starts[1]! < starts[2]!, 'the server recorded the starts in the chosen order')
  t.ok(ends[0]! <= starts[1]! && ends[1]! <= starts[2]!, 'one after another: each started after the previous one finished')
  t.ok(runs.every((r) => r.durationMs !== null && r.durationMs >= 0), 'with durations')

  const pyOut = await outputOf(runs[0]!.id)
  t.match(text(pyOut, 'stdout'), /py args \['two words', '\$HOME', '--flag="x"'\]/, 'arguments arrive verbatim, no shell expansion')
  t.match(text(pyOut, 'stdout'), /py done/)
  const shOut = await outputOf(runs[1]!.id)
  t.match(text(shOut, 'stdout'), /sh sees: mode=diagnose/, 'an input file is readable next to the executable')
  t.match(text(shOut, 'stdout'), /args: a b\|c'd/)
  t.equal(text(shOut, 'stderr'), 'to stderr\n', 'stderr is kept apart from stdout')
  const cwd = /\n(\/.*helpline-run-\d+-[^\n]+)\n/.exec(text(shOut, 'stdout'))?.[1]
  t.ok(cwd, 'the script ran in a helpline-run- folder')
  t.notOk(existsSync(cwd!), 'which is gone afterwards')
  t.match(text(await outputOf(runs[2]!.id), 'stdout'), /js reads \{"ok":true\}/)
  t.same(runDirsOf(agent), [], 'no folder of this agent is left in the temp directory')

  const { data: chat } = await api.GET('/api/v1/sessions/{id}/chat', at(session.id))
  const lines = chat!.data.filter((m) => m.systemEvent?.type === 'script_run')
  t.equal(lines.length, 3, 'one chat entry per script')
  t.same(
    lines.map((m) => [m.systemEvent!.data.scriptName, m.systemEvent!.data.status]),
    [
      ['Second: python', 'succeeded'],
      ['First: shell', 'succeeded'],
      ['Third: node', 'succeeded'],
    ],
    'each entry ends with its status',
  )
  await agent.waitFor(/Script “Third: node”: finished successfully\./)
  t.match(agent.output(), /Running script “Second: python” \(1 of 3\)/, 'the customer sees what runs')

  const { data: events } = await api.GET('/api/v1/sessions/{id}/events', { params: { path: { id: session.id }, query: { perPage: 100 } } })
  const types = events!.data.map((e) => e.type)
  t.ok(types.includes('script_batch.requested') && types.filter((x) => x === 'script_run.started').length === 3, 'the audit trail has the request and each start')
  const requested = events!.data.find((e) => e.type === 'script_batch.requested')!
  t.same((requested.data.scripts as { digest: string }[]).map((s) => s.digest), [py.digest, sh.digest, js.digest], 'and the exact versions')
  agent.child.kill('SIGINT')
  t.equal(await agent.exited, 0, 'Ctrl-C leaves cleanly')
  t.notOk(existsSync(join(dir, 'journal.jsonl')), 'and forgets the run journal with the session')
})

t.test('a script past its timeout is killed with its child; stop at the first failure skips the rest', async (t) => {
  const { session, agent } = await joinedAgent(t, 'Bob')
  const pidFile = join(scratch, 'child.pid')
  const sleeper = await upload(csr, category, {
    name: 'Hangs',
    executable: { name: 'hang.sh', content: `#!/bin/sh\nsleep 300 &\necho $! > "$1"\necho started\nwait\n` },
  })
  const never = await upload(csr, category, { name: 'Never runs', executable: { name: 'never.sh', content: '#!/bin/sh\necho should-not-run\n' } })
  const { data } = await api.POST('/api/v1/script-batches', {
    body: { scripts: [{ scriptId: sleeper.id, args: [pidFile], timeoutSeconds: 2 }, { scriptId: never.id }], sessionIds: [session.id], stopOnFailure: true },
  })
  const batch = await finished(data!.id)
  const [hung, skipped] = batch.sessions[0]!.runs
  t.equal(hung!.status, 'timed_out', 'recorded timed_out')
  t.ok(hung!.durationMs! >= 2000 && hung!.durationMs! < 15_000, `stopped after its timeout (${hung!.durationMs} ms)`)
  const out = await outputOf(hung!.id)
  t.match(text(out, 'stdout'), /started/, 'output so far is kept')
  t.match(text(out, 'info'), /timed out/i, 'and says why it stopped')
  const child = Number(readFileSync(pidFile, 'utf8'))
  await until('the child to be gone', async () => alive(child), (a) => !a, 10_000)
  t.notOk(alive(child), 'the script’s child was killed too')
  t.equal(skipped!.status, 'skipped', 'the next script was skipped')
  t.equal(batch.sessions[0]!.status, 'failed')
  t.same(runDirsOf(agent), [], 'the folder is gone after a timeout')
  agent.child.kill('SIGINT')
})

t.test('cancel kills the running script and cancels the rest; cancelling again is 409', async (t) => {
  const { session, agent } = await joinedAgent(t, 'Chris')
  const pidFile = join(scratch, 'cancel.pid')
  const long = await upload(csr, category, { name: 'Long', executable: { name: 'long.sh', content: '#!/bin/sh\necho $$ > "$1"\necho working\nsleep 300\n' } })
  const after = await upload(csr, category, { name: 'After long', executable: { name: 'after.sh', content: '#!/bin/sh\necho after\n' } })
  const { data } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: long.id, args: [pidFile] }, { scriptId: after.id }], sessionIds: [session.id] } })
  await until('the script to run', () => batchOf(data!.id), (b) => b.sessions[0]!.runs[0]!.status === 'running')
  await until('its output', () => outputOf(data!.sessions[0]!.runs[0]!.id), (o) => text(o).includes('working'), 10_000)
  const pid = Number(readFileSync(pidFile, 'utf8'))
  t.ok(alive(pid), 'it runs')
  const { data: cancelled } = await api.POST('/api/v1/script-batches/{id}/cancel', at(data!.id))
  t.same(cancelled!.sessions[0]!.runs.map((r) => r.status), ['cancelled', 'cancelled'], 'the running one and the rest are cancelled at once')
  await until('the script to be killed', async () => alive(pid), (a) => !a, 15_000)
  t.pass('the running script was killed')
  const done = await until('the agent to report how it ended', () => batchOf(data!.id), (b) => b.sessions[0]!.runs[0]!.durationMs !== null, 15_000)
  t.equal(done.sessions[0]!.runs[0]!.status, 'cancelled', 'it stays cancelled, with its duration')
  t.equal(done.status, 'finished')
  const again = await api.POST('/api/v1/script-batches/{id}/cancel', at(data!.id)).catch((e: unknown) => e)
  t.ok(again instanceof ApiError && again.status === 409 && again.code === 'BATCH_FINISHED', 'a finished batch cannot be cancelled')
  await until('the folder to go', async () => runDirsOf(agent), (d) => d.length === 0, 10_000)
  t.pass('the folder is gone after a cancel')
  t.notMatch(text(await outputOf(done.sessions[0]!.runs[1]!.id)), /after/, 'the next script never ran')
  agent.child.kill('SIGINT')
})

t.test('a 1 MiB script runs; a file changed in the database after the customer saw it is refused and nothing runs', async (t) => {
  const { session, agent } = await joinedAgent(t, 'Dana', 'ask')
  const head = '#!/bin/sh\necho big script ran\nexit 0\n'
  const big = await upload(csr, category, { name: 'Big', executable: { name: 'big.sh', content: head + '#'.repeat(1024 * 1024 - head.length - 1) + '\n' } })
  t.equal(big.size, 1024 * 1024, 'exactly 1 MiB')
  const { data: ok } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: big.id }], sessionIds: [session.id] } })
  await agent.waitFor(/Allow\? Type y/)
  t.match(agent.output(), /1\. “Big” version 1: 1048576 bytes, sha256 [0-9a-f]{64}, stops after 600 s/, 'the customer sees name, version, size and sha256')
  agent.type('y')
  const bigDone = await finished(ok!.id)
  t.equal(bigDone.sessions[0]!.runs[0]!.status, 'succeeded')
  t.match(text(await outputOf(bigDone.sessions[0]!.runs[0]!.id)), /big script ran/)

  // Someone with database access swaps a file after the customer was shown its sha256: its bytes
  // only (the server no longer serves them), then everything the server checks at download too.
  const run = directSql(t, server.h)
  const marker = join(scratch, `tampered-${process.pid}`)
  const evil = `#!/bin/sh\necho tampered > ${marker}\n`
  for (const thorough of [false, true]) {
    const victim = await upload(csr, category, { name: `Victim ${thorough}`, executable: { name: 'victim.sh', content: '#!/bin/sh\necho original\n' } })
    const second = await upload(csr, category, { name: `Second victim ${thorough}`, executable: { name: 'second.sh', content: '#!/bin/sh\necho second\n' } })
    const prompts = agent.output().split('Allow? Type y').length
    const { data } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: second.id }, { scriptId: victim.id }], sessionIds: [session.id] } })
    await until('the prompt', async () => agent.output().split('Allow? Type y').length, (n) => n > prompts)
    if (thorough) {
      const { sha256, size } = await replaceVersionFile(run, victim.versionId, 'victim.sh', evil)
      await run(
        `update run_batches set scripts = jsonb_set(scripts, '{1,files,0}', jsonb_build_object('name', 'victim.sh', 'role', 'executable', 'size', $1::int, 'sha256', $2::text)) where id = $3`,
        [size, sha256, data!.id],
      )
    } else {
      await run(`update script_files set content = decode($1, 'hex') where version_id = $2`, [Buffer.from(evil).toString('hex'), victim.versionId])
    }
    agent.type('y')
    const refused = await finished(data!.id)
    const [secondRun, victimRun] = refused.sessions[0]!.runs
    t.equal(victimRun!.status, 'failed', 'the tampered script failed')
    if (thorough) t.match(victimRun!.error, /victim\.sh.*sha256 [0-9a-f]{64}, not the approved [0-9a-f]{64}/, 'the agent refused it: its bytes are not what the customer approved')
    else t.match(victimRun!.error, /could not be downloaded \(Version 1 of "Victim false" does not match what was uploaded: file "victim\.sh"/, 'the server refused to serve it')
    t.equal(secondRun!.status, 'failed', 'and nothing else ran either, although it came first')
    t.equal(secondRun!.startedAt, null, 'it never started')
    t.notOk(existsSync(marker), 'the tampered script never ran')
    t.match(agent.output(), /The scripts were not run: .*victim\.sh/, 'the customer is told')
  }
  agent.child.kill('SIGINT')
})

t.test('a killed agent, restarted, does not run the script again: it is recorded lost', async (t) => {
  const { session, agent, dir } = await joinedAgent(t, 'Erin')
  const marker = join(scratch, 'runs.log')
  const once = await upload(csr, category, { name: 'Once', executable: { name: 'once.sh', content: '#!/bin/sh\necho ran >> "$1"\necho $$ > "$1.pid"\nsleep 300\n' } })
  const { data } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: once.id, args: [marker] }, { scriptId: once.id, args: [marker] }], sessionIds: [session.id] } })
  await until('the script to start', async () => (existsSync(`${marker}.pid`) ? readFileSync(`${marker}.pid`, 'utf8') : ''), (p) => p.trim().length > 0, 30_000)
  const pid = Number(readFileSync(`${marker}.pid`, 'utf8'))
  agent.child.kill('SIGKILL')
  await agent.exited
  const again = startAgent(t, ['rejoin', '--state-dir', dir, '--approve', 'all'])
  await again.waitFor(/1 script\(s\) were interrupted when the agent stopped/)
  const batch = await finished(data!.id, 30_000)
  t.same(batch.sessions[0]!.runs.map((r) => r.status), ['lost', 'cancelled'], 'the interrupted script is lost, the next one not run')
  t.match(batch.sessions[0]!.runs[0]!.error, /not run again/)
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(readFileSync(marker, 'utf8'), 'ran\n', 'the script ran exactly once')
  await until('the orphaned script to be killed', async () => alive(pid), (a) => !a, 10_000)
  t.pass('what was left of it was killed at restart')
  t.same(readdirSync(tmpdir()).filter((n) => n.startsWith(`helpline-run-${agent.child.pid}-`)), [], 'and its folder removed')
  again.child.kill('SIGINT')
})

t.test('one batch on four sessions at once: three agents run it, the one whose customer denies does not', async (t) => {
  const agents = await Promise.all(['Finn', 'Gale', 'Hana'].map((n) => joinedAgent(t, n)))
  const denier = await joinedAgent(t, 'Ivo', 'none')
  const hello = await upload(csr, category, { name: 'Hello fleet', executable: { name: 'hello.js', content: 'console.log("hello from", process.pid)\n' } })
  const bye = await upload(csr, category, { name: 'Bye fleet', executable: { name: 'bye.py', content: 'print("bye")\n' } })
  const ids = [...agents.map((a) => a.session.id), denier.session.id]
  const { data } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: hello.id }, { scriptId: bye.id }], sessionIds: ids } })
  t.equal(data!.sessions.length, 4, 'each session has its own run')
  const batch = await finished(data!.id)
  const byId = new Map(batch.sessions.map((s) => [s.sessionId, s]))
  for (const a of agents) {
    t.equal(byId.get(a.session.id)!.status, 'succeeded', `${a.session.customerName}: succeeded`)
    t.match(text(await outputOf(byId.get(a.session.id)!.runs[1]!.id)), /bye/)
  }
  t.equal(byId.get(denier.session.id)!.status, 'denied', 'the customer who said no: denied')
  t.same(byId.get(denier.session.id)!.runs.map((r) => r.status), ['denied', 'denied'])
  t.same(batch.counts, { succeeded: 6, denied: 2 }, 'the counts add up')
  for (const a of [...agents, denier]) a.agent.child.kill('SIGINT')
  t.ok(FINAL.includes(batch.sessions[0]!.runs[0]!.status))
})

t.test('a script that writes 2 MB: 1 MiB kept, then a note; a NUL byte does not lose its output', async (t) => {
  const { session, agent } = await joinedAgent(t, 'Jun')
  const chatty = await upload(csr, category, {
    name: 'Chatty',
    executable: { name: 'chatty.sh', content: "#!/bin/sh\nprintf 'before\\000after\\n'\nhead -c 2000000 /dev/zero | tr '\\0' 'z'\necho\necho done >&2\n" },
  })
  const { data } = await api.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: chatty.id }], sessionIds: [session.id] } })
  const batch = await finished(data!.id)
  const run = batch.sessions[0]!.runs[0]!
  t.equal(run.status, 'succeeded')
  t.equal(run.outputBytes, 1024 * 1024, 'exactly 1 MiB of output kept')
  t.equal(run.outputTruncated, true)
  const out = await outputOf(run.id)
  t.match(text(out, 'stdout'), /^before\uFFFDafter\nzzz/, 'the NUL is shown as a replacement character, nothing lost around it')
  t.match(text(out, 'info'), /output cut at 1048576 bytes/, 'the cut is said')
  agent.child.kill('SIGINT')
})
