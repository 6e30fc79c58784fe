import { readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import t, { type Test } from 'tap'
import type { ExecFn } from '../src/platform/exec.ts'
import type { RunAs } from '../src/platform/index.ts'
import { createWindowsPlatform } from '../src/platform/windows.ts'
import { FileTail, MAX_COMMAND_LINE, parseRunAsLine, RUNAS_SCRIPT, startAs, WindowsSecret, type TailReader } from '../src/platform/windows-runas.ts'
import { Identity } from '../src/runners/logon.ts'
import { executeScript, type ExecuteOptions } from '../src/runners/script-exec.ts'
import { fakeSpawn, type FakeCall, type FakeChild } from './helpers/fake-spawn.ts'

/**
 * Windows "log on as another user" running scripts as that user, argv only: a fake spawn records
 * what the Start-Process -Credential wrapper is given (argv, env, stdin) and answers as it would;
 * a fake file stands for the output files. Nothing here runs on Windows (docs/platforms.md).
 */

const PASSWORD = 'pa ss"w0rd%'
const encode = (text: string) => new TextEncoder().encode(text)
const tick = () => new Promise((r) => setTimeout(r, 5))

function windowsRunAs(): RunAs & { windows: NonNullable<RunAs['windows']> } {
  return { username: 'ACME\\helpdesk', uid: -1, gid: -1, home: '', windows: { user: 'ACME\\helpdesk', secret: new WindowsSecret(PASSWORD) } }
}

/** Output files in memory: `grow` appends, the reader returns what lies past an offset. */
function fakeFiles() {
  const files = new Map<string, Uint8Array>()
  const reader: TailReader = {
    read: async (path, offset) => (files.get(path) ?? new Uint8Array()).subarray(offset),
  }
  const grow = (nameEnd: string, text: string) => {
    const path = [...files.keys()].find((p) => p.endsWith(nameEnd)) ?? nameEnd
    const old = files.get(path) ?? new Uint8Array()
    const add = encode(text)
    const both = new Uint8Array(old.byteLength + add.byteLength)
    both.set(old)
    both.set(add, old.byteLength)
    files.set(path, both)
  }
  return { files, reader, grow }
}

/** The wrapper's stdout lines. */
const say = (child: FakeChild, ...lines: string[]) => child.write('stdout', encode(lines.map((l) => `${l}\r\n`).join('')))

function assertNoSecret(t: Test, call: FakeCall) {
  t.notOk(call.args.join(' ').includes(PASSWORD), 'the password is not on the command line')
  t.notOk(Object.values(call.options.env ?? {}).some((v) => v?.includes(PASSWORD)), 'nor in the environment')
}

async function run(t: Test, fake: ReturnType<typeof fakeSpawn>, files: ReturnType<typeof fakeFiles>, options: Partial<ExecuteOptions> = {}) {
  const root = await mkdtemp(join(tmpdir(), 'helpline-runas-test-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const icacls: string[][] = []
  const exec: ExecFn = async (file, args) => {
    if (file === 'icacls.exe') icacls.push(args)
    return { code: 0, stdout: '', stderr: '' }
  }
  const out: string[] = []
  const pids: number[] = []
  const result = await executeScript({
    files: [{ name: 'fix.ps1', content: encode('Write-Output hi'), executable: true }],
    args: ['a b'],
    timeoutMs: 10_000,
    tmpRoot: root,
    platform: 'win32',
    windowsUser: 'PC\\customer',
    codePageEncoding: 'utf-8',
    env: { SystemRoot: 'C:\\Windows' },
    exec,
    spawnFn: fake.spawnFn,
    tailReader: files.reader,
    runAs: windowsRunAs(),
    onOutput: (stream, text) => out.push(`${stream}:${text}`),
    onSpawn: (pid) => pids.push(pid),
    ...options,
  })
  t.same(readdirSync(root), [], 'the run folder and the output folder are removed')
  return { result, out, icacls, pids }
}

t.test('a script as the logged-on user: the wrapper, its environment, the password on stdin only, output tailed from the files', async (t) => {
  const files = fakeFiles()
  let streamedBeforeExit = false
  let seen: string[] = []
  const fake = fakeSpawn([], async (child, call) => {
    const env = call.options.env!
    files.files.set(env.HELPLINE_RUNAS_OUT!, new Uint8Array())
    files.files.set(env.HELPLINE_RUNAS_ERR!, new Uint8Array())
    await say(child, 'HELPLINE-RUNAS pid 777')
    files.grow('stdout.txt', 'first line\r\n')
    files.grow('stderr.txt', 'warn\r\n')
    // The agent reads the files while the script runs, not only at its end.
    for (let i = 0; i < 400 && !seen.some((s) => s.includes('first line')); i++) await tick()
    streamedBeforeExit = seen.some((s) => s.includes('first line'))
    files.grow('stdout.txt', 'last line\r\n')
    await say(child, 'HELPLINE-RUNAS exit 3')
    await child.finish(0)
  })
  const { result, icacls, pids } = await run(t, fake, files, { onOutput: (stream, text) => (seen = [...seen, `${stream}:${text}`]) })
  t.match(result, { status: 'failed', exitCode: 3, error: 'Exited with code 3' })
  t.ok(streamedBeforeExit, 'output streamed as the file grew')
  t.equal(seen.filter((s) => s.startsWith('stdout:')).join('').replace(/stdout:/g, ''), 'first line\r\nlast line\r\n')
  t.ok(seen.includes('stderr:warn\r\n'))
  t.same(pids, [777], 'the child’s pid (not the wrapper’s) is journaled')

  t.equal(icacls.length, 1)
  t.same(icacls[0]!.slice(1), ['/inheritance:r', '/grant:r', 'PC\\customer:(OI)(CI)F', 'ACME\\helpdesk:(OI)(CI)F', '/q'], 'the run folder: the agent’s user and that user, nobody else')

  t.equal(fake.calls.length, 1)
  const call = fake.calls[0]!
  t.equal(call.command, 'powershell.exe')
  t.same(call.args.slice(0, 6), ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand'])
  t.equal(Buffer.from(call.args[6]!, 'base64').toString('utf16le'), RUNAS_SCRIPT)
  t.ok(RUNAS_SCRIPT.includes('[Console]::OpenStandardInput(), (New-Object System.Text.UTF8Encoding $false)'), 'the password read from stdin as UTF-8')
  for (const part of ['Start-Process @start', 'Credential = $credential', 'WindowStyle = \'Hidden\'', 'PassThru = $true', 'RedirectStandardOutput', 'RedirectStandardError', '$p.WaitForExit()']) {
    t.ok(RUNAS_SCRIPT.includes(part), `the wrapper uses ${part}`)
  }
  const env = call.options.env!
  t.equal(env.HELPLINE_RUNAS_USER, 'ACME\\helpdesk', 'the user in the environment')
  t.equal(env.HELPLINE_RUNAS_FILE, 'pwsh.exe')
  t.match(env.HELPLINE_RUNAS_ARGS, /^-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File .*fix\.ps1 "a b"$/, 'the interpreter’s command line, quoted for Windows')
  t.match(env.HELPLINE_RUNAS_DIR, /helpline-run-\d+-/, 'started in the run folder')
  t.match(env.HELPLINE_RUNAS_OUT, /helpline-run-\d+-out-.*stdout\.txt$/, 'output to the agent’s own folder')
  t.notOk(env.HOME, 'no Linux identity variables')
  assertNoSecret(t, call)
  t.equal((fake.calls[0] as unknown as { options: { uid?: number } }).options.uid, undefined, 'no uid on Windows')
})

t.test('a fallback interpreter when Windows cannot find the first; a timeout kills the tree as that user', async (t) => {
  const files = fakeFiles()
  const inputs: string[] = []
  const missing = fakeSpawn([], async (child, call) => {
    await tick()
    inputs.push(child.input)
    if (call.options.env?.HELPLINE_RUNAS_FILE === 'pwsh.exe') await say(child, 'HELPLINE-RUNAS error 2 The system cannot find the file specified.')
    else await say(child, 'HELPLINE-RUNAS pid 5', 'HELPLINE-RUNAS exit 0')
    await child.finish(0)
  })
  const fell = await run(t, missing, files)
  t.equal(fell.result.status, 'succeeded')
  t.same(
    missing.calls.map((c) => c.options.env?.HELPLINE_RUNAS_FILE),
    ['pwsh.exe', 'powershell.exe'],
    'PowerShell 7, then Windows PowerShell',
  )
  t.same(inputs, [`${PASSWORD}\n`, `${PASSWORD}\n`], 'the password only on stdin')

  let script: FakeChild | undefined
  const slow = fakeSpawn([], async (child, call) => {
    const env = call.options.env!
    if (env.HELPLINE_RUNAS_FILE === 'taskkill.exe') {
      await say(child, 'HELPLINE-RUNAS pid 6', 'HELPLINE-RUNAS exit 0')
      await child.finish(0)
      await say(script!, 'HELPLINE-RUNAS exit 1')
      return void (await script!.finish(0))
    }
    script = child
    await say(child, 'HELPLINE-RUNAS pid 4242')
  })
  const timed = await run(t, slow, files, { timeoutMs: 50 })
  t.equal(timed.result.status, 'timed_out')
  const kill = slow.calls.find((c) => c.options.env?.HELPLINE_RUNAS_FILE === 'taskkill.exe')!
  t.equal(kill.command, 'powershell.exe', 'taskkill runs through the same wrapper, as the user who owns the tree')
  t.equal(kill.options.env?.HELPLINE_RUNAS_ARGS, '/pid 4242 /T /F')
  t.equal(kill.options.env?.HELPLINE_RUNAS_OUT, '', 'its output goes nowhere')
  assertNoSecret(t, kill)
  t.ok(timed.out.some((l) => l.startsWith('info:[timed out')))

  // Cancelled once the wrapper has started (not on a timer: a loaded machine may not have spawned it yet).
  const cancel = new AbortController()
  const hung = fakeSpawn([], async () => cancel.abort())
  const stuck = await run(t, hung, files, { signal: cancel.signal, killGraceMs: 50 })
  t.equal(stuck.result.status, 'cancelled', 'a wrapper that never told a pid is ended after the grace time')
  t.equal(hung.calls.length, 1, 'no taskkill without a pid')

  const noPowerShell = await run(t, fakeSpawn(['powershell.exe']), files)
  t.match(noPowerShell.result, { status: 'failed', error: /Could not start pwsh.exe: powershell.exe is not installed/ }, 'no wrapper: failed, not “interpreter missing”')
})

t.test('wrapper answers, the tail, the length limit', async (t) => {
  t.same(parseRunAsLine('HELPLINE-RUNAS pid 123\r'), { pid: 123 })
  t.same(parseRunAsLine('HELPLINE-RUNAS exit -1073741510'), { exitCode: -1073741510 })
  t.same(parseRunAsLine('HELPLINE-RUNAS error 1326 The user name or password is incorrect.'), { error: 'The user name or password is incorrect.', code: 1326 })
  t.equal(parseRunAsLine('something else'), undefined)

  const files = fakeFiles()
  const got: string[] = []
  const tail = new FileTail('out', files.reader, (b) => got.push(new TextDecoder().decode(b)))
  await tail.poll()
  files.grow('out', 'ab')
  await tail.poll()
  files.grow('out', 'cd')
  await tail.poll()
  await tail.poll()
  t.same(got, ['ab', 'cd'], 'each poll passes on only what was added')

  const fake = fakeSpawn([])
  const long = startAs(fake.spawnFn, windowsRunAs().windows, { file: 'cmd.exe', argumentLine: 'x'.repeat(MAX_COMMAND_LINE), cwd: 'C:\\', env: {} })
  t.match(await long.done, { error: /longer than the 1024 characters/, missing: false })
  t.equal(fake.calls.length, 0, 'nothing started')
})

t.test('the password: kept by a successful logon, hidden from logs, dropped at log off', async (t) => {
  const logonSpawn = fakeSpawn([], async (child) => {
    await tick()
    await say(child, 'HELPLINE-LOGON ok')
    await child.finish(0)
  })
  const win = createWindowsPlatform(async () => ({ code: 0, stdout: '', stderr: '' }), { spawnFn: logonSpawn.spawnFn, env: {} })
  const outcome = await win.logon({ username: 'helpdesk', password: PASSWORD, domain: 'ACME' })
  if (!outcome.ok || !outcome.runAs?.windows) return t.fail('logon did not give a Windows RunAs')
  t.equal(outcome.notice, 'windows')
  t.equal(outcome.runAs.windows.user, 'ACME\\helpdesk')
  t.equal(outcome.runAs.windows.secret.reveal(), PASSWORD, 'kept in memory for the scripts')
  t.notOk(JSON.stringify(outcome).includes(PASSWORD), 'not in JSON')
  t.notOk(inspect(outcome, { depth: 10 }).includes(PASSWORD), 'not in a console.log')

  const identity = new Identity()
  identity.switchTo(outcome.account, outcome.runAs)
  const secret = outcome.runAs.windows.secret
  t.equal(identity.reset(), 'ACME\\helpdesk')
  t.equal(secret.reveal(), undefined, 'dropped at log off (and session end / leave, which reset too)')
  const fake = fakeSpawn([])
  t.match(await startAs(fake.spawnFn, outcome.runAs.windows, { file: 'cmd.exe', argumentLine: '', cwd: 'C:\\', env: {} }).done, { error: /was logged off/ })
  t.equal(fake.calls.length, 0, 'nothing starts as that user any more')

  const again = new Identity()
  const first = windowsRunAs()
  again.switchTo(outcome.account, first)
  again.switchTo(outcome.account, windowsRunAs())
  t.equal(first.windows.secret.reveal(), undefined, 'a second logon drops the first password')
})
