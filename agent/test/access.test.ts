import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { encryptCredentials } from '@helpline/sdk'
import { EXIT } from '../src/agent.ts'
import type { Credentials, LogonOutcome } from '../src/platform/index.ts'
import { BAD_CREDENTIALS, linuxLogon, NOT_PERMITTED } from '../src/platform/linux-logon.ts'
import { createSimulatedPlatform } from '../src/platform/simulated.ts'
import type { AgentCommand, RunContext } from '../src/runners/index.ts'
import { DECRYPT_FAILED, decryptCredentials, Identity, LogoffRunner, LogonRunner } from '../src/runners/logon.ts'
import { RebootRunner } from '../src/runners/reboot.ts'
import { executeScript } from '../src/runners/script-exec.ts'
import { renderUnit, unitStateDir, unitWord } from '../src/service.ts'
import { selfFile } from '../src/self.ts'
import { RunJournal } from '../src/state.ts'

const temp = (t: { teardown(fn: () => void): void }, prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function recorder() {
  const lines: string[] = []
  const reports: [number, Record<string, unknown>][] = []
  const context: RunContext = {
    say: (line) => void lines.push(line),
    report: async (sequence, report) => void reports.push([sequence, report]),
  }
  return { lines, reports, context }
}

const command = (kind: string, payload: Record<string, unknown> = {}, id = 'cmd-1'): AgentCommand => ({ id, kind, consentId: 'consent-1', payload, createdAt: '' })

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
}

t.test('install-service writes a unit that rejoins from the state folder at boot', async (t) => {
  const unitDir = temp(t, 'helpline-unit-')
  const stateDir = join(temp(t, 'helpline-state-'), 'odd 100% $HOME dir')
  const child = spawn(process.execPath, [selfFile(), 'install-service', '--state-dir', stateDir, '--unit-dir', unitDir, '--lang', 'ja'], {
    env: { ...process.env, LC_ALL: '', LANG: 'en_US.UTF-8' },
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 0, `exit 0 (${out})`)
  const path = join(unitDir, 'helpline-agent.service')
  const unit = readFileSync(path, 'utf8')
  t.equal(statSync(path).mode & 0o777, 0o644, 'readable by systemd, written by root only')
  t.match(unit, /^ExecStart=\S+ \S+helpline-agent\.js rejoin --state-dir "\S+ 100%% \$\$HOME dir" --lang ja$/m, 'ExecStart runs this agent’s bin with rejoin --state-dir, % and $ escaped')
  t.ok(unit.includes(`ExecStart=${process.execPath} ${selfFile()} rejoin`), 'with this Node and this bin')
  t.equal(unitStateDir(unit), stateDir, 'the state folder reads back exactly')
  t.match(unit, /^WantedBy=multi-user\.target$/m, 'wanted by multi-user.target')
  t.ok(unit.includes(`ConditionPathExists=${join(stateDir, 'state.json').replace('%', '%%')}\n`), 'only started when a session is saved')
  t.match(unit, /^Restart=on-failure$/m)
  t.match(unit, /^RestartPreventExitStatus=2 3 4 5$/m, 'not restarted for “no saved session” or an ended session')
  t.match(out, /helpline-agent\.service を書き込みました/, 'says what it did, in the chosen language')
  t.match(out, /systemctl は実行していません/, 'and that systemctl was not run for a folder that is not the system one')

  t.equal(unitWord('/plain/path'), '/plain/path')
  t.equal(unitWord('a "b"'), '"a \\"b\\""')
  t.throws(() => renderUnit({ stateDir: '/tmp/a\nExecStartPre=/bin/evil' }), /control character/, 'no line smuggled into the unit')
})

t.test('install-service into a folder it cannot write says so and exits 1', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async (t) => {
  const child = spawn(process.execPath, [selfFile(), 'install-service', '--unit-dir', '/proc/helpline-nope'])
  let out = ''
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  t.equal(await new Promise((resolve) => child.on('exit', resolve)), 1)
  t.match(out, /Could not write/)
})

t.test('the simulated computer: any user name with HELPLINE_AGENT_SIMULATED_PASSWORD, nothing really switches', async (t) => {
  const creds = (password: string): Credentials => ({ username: 'admin', password })
  const unset = createSimulatedPlatform(undefined, {})
  t.same(await unset.logon(creds('')), { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }, 'unset: every password is wrong (even empty)')
  const sim = createSimulatedPlatform(undefined, { HELPLINE_AGENT_SIMULATED_PASSWORD: 'open sesame' })
  t.same(await sim.logon(creds('open sesam')), { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }, 'a wrong password')
  const ok = await sim.logon({ username: 'anyone', password: 'open sesame' })
  t.ok(ok.ok, 'the right password, any user name')
  t.equal(ok.ok && ok.account.username, 'anyone')
  t.equal(ok.ok && ok.runAs, undefined, 'runAs undefined: scripts keep running as the agent’s own user')
  t.equal(sim.ownUsername(), 'customer')
  t.same(await sim.ensureAutostart('/x'), { ok: true, detail: 'the simulated computer: the program that started the agent starts it again when it exits with code 10' })
  t.equal(await sim.reboot(), 'simulated')
  t.equal(EXIT.rebooting, 10, 'EXIT.rebooting is 10')
})

t.test('Linux logon: not root is not_permitted before anything runs; odd user names are refused', async (t) => {
  let ran = 0
  const exec = async () => {
    ran++
    return { code: 0, stdout: '', stderr: '' }
  }
  t.same(await linuxLogon({ username: 'root', password: 'x' }, { exec, uid: () => 1000 }), { ok: false, reason: 'not_permitted', message: NOT_PERMITTED })
  t.equal(ran, 0, 'nothing was run')
  for (const username of ['-froot', 'a b', "x';id;'", 'a'.repeat(40)]) {
    t.same(await linuxLogon({ username, password: 'x' }, { exec, uid: () => 0 }), { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }, JSON.stringify(username))
  }
  t.equal(ran, 0, 'never handed to a program')
  const noUser = async () => ({ code: 2, stdout: '', stderr: '' })
  t.same(await linuxLogon({ username: 'ghost', password: 'x' }, { exec: noUser, uid: () => 0 }), { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }, 'no such user: the same answer as a wrong password')
})

t.test('credentials open only with this agent’s key', async (t) => {
  const mine = keyPair()
  const other = keyPair()
  const ciphertext = await encryptCredentials(mine.publicKey, { username: 'admin', password: 'pässwörd', domain: 'CORP' })
  t.same(decryptCredentials(mine.privateKey, ciphertext), { username: 'admin', password: 'pässwörd', domain: 'CORP' }, 'the SDK’s RSA-OAEP-256 opens with node:crypto')
  t.equal(decryptCredentials(other.privateKey, ciphertext), undefined, 'another key: nothing')
  t.equal(decryptCredentials(mine.privateKey, 'bm90IGNpcGhlcnRleHQ='), undefined, 'not a ciphertext: nothing')
  const { publicEncrypt, constants } = await import('node:crypto')
  const notJson = publicEncrypt({ key: mine.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('{"username":1}')).toString('base64')
  t.equal(decryptCredentials(mine.privateKey, notJson), undefined, 'the wrong shape: nothing')
})

t.test('the logon runner: gone, not for this key, wrong, right; the password is never said or reported', async (t) => {
  const { publicKey, privateKey } = keyPair()
  const identity = new Identity()
  const seen: Credentials[] = []
  const logon = async (c: Credentials): Promise<LogonOutcome> => {
    seen.push({ ...c })
    return c.password === 'right-pw'
      ? { ok: true, account: { username: c.username, uid: 1001, gid: 1001, home: '/home/x', shell: '/bin/sh' }, runAs: { uid: 1001, gid: 1001, username: c.username, home: '/home/x' } }
      : { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }
  }
  const runner = new LogonRunner({
    privateKey: () => privateKey,
    logon,
    identity,
    messages: { loggedOn: (u) => `on as ${u}`, failed: (reason, u) => `failed ${reason} ${u}` },
  })
  const r = recorder()
  await runner.run(command('logon_as_user', {}), r.context)
  t.same(r.reports.at(-1), [0, { status: 'failed', message: r.reports.at(-1)![1].message, data: { reason: 'credentials_gone' } }], 'an emptied payload: credentials_gone')

  const foreign = await encryptCredentials(keyPair().publicKey, { username: 'admin', password: 'right-pw' })
  await runner.run(command('logon_as_user', { ciphertext: foreign, algorithm: 'RSA-OAEP-256' }), r.context)
  t.same(r.reports.at(-1), [0, { status: 'failed', message: DECRYPT_FAILED, data: { reason: 'decrypt_failed' } }], 'another key: decrypt_failed')
  t.equal(seen.length, 0, 'the OS was not asked')

  const wrong = { ciphertext: await encryptCredentials(publicKey, { username: 'admin', password: 'wrong-pw' }), algorithm: 'RSA-OAEP-256' }
  await runner.run(command('logon_as_user', wrong), r.context)
  t.same(r.reports.at(-1), [0, { status: 'failed', message: BAD_CREDENTIALS, data: { reason: 'bad_credentials' } }], 'wrong password: bad_credentials')
  t.equal(identity.username, undefined, 'nothing changed')
  t.notOk('ciphertext' in wrong, 'the ciphertext is dropped from the command')

  await runner.run(command('logon_as_user', { ciphertext: await encryptCredentials(publicKey, { username: 'admin', password: 'right-pw' }), algorithm: 'RSA-OAEP-256' }), r.context)
  t.same(r.reports.at(-1), [0, { status: 'succeeded', data: { username: 'admin' } }], 'right password: succeeded with the user name')
  t.equal(identity.username, 'admin')
  t.same(identity.runAs(), { uid: 1001, gid: 1001, username: 'admin', home: '/home/x' }, 'scripts now run as that user')
  t.notMatch(JSON.stringify([r.lines, r.reports]), /right-pw|wrong-pw/, 'no password in what was said or reported')

  const off = new LogoffRunner({ identity, ownUsername: () => 'me', messages: { loggedOff: (u, own) => `off ${u} → ${own}` } })
  await off.run(command('logoff'), r.context)
  t.same(r.reports.at(-1), [0, { status: 'succeeded', data: { username: 'me' } }], 'log off reports the customer’s own user')
  t.equal(r.lines.at(-1), 'off admin → me')
  t.equal(identity.runAs(), undefined, 'back to the agent’s own user')
})

t.test('the reboot runner: journaled before acting, at most once per approval', async (t) => {
  const dir = temp(t, 'helpline-reboot-')
  const journal = new RunJournal(dir)
  const order: string[] = []
  let failWith: string | undefined
  let current = 'cmd-1'
  const runner = () =>
    new RebootRunner({
      journal,
      saveState: () => void order.push(`save(journaled=${journal.rebooted(current)})`),
      ensureAutostart: async () => (order.push('autostart'), { ok: false, detail: 'not installed' }),
      reboot: async () => {
        order.push('reboot')
        if (failWith) throw new Error(failWith)
        return 'simulated'
      },
      onRestarting: (how) => void order.push(`exit(${how})`),
      onFailed: async (reason) => void order.push(`failed(${reason})`),
      messages: { restarting: (a) => `restarting ${a.ok}`, alreadyDone: () => 'already', failed: (r) => `failed ${r}` },
    })
  const r = recorder()
  await runner().run(command('reboot'), r.context)
  t.same(order, ['save(journaled=true)', 'autostart', 'reboot', 'exit(simulated)'], 'journal, save, autostart, restart, exit — in that order')
  t.same(r.reports, [
    [0, { status: 'running', message: 'The agent will not start again by itself: not installed', data: { rebooting: true, autostart: false } }],
    [1, { status: 'succeeded' }],
  ], 'running with rebooting: true, then succeeded, before the restart')
  t.same(r.lines, ['restarting false'], 'the customer is told it will not come back by itself')
  t.match(readFileSync(join(dir, 'journal.jsonl'), 'utf8'), /"t":"reboot","commandId":"cmd-1"/, 'the journal has it')

  // The agent restarted and the same command came again: no second restart.
  order.length = 0
  const again = recorder()
  await new RebootRunner({ ...runnerOptions(), journal: new RunJournal(dir) }).run(command('reboot'), again.context)
  t.same(order, [], 'nothing is done again')
  t.same(again.reports, [[1, { status: 'succeeded', message: 'The computer was already restarted for this request' }]], 'only reported done')
  t.same(again.lines, ['already'], 'and says so')

  failWith = 'systemctl: not installed'
  order.length = 0
  current = 'cmd-2'
  await runner().run(command('reboot', {}, current), recorder().context)
  t.same(order, ['save(journaled=true)', 'autostart', 'reboot', 'failed(systemctl: not installed)'], 'a refused restart is told, the agent does not exit')

  function runnerOptions() {
    return {
      journal,
      saveState: () => void order.push('save'),
      ensureAutostart: async () => (order.push('autostart'), { ok: true, detail: '' }),
      reboot: async () => (order.push('reboot'), 'simulated' as const),
      onRestarting: () => void order.push('exit'),
      onFailed: async () => undefined,
      messages: { restarting: () => 'restarting', alreadyDone: () => 'already', failed: (r: string) => r },
    }
  }
})

t.test('executeScript runAs: the user’s uid, gid and HOME, its own 0700 folder', { skip: process.getuid?.() === 0 ? false : 'needs root to switch users' }, async (t) => {
  const root = temp(t, 'helpline-runas-')
  const { chmodSync } = await import('node:fs')
  chmodSync(root, 0o755)
  let out = ''
  const result = await executeScript({
    files: [
      { name: 'who.sh', content: new TextEncoder().encode('#!/bin/sh\nid -u; id -g; echo "$HOME $USER $LOGNAME"; stat -c "%u %a" . who.sh data.txt\n'), executable: true },
      { name: 'data.txt', content: new TextEncoder().encode('x'), executable: false },
    ],
    args: [],
    timeoutMs: 10_000,
    tmpRoot: root,
    onOutput: (stream, text) => void (stream === 'stdout' ? (out += text) : undefined),
    runAs: { uid: 65534, gid: 65534, username: 'nobody', home: '/nonexistent' },
  })
  t.equal(result.status, 'succeeded', result.error ?? '')
  t.same(out.trim().split('\n'), ['65534', '65534', '/nonexistent nobody nobody', '65534 700', '65534 700', '65534 600'], 'uid, gid, HOME/USER/LOGNAME; folder and files owned by the user, 0700/0600')
})
