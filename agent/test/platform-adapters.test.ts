import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { ExecFn, ExecOptions, ExecResult } from '../src/platform/exec.ts'
import { selectPlatform } from '../src/platform/index.ts'
import { NOT_PERMITTED } from '../src/platform/linux-logon.ts'
import { cmdCommandLine, codePageEncoding, darwinLaunch, parseChcp, windowsLaunch, WindowsOutputDecoder } from '../src/platform/script-commands.ts'
import { createWindowsPlatform, LOGON_SCRIPT, RESTART_REASON, TASK_NAME, windowsAccount, windowsArg } from '../src/platform/windows.ts'
import { createDarwinPlatform, LAUNCHD_LABEL, launchdPlistPath } from '../src/platform/darwin.ts'
import { software, WINDOWS_PROGRAMS_SCRIPT } from '../src/sysinfo/collect.ts'
import { executeScript, RUN_DIR_PREFIX, type ExecuteOptions, type ScriptFileToWrite } from '../src/runners/script-exec.ts'
import { fakeSpawn, type FakeChild } from './helpers/fake-spawn.ts'

/**
 * Every command line the Windows and macOS adapters build, recorded by a fake exec/spawn: nothing
 * here runs a Windows or macOS program (docs/platforms.md says what was verified where).
 */

interface ExecCall {
  file: string
  args: string[]
  options: ExecOptions | undefined
}

/** An ExecFn that records each call and answers from `answers` (by program), else exit 0. */
function fakeExec(answers: Record<string, Partial<ExecResult> | Error> = {}) {
  const calls: ExecCall[] = []
  const exec: ExecFn = async (file, args, options) => {
    calls.push({ file, args, options })
    const answer = answers[file]
    if (answer instanceof Error) throw answer
    return { code: 0, stdout: '', stderr: '', ...answer }
  }
  return { exec, calls }
}

const encode = (text: string) => new TextEncoder().encode(text)
const script = (name: string, content = 'x'): ScriptFileToWrite => ({ name, content: encode(content), executable: true })

async function privateRoot(t: Test) {
  const root = await mkdtemp(join(tmpdir(), 'helpline-platform-test-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  return root
}

/** executeScript with Windows' rules, fake programs, and a check that no run folder is left. */
async function runOnWindows(t: Test, name: string, options: Partial<ExecuteOptions> = {}) {
  const root = await privateRoot(t)
  const out: string[] = []
  const fake = options.exec ? undefined : fakeExec({ 'cmd.exe': { stdout: 'Active code page: 932\r\n' } })
  const result = await executeScript({
    files: [script(name)],
    args: [],
    timeoutMs: 10_000,
    killGraceMs: 50,
    tmpRoot: root,
    platform: 'win32',
    windowsUser: 'PC\\customer',
    ...(fake ? { exec: fake.exec } : {}),
    ...options,
    onOutput: (_stream, text) => out.push(text),
  })
  t.same(
    readdirSync(root).filter((n) => n.startsWith(RUN_DIR_PREFIX)),
    [],
    'nothing is left behind',
  )
  return { result, out: out.join(''), execCalls: fake?.calls ?? [] }
}

t.test('the platform is chosen at run time from process.platform, or by name', async (t) => {
  t.equal(selectPlatform(undefined, 'win32').name, 'windows')
  t.equal(selectPlatform(undefined, 'darwin').name, 'darwin')
  t.equal(selectPlatform(undefined, 'linux').name, 'linux')
  t.equal(selectPlatform(undefined, 'freebsd').name, 'linux', 'other systems get the Linux adapter')
  t.equal(selectPlatform('simulated', 'win32').name, 'simulated', 'simulated when asked, on any OS')
  t.equal(selectPlatform('', 'darwin').name, 'darwin', 'an empty name is no name')
  t.equal(selectPlatform(undefined).name, process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'darwin' : 'linux', 'this computer')
})

t.test('cmd.exe quoting table: what a .bat/.cmd argument becomes, or why it is refused', async (t) => {
  const ok: [string, string][] = [
    ['plain', '"plain"'],
    ['with space', '"with space"'],
    ['', '""'],
    ['a&b|c<d>e^f', '"a&b|c<d>e^f"'],
    ['(x) !bang!', '"(x) !bang!"'],
    ['C:\\dir\\', '"C:\\dir\\"'],
    ['C:\\dir\\\\', '"C:\\dir\\\\"'],
    ['日本語 ü', '"日本語 ü"'],
    ["it's", '"it\'s"'],
    ['a,b;c=d', '"a,b;c=d"'],
  ]
  for (const [arg, quoted] of ok) t.equal(cmdCommandLine(['s.bat', arg]), `"s.bat" ${quoted}`, JSON.stringify(arg))
  const refused: [string, RegExp][] = [
    ['say "hi"', /^argument 1 \("say \\"hi\\""\) contains a double quote/],
    ['50%', /^argument 1 \("50%"\) contains a percent sign .* cannot be passed to a \.bat\/\.cmd script safely, so nothing ran$/],
    ['%PATH%', /percent sign/],
    ['a\nb', /line break/],
    ['a\rb', /line break/],
    ['a\u0007b', /control character/],
  ]
  for (const [arg, message] of refused) t.throws(() => cmdCommandLine(['s.bat', arg]), message, JSON.stringify(arg))
  t.throws(() => cmdCommandLine(['s.bat', 'ok', '100%']), /^argument 2 \("100%"\)/, 'the argument is named by its position')
  t.throws(() => cmdCommandLine(['C:\\Users\\50%\\s.bat']), /^the script path contains a percent sign/)
})

t.test('Windows interpreters by extension', async (t) => {
  const ps = windowsLaunch('C:\\T\\a.ps1', ['x y'])
  t.same(ps, {
    candidates: [
      { command: 'pwsh.exe', args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', 'C:\\T\\a.ps1', 'x y'] },
      { command: 'powershell.exe', args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', 'C:\\T\\a.ps1', 'x y'] },
    ],
    neededFor: 'needed for .ps1 scripts',
  })
  for (const ext of ['.bat', '.CMD']) {
    t.same(windowsLaunch(`C:\\T\\a${ext}`, ['a&b', '']), {
      candidates: [{ command: 'cmd.exe', args: ['/d', '/v:off', '/s', '/c', `""C:\\T\\a${ext}" "a&b" """`], verbatim: true }],
      neededFor: `needed for ${ext.toLowerCase()} scripts`,
    })
  }
  t.same(windowsLaunch('C:\\T\\a.vbs', ['1']), { candidates: [{ command: 'cscript.exe', args: ['//nologo', 'C:\\T\\a.vbs', '1'] }], neededFor: 'needed for .vbs scripts' })
  t.same(windowsLaunch('C:\\T\\a.js', []), { candidates: [{ command: 'cscript.exe', args: ['//nologo', 'C:\\T\\a.js'] }], neededFor: 'needed for .js scripts' })
  t.same(windowsLaunch('C:\\T\\a.py', ['1']), {
    candidates: [
      { command: 'py.exe', args: ['-3', '-u', 'C:\\T\\a.py', '1'] },
      { command: 'python.exe', args: ['-u', 'C:\\T\\a.py', '1'] },
    ],
    neededFor: 'needed for .py scripts',
    env: { PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
  })
  t.same(windowsLaunch('C:\\T\\a.sh', []), { error: 'no interpreter for .sh on Windows (it runs .ps1 .bat .cmd .vbs .js .py)' })
  t.match(windowsLaunch('C:\\T\\tool', []), { error: /^no interpreter for a file without an extension on Windows/ })
})

t.test('a script on Windows: icacls first, then the command line; refusals leave nothing behind', async (t) => {
  const fake = fakeSpawn([])
  const bat = await runOnWindows(t, 'run.bat', { spawnFn: fake.spawnFn, args: ['a b', 'x&y'] })
  t.equal(bat.result.status, 'succeeded')
  const dir = bat.result.dir
  t.same(bat.execCalls[0]?.file, 'icacls.exe')
  t.same(bat.execCalls[0]?.args, [dir, '/inheritance:r', '/grant:r', 'PC\\customer:(OI)(CI)F', '/q'], 'the run folder for its user only')
  t.same(bat.execCalls[1] && [bat.execCalls[1].file, bat.execCalls[1].args], ['cmd.exe', ['/d', '/c', 'chcp']], 'the console code page, asked once')
  t.equal(fake.calls[0]?.command, 'cmd.exe')
  t.same(fake.calls[0]?.args, ['/d', '/v:off', '/s', '/c', `""${join(dir, 'run.bat')}" "a b" "x&y""`])
  t.equal(fake.calls[0]?.options.windowsVerbatimArguments, true, 'cmd.exe gets the line as written')
  t.equal(fake.calls[0]?.options.detached, false, 'no new console on Windows')

  const unsafe = fakeSpawn([])
  const refused = await runOnWindows(t, 'run.cmd', { spawnFn: unsafe.spawnFn, args: ['ok', '100%'] })
  t.match(refused.result, { status: 'failed', error: /^argument 2 \("100%"\) contains a percent sign/ })
  t.equal(unsafe.calls.length, 0, 'refused before anything runs')
  t.equal(refused.execCalls.length, 0, 'not even icacls')

  const none = fakeSpawn([])
  const sh = await runOnWindows(t, 'fix.sh', { spawnFn: none.spawnFn })
  t.match(sh.result, { status: 'failed', error: /^no interpreter for \.sh on Windows/ })
  t.match(sh.out, /no interpreter for \.sh on Windows/)
  t.equal(none.calls.length, 0)

  const pyMissing = fakeSpawn(['py.exe'])
  const py = await runOnWindows(t, 'a.py', { spawnFn: pyMissing.spawnFn })
  t.equal(py.result.status, 'succeeded', 'python.exe when the py launcher is missing')
  t.same(pyMissing.calls.map((c) => [c.command, c.args.slice(0, 2)]), [['py.exe', ['-3', '-u']], ['python.exe', ['-u', join(py.result.dir, 'a.py')]]])
  t.equal(pyMissing.calls[1]?.options.windowsVerbatimArguments, undefined, 'Node quotes arguments for everything but cmd.exe')

  const noPython = await runOnWindows(t, 'b.py', { spawnFn: fakeSpawn(['py.exe', 'python.exe']).spawnFn })
  t.match(noPython.result, { status: 'failed', error: 'Neither py.exe nor python.exe is installed on this computer (needed for .py scripts)' })

  const denied = await runOnWindows(t, 'c.ps1', { spawnFn: fakeSpawn([]).spawnFn, exec: fakeExec({ 'icacls.exe': { code: 5, stderr: 'Access is denied.' } }).exec })
  t.match(denied.result, { status: 'failed', error: "Could not restrict the script's folder to its user (icacls: Access is denied.)" })
})

t.test('a timed-out script on Windows: the whole tree is killed with taskkill /T /F', async (t) => {
  let script: FakeChild | undefined
  const fake = fakeSpawn([], async (child, call) => {
    if (call.command === 'taskkill.exe') return void script?.finish(1)
    script = child
    Object.defineProperty(child, 'pid', { value: 4242 })
    child.emit('spawn')
  })
  const { result } = await runOnWindows(t, 'slow.ps1', { spawnFn: fake.spawnFn, timeoutMs: 50 })
  t.equal(result.status, 'timed_out')
  const kill = fake.calls.find((c) => c.command === 'taskkill.exe')
  t.same(kill?.args, ['/pid', '4242', '/T', '/F'])
})

t.test('output on Windows: UTF-8 when it is, else the console code page', async (t) => {
  t.ok(process.versions.icu, 'this Node has ICU')
  t.equal(codePageEncoding(932), 'shift_jis')
  t.equal(codePageEncoding(1252), 'windows-1252')
  t.equal(codePageEncoding(65001), 'utf-8')
  t.equal(codePageEncoding(12345), 'utf-8', 'an unknown page reads as UTF-8')
  t.equal(parseChcp('Active code page: 932\r\n'), 932)
  t.equal(parseChcp('現在のコード ページ: 932\r\n'), 932)
  const sjis = new Uint8Array([0x82, 0xa0, 0x82, 0xa2, 0x0d, 0x0a]) // あい\r\n in Shift_JIS
  const cp = new WindowsOutputDecoder('shift_jis')
  t.equal(cp.decode(encode('ok ')) + cp.decode(sjis) + cp.decode(new Uint8Array(), true), 'ok あい\r\n')
  const utf = new WindowsOutputDecoder('shift_jis')
  const bytes = encode('日本')
  t.equal(utf.decode(bytes.subarray(0, 4)) + utf.decode(bytes.subarray(4)) + utf.decode(new Uint8Array(), true), '日本', 'UTF-8 split across chunks')
  const latin = new WindowsOutputDecoder('windows-1252')
  t.equal(latin.decode(new Uint8Array([0x43, 0x61, 0x66, 0xe9]), true), 'Café')

  const fake = fakeSpawn([], async (child) => {
    await child.write('stdout', sjis)
    await child.finish(0)
  })
  const { out } = await runOnWindows(t, 'jp.cmd', { spawnFn: fake.spawnFn, codePageEncoding: 'shift_jis' })
  t.equal(out, 'あい\r\n', 'a script’s code-page output reaches the CSR as text')
})

t.test('Windows adapter: restart, autostart, logon (argv only)', async (t) => {
  const { exec, calls } = fakeExec()
  const win = createWindowsPlatform(exec, { spawnFn: fakeSpawn([]).spawnFn })
  t.equal(await win.reboot(), 'restarting')
  t.same(calls.at(-1) && [calls.at(-1)!.file, calls.at(-1)!.args], ['shutdown.exe', ['/r', '/t', '5', '/c', RESTART_REASON]])
  const failing = createWindowsPlatform(fakeExec({ 'shutdown.exe': { code: 1, stderr: 'Access is denied.(5)' } }).exec)
  await t.rejects(failing.reboot(), /shutdown.exe \/r: Access is denied/)

  const stateDir = join(tmpdir(), 'helpline state')
  const auto = await win.ensureAutostart(stateDir)
  t.match(auto, { ok: true, detail: /Scheduled Task “Helpline Agent”/ })
  const task = calls.at(-1)!
  t.equal(task.file, 'schtasks.exe')
  t.same(task.args.slice(0, 4), ['/Create', '/F', '/TN', TASK_NAME])
  t.ok(['ONLOGON', 'ONSTART'].includes(task.args[5]!), 'at logon (or at start for SYSTEM)')
  const tr = task.args.at(-1)!
  t.equal(task.args.at(-2), '/TR')
  t.match(tr, /rejoin --if-saved --ui browser --state-dir ".*helpline state"$/, 'the state folder quoted for CommandLineToArgvW')

  const customer = fakeExec()
  await createWindowsPlatform(customer.exec, { username: () => 'jane' }).ensureAutostart(stateDir)
  t.same(customer.calls[0]?.args.slice(4, 8), ['/SC', 'ONLOGON', '/RL', 'LIMITED'], 'the customer: at their logon, limited rights')
  const service = fakeExec()
  t.match(await createWindowsPlatform(service.exec, { username: () => 'SYSTEM' }).ensureAutostart(stateDir), { ok: true, detail: /when Windows starts/ })
  t.same(service.calls[0]?.args.slice(4, 8), ['/SC', 'ONSTART', '/RU', 'SYSTEM'], 'the service case: a SYSTEM task at start')

  const noTask = fakeExec({ 'schtasks.exe': { code: 1, stderr: 'ERROR: Access is denied.' } })
  const fallback = await createWindowsPlatform(noTask.exec, { username: () => 'jane' }).ensureAutostart(stateDir)
  t.match(fallback, { ok: true, detail: /Run key/ })
  t.same(noTask.calls[1]?.args.slice(0, 4), ['add', 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run', '/v', 'HelplineAgent'])
  t.equal(noTask.calls[1]?.args.at(-2), tr, 'the same command line as the task')
  const neither = fakeExec({ 'schtasks.exe': { code: 1, stderr: 'denied' }, 'reg.exe': { code: 1, stderr: 'also denied' } })
  t.match(await createWindowsPlatform(neither.exec, { username: () => 'jane' }).ensureAutostart(stateDir), { ok: false, detail: /neither a Scheduled Task nor the Run key/ })

  t.equal(windowsAccount({ USERDOMAIN: 'ACME', USERNAME: 'jane' }), 'ACME\\jane', 'the run folder’s ACL names the user …')
  t.equal(windowsAccount({ USERDOMAIN: 'WORKGROUP', USERNAME: 'PC1$' }), '*S-1-5-18', '… or SYSTEM by its SID')
  t.equal(windowsArg('plain'), 'plain')
  t.equal(windowsArg(''), '""')
  t.equal(windowsArg('C:\\a b\\'), '"C:\\a b\\\\"', 'a trailing backslash is doubled before the closing quote')
  t.equal(windowsArg('say "hi"'), '"say \\"hi\\""')

  const answers: string[] = []
  const logonSpawn = fakeSpawn([], async (child, call) => {
    answers.push(call.command)
    await new Promise((r) => setImmediate(r))
    const reply = /secret-ok/.test(child.input) ? 'HELPLINE-LOGON ok' : /locked/.test(child.input) ? 'HELPLINE-LOGON error 1909 The account is locked.' : 'HELPLINE-LOGON error 1326 The user name or password is incorrect.'
    await child.write('stdout', encode(`${reply}\r\n`))
    await child.finish(0)
  })
  const logonWin = createWindowsPlatform(exec, { spawnFn: logonSpawn.spawnFn, env: { SystemRoot: 'C:\\Windows' } })
  const good = await logonWin.logon({ username: 'helpdesk', password: 'secret-ok', domain: 'ACME' })
  t.match(good, { ok: true, account: { username: 'ACME\\helpdesk' }, runAs: { windows: { user: 'ACME\\helpdesk' } }, notice: 'windows' })
  const call = logonSpawn.calls[0]!
  t.equal(call.command, 'powershell.exe')
  t.same(call.args.slice(0, 6), ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand'])
  t.equal(Buffer.from(call.args[6]!, 'base64').toString('utf16le'), LOGON_SCRIPT)
  t.match(LOGON_SCRIPT, /Start-Process .* -Credential \$credential/, 'through the Secondary Logon service')
  t.notOk(call.args.join(' ').includes('secret-ok'), 'the password is never on a command line')
  t.equal(call.options.env?.HELPLINE_LOGON_USER, 'ACME\\helpdesk', 'the user name in the environment')
  t.match(await logonWin.logon({ username: 'helpdesk', password: 'wrong' }), { ok: false, reason: 'bad_credentials' })
  t.match(await logonWin.logon({ username: 'helpdesk', password: 'locked' }), { ok: false, reason: 'not_permitted', message: /The account is locked/ })
  t.match(await logonWin.logon({ username: 'a"b', password: 'x' }), { ok: false, reason: 'bad_credentials' }, 'an impossible name is not asked about')
  const noPowerShell = createWindowsPlatform(exec, { spawnFn: fakeSpawn(['powershell.exe']).spawnFn })
  t.match(await noPowerShell.logon({ username: 'u', password: 'p' }), { ok: false, reason: 'unavailable', message: /powershell.exe is not installed/ })
})

t.test('macOS: interpreters, restart, launchd autostart, logon (argv only)', async (t) => {
  t.same(darwinLaunch('/t/a.zsh', ['1'])?.candidates, [{ command: '/bin/zsh', args: ['/t/a.zsh', '1'] }])
  t.same(darwinLaunch('/t/a.command', [])?.candidates, [{ command: '/bin/zsh', args: ['/t/a.command'] }])
  t.same(darwinLaunch('/t/a.sh', [])?.candidates, [{ command: '/bin/sh', args: ['/t/a.sh'] }])
  t.same(darwinLaunch('/t/a.py', [])?.candidates, [{ command: 'python3', args: ['-u', '/t/a.py'] }])
  t.same(darwinLaunch('/t/a.applescript', ['x'])?.candidates, [{ command: '/usr/bin/osascript', args: ['/t/a.applescript', 'x'] }])
  t.same(darwinLaunch('/t/a.scpt', [])?.candidates, [{ command: '/usr/bin/osascript', args: ['/t/a.scpt'] }])
  t.equal(darwinLaunch('/t/tool', []), undefined, 'others go by their #! line, as on Linux')

  const root = fakeExec()
  const asRoot = createDarwinPlatform(root.exec, { uid: () => 0 })
  t.equal(await asRoot.reboot(), 'restarting')
  t.same([root.calls[0]?.file, root.calls[0]?.args], ['/sbin/shutdown', ['-r', 'now']])
  const user = fakeExec()
  const asUser = createDarwinPlatform(user.exec, { uid: () => 501 })
  await asUser.reboot()
  t.same([user.calls[0]?.file, user.calls[0]?.args], ['/usr/bin/osascript', ['-e', 'tell application "System Events" to restart']])
  const refused = createDarwinPlatform(fakeExec({ '/usr/bin/osascript': { code: 1, stderr: 'User canceled.' } }).exec, { uid: () => 501 })
  await t.rejects(refused.reboot(), /osascript restart \(the agent does not run as root.*\): User canceled/)

  const home = await privateRoot(t)
  const auto = await createDarwinPlatform(user.exec, { uid: () => 501, home }).ensureAutostart('/tmp/state <1>')
  const plistPath = join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`)
  t.equal(launchdPlistPath(true), `/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist`, 'as root: a LaunchDaemon, at boot')
  t.equal(launchdPlistPath(false, home), plistPath, 'the customer: a LaunchAgent, at their login')
  t.match(auto, { ok: true, detail: new RegExp(`launchd job ${plistPath}, when you log in again`) })
  const plist = readFileSync(plistPath, 'utf8')
  t.match(plist, /<string>rejoin<\/string>\n {4}<string>--if-saved<\/string>/)
  t.match(plist, /<string>\/tmp\/state &lt;1&gt;<\/string>/, 'escaped for XML')
  t.match(plist, /<key>RunAtLoad<\/key><true\/>/)
  t.ok(existsSync(plistPath))

  const notRoot = fakeExec()
  const spawnNotRoot = fakeSpawn([])
  const out = await createDarwinPlatform(notRoot.exec, { uid: () => 501, spawnFn: spawnNotRoot.spawnFn }).logon({ username: 'admin', password: 'x' })
  t.same(out, { ok: false, reason: 'not_permitted', message: NOT_PERMITTED }, 'the same refusal as on Linux')
  t.equal(notRoot.calls.length + spawnNotRoot.calls.length, 0, 'nothing asked of the system')

  const dscl = fakeExec({ '/usr/bin/dscl': { stdout: 'NFSHomeDirectory: /Users/admin\nPrimaryGroupID: 20\nUniqueID: 502\nUserShell: /bin/zsh\n' } })
  const su = fakeSpawn([], async (child) => {
    await child.write('stderr', encode('Password:'))
    await new Promise((r) => child.stdin.once('data', r))
    await new Promise((r) => setImmediate(r))
    await child.write('stdout', encode(child.input === 'right\n' ? '\r\nadmin\r\n' : '\r\nsu: Sorry\r\n'))
    await child.finish(child.input === 'right\n' ? 0 : 1)
  })
  const mac = createDarwinPlatform(dscl.exec, { uid: () => 0, spawnFn: su.spawnFn })
  const ok = await mac.logon({ username: 'admin', password: 'right' })
  t.same(ok, { ok: true, account: { username: 'admin', uid: 502, gid: 20, home: '/Users/admin', shell: '/bin/zsh' }, runAs: { uid: 502, gid: 20, username: 'admin', home: '/Users/admin' } })
  t.same(dscl.calls[0]?.args, ['.', '-read', '/Users/admin', 'UniqueID', 'PrimaryGroupID', 'NFSHomeDirectory', 'UserShell'])
  t.same([su.calls[0]?.command, su.calls[0]?.args], ['/usr/bin/script', ['-q', '/dev/null', '/usr/bin/su', 'admin', '-c', 'id -un']])
  t.equal(su.calls[0]?.options.uid, 4294967294, 'as nobody, so su asks for the password')
})

t.test('installed programs: the Uninstall keys on Windows, system_profiler on macOS (argv only)', async (t) => {
  const win = fakeExec({ 'powershell.exe': { stdout: 'Zeta App\t2.0\t\r\n7-Zip 23.01 (x64)\t23.01\t\r\nOld Tool\t1.0\tx86\r\n' } })
  const programs = await software(win.exec, 'win32')
  t.same(win.calls[0]?.args.slice(0, 4), ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command'])
  t.equal(win.calls[0]?.args[4], WINDOWS_PROGRAMS_SCRIPT)
  t.match(WINDOWS_PROGRAMS_SCRIPT, /WOW6432Node/)
  t.same(programs.tables[0]?.rows, [['7-Zip 23.01 (x64)', '23.01', ''], ['Old Tool', '1.0', 'x86'], ['Zeta App', '2.0', '']])
  t.equal(win.calls.length, 1, 'no Linux package manager is asked on Windows')

  const mac = fakeExec({ '/usr/sbin/system_profiler': { stdout: JSON.stringify({ SPApplicationsDataType: [{ _name: 'Safari', version: '17.0', arch_kind: 'arch_arm_i64' }] }) } })
  const apps = await software(mac.exec, 'darwin')
  t.same(mac.calls[0]?.args, ['SPApplicationsDataType', '-json', '-detailLevel', 'mini'])
  t.same(apps.tables[0]?.rows, [['Safari', '17.0', 'arch_arm_i64']])

  const none = fakeExec({ 'powershell.exe': { code: 1, stderr: 'blocked by policy' } })
  await t.rejects(software(none.exec, 'win32'), /Windows installed programs failed \(blocked by policy\)/, 'unavailable, with the reason')
})
