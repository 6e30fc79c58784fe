import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t, { type Test } from 'tap'
import {
  executeScript,
  interpreterFor,
  removeLeftoverRunDirs,
  RUN_DIR_PREFIX,
  type ExecuteOptions,
  type ScriptFileToWrite,
  type SpawnFn,
} from '../src/runners/script-exec.ts'
import { fakeSpawn } from './helpers/fake-spawn.ts'

type Stream = 'stdout' | 'stderr' | 'info'

const encode = (text: string) => new TextEncoder().encode(text)
const script = (name: string, content: string | Uint8Array): ScriptFileToWrite => ({ name, content: typeof content === 'string' ? encode(content) : content, executable: true })
const input = (name: string, content: string): ScriptFileToWrite => ({ name, content: encode(content), executable: false })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A tmpRoot of the test's own, so tests running side by side never see each other's run folders. */
async function privateRoot(t: Test) {
  const root = await mkdtemp(join(tmpdir(), 'helpline-script-exec-test-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  return root
}

const runFolders = (root: string) => readdirSync(root).filter((name) => name.startsWith(`${RUN_DIR_PREFIX}${process.pid}-`))

/** Runs a script in a private tmpRoot and checks, whatever happened, that its folder is gone. */
async function run(t: Test, files: ScriptFileToWrite[], options: Partial<ExecuteOptions> = {}) {
  const root = options.tmpRoot ?? (await privateRoot(t))
  const chunks: { stream: Stream; text: string; at: number }[] = []
  const result = await executeScript({
    files,
    args: [],
    timeoutMs: 10_000,
    killGraceMs: 500,
    tmpRoot: root,
    ...options,
    onOutput: (stream, text) => {
      chunks.push({ stream, text, at: performance.now() })
      options.onOutput?.(stream, text)
    },
  })
  const endedAt = performance.now()
  if (result.dir) {
    t.ok(result.dir.startsWith(join(root, `${RUN_DIR_PREFIX}${process.pid}-`)), 'the folder is named helpline-run-<pid>-…')
    t.notOk(existsSync(result.dir), 'the folder is gone')
  }
  if (existsSync(root)) t.same(runFolders(root), [], 'no run folder is left in tmpRoot')
  const text = (stream: Stream) => chunks.filter((c) => c.stream === stream).map((c) => c.text).join('')
  return { result, chunks, text, endedAt }
}

/** Dead, or a zombie waiting for whoever reaps orphans here (it holds no resources, and kill(pid, 0) still sees it). */
async function gone(pid: number) {
  for (let i = 0; i < 40; i++) {
    try {
      process.kill(pid, 0)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true
    }
    const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : ''
    if (/^\d+ \(.*\) Z/.test(stat)) return true
    await sleep(50)
  }
  return false
}

const childPid = (stdout: string) => Number(/child (\d+)/.exec(stdout)?.[1])

t.test('interpreterFor: by extension (any case), then by the #! line', async (t) => {
  const none = new Uint8Array()
  t.match(interpreterFor('a.sh', none), { command: 'sh', args: [] })
  t.match(interpreterFor('A.SH', none), { command: 'sh', args: [] })
  t.match(interpreterFor('a.bash', none), { command: 'bash', args: [] })
  t.match(interpreterFor('a.py', none, 'linux'), { command: 'python3', args: [] })
  t.match(interpreterFor('a.Py', none, 'win32'), { command: 'python', args: [] })
  t.match(interpreterFor('a.js', none), { command: process.execPath, args: [] })
  t.match(interpreterFor('a.mjs', none), { command: process.execPath, args: [] })
  t.match(interpreterFor('a.ps1', none), { command: 'pwsh', args: ['-NoProfile', '-ExecutionPolicy', 'Bypass', '-File'], fallbacks: ['powershell'] })
  t.match(interpreterFor('a.bat', none), { command: 'cmd.exe', args: ['/d', '/c'] })
  t.match(interpreterFor('a.CMD', none), { command: 'cmd.exe', args: ['/d', '/c'] })
  t.match(interpreterFor('a.sh', encode('#!/bin/bash\n')), { command: 'sh' }, 'the extension wins over the #! line')
  t.match(interpreterFor('tool', encode('#!/usr/bin/env python3 -u\nprint(1)\n')), { command: '/usr/bin/env', args: ['python3', '-u'] })
  t.match(interpreterFor('tool', encode('#! /bin/sh\r\necho\r\n')), { command: '/bin/sh', args: [] }, 'a space after #! and CRLF endings')
  t.match(interpreterFor('tool', encode('#!/bin/sh')), { command: '/bin/sh', args: [] }, 'a file that is only a #! line')
  t.match(interpreterFor('tool.txt', encode('echo hi\n')), { error: /no #! line.*\.sh/ })
  t.match(interpreterFor('tool', encode('#!   \n')), { error: /no #! line/ }, 'an empty #! line is no interpreter')
  t.match(interpreterFor('.sh', none), { error: /Cannot tell how to run \.sh/ }, 'a dotfile has no extension')
})

t.test('.sh: arguments arrive verbatim, input files sit next to it, stdout and stderr stay apart', async (t) => {
  const args = ['with space', `it's "quoted"`, '$HOME', '*', '; echo injected', '']
  const { result, text } = await run(t, [script('show.sh', 'for a in "$@"; do printf "[%s]\\n" "$a"; done\ncat input.txt\necho oops >&2\npwd\n'), input('input.txt', 'from the input file\n')], { args })
  t.match(result, { status: 'succeeded', exitCode: 0, signal: null, error: null, truncated: false, droppedBytes: 0 })
  t.equal(text('stdout'), `[with space]\n[it's "quoted"]\n[$HOME]\n[*]\n[; echo injected]\n[]\nfrom the input file\n${result.dir}\n`)
  t.equal(text('stderr'), 'oops\n')
  t.equal(text('info'), '')
  t.equal(result.outputBytes, Buffer.byteLength(text('stdout')) + Buffer.byteLength(text('stderr')))
})

t.test('.js: the folder is 0700, the script 0700, its input files 0600; stdin is empty', async (t) => {
  const js = `const fs = require('node:fs'), path = require('node:path')
const mode = (p) => (fs.statSync(p).mode & 0o777).toString(8)
console.log(JSON.stringify({ folder: mode('.'), script: mode(process.argv[1]), input: mode('data.bin'), sameDir: path.dirname(process.argv[1]) === process.cwd(), stdin: fs.readFileSync(0).length }))`
  const { result, text } = await run(t, [script('modes.js', js), input('data.bin', 'x')])
  t.equal(result.status, 'succeeded', text('stderr'))
  t.same(JSON.parse(text('stdout')), { folder: '700', script: '700', input: '600', sameDir: true, stdin: 0 })
})

t.test('.py, .bash and a file with only a #! line run with their interpreters', async (t) => {
  const py = await run(t, [script('args.py', 'import json, sys\nprint(json.dumps(sys.argv[1:]))\nprint("err", file=sys.stderr)\n')], { args: ['a b', '"c"'] })
  t.equal(py.result.status, 'succeeded', py.text('stderr'))
  t.same(JSON.parse(py.text('stdout')), ['a b', '"c"'])
  t.equal(py.text('stderr'), 'err\n')

  const bash = await run(t, [script('arr.bash', 'words=(one "two three")\necho "${#words[@]} ${words[1]}"\n')])
  t.equal(bash.text('stdout'), '2 two three\n')

  const shebang = await run(t, [script('tool', '#!/usr/bin/env python3 -u\nimport sys\nprint("shebang", sys.argv[1])\n')], { args: ['x y'] })
  t.equal(shebang.result.status, 'succeeded', shebang.text('stderr'))
  t.equal(shebang.text('stdout'), 'shebang x y\n')
})

t.test('output is streamed as it comes, not held until exit', async (t) => {
  const { result, chunks, text, endedAt } = await run(t, [script('slow.sh', 'echo first\necho early >&2\nsleep 1\necho second\n')])
  t.equal(result.status, 'succeeded')
  const first = chunks.find((c) => c.stream === 'stdout')
  const early = chunks.find((c) => c.stream === 'stderr')
  t.ok(first && endedAt - first.at > 700, `the first stdout chunk came ${first ? Math.round(endedAt - first.at) : '?'} ms before the end`)
  t.ok(early && endedAt - early.at > 700, 'so did stderr')
  t.equal(text('stdout'), 'first\nsecond\n')
})

t.test('a non-zero exit code or a signal is a failure', async (t) => {
  const three = await run(t, [script('three.sh', 'echo before\nexit 3\n')])
  t.match(three.result, { status: 'failed', exitCode: 3, signal: null, error: 'Exited with code 3' })
  t.equal(three.text('stdout'), 'before\n')

  const killed = await run(t, [script('self.sh', 'kill -KILL $$\n')])
  t.match(killed.result, { status: 'failed', exitCode: null, signal: 'SIGKILL', error: 'Killed by signal SIGKILL' })
})

t.test('a timeout stops the script and its child, keeping the output so far', async (t) => {
  const { result, text } = await run(t, [script('hang.sh', 'sleep 1000 &\necho "child $!"\necho waiting >&2\nwait\n')], { timeoutMs: 1000 })
  t.match(result, { status: 'timed_out', error: 'Timed out after 1 s' })
  t.ok(result.durationMs >= 1000 && result.durationMs < 3000, `took ${result.durationMs} ms`)
  t.match(text('stdout'), /^child \d+\n$/)
  t.equal(text('stderr'), 'waiting\n')
  t.equal(text('info'), '[timed out after 1 s; stopped]')
  t.ok(await gone(childPid(text('stdout'))), 'the child is dead too')
})

t.test('a script that ignores SIGTERM is killed after killGraceMs', async (t) => {
  const { result, text } = await run(t, [script('stubborn.sh', "trap '' TERM\nsleep 1000 &\necho \"child $!\"\nwait\necho survived\n")], { timeoutMs: 800, killGraceMs: 500 })
  t.match(result, { status: 'timed_out', signal: 'SIGKILL', error: 'Timed out after 800 ms' })
  t.ok(result.durationMs >= 1300 && result.durationMs < 3500, `took ${result.durationMs} ms`)
  t.notMatch(text('stdout'), /survived/)
  t.ok(await gone(childPid(text('stdout'))), 'the child (which ignored SIGTERM too) is dead')
})

t.test('an AbortSignal cancels the script and its child', async (t) => {
  const controller = new AbortController()
  const { result, text } = await run(t, [script('wait.sh', 'sleep 1000 &\necho "child $!"\nwait\n')], {
    signal: controller.signal,
    onOutput: (stream, text) => {
      if (stream === 'stdout' && text.includes('child')) controller.abort()
    },
  })
  t.match(result, { status: 'cancelled', error: 'Cancelled' })
  t.ok(result.durationMs < 2000, `took ${result.durationMs} ms`)
  t.equal(text('info'), '[cancelled; stopped]')
  t.ok(await gone(childPid(text('stdout'))), 'the child is dead')

  const fake = fakeSpawn([])
  const early = await run(t, [script('never.sh', 'echo no\n')], { signal: AbortSignal.abort(), spawnFn: fake.spawnFn })
  t.match(early.result, { status: 'cancelled', error: 'Cancelled' })
  t.equal(fake.calls.length, 0, 'an already aborted run starts nothing')
})

t.test('what a script leaves in the background does not outlive it, nor hold up the result', async (t) => {
  const left = await run(t, [script('leave.sh', 'sleep 1000 &\necho "child $!"\n')])
  t.equal(left.result.status, 'succeeded')
  t.ok(left.result.durationMs < 900, `the pipes closed when the group was killed (${left.result.durationMs} ms)`)
  t.ok(await gone(childPid(left.text('stdout'))), 'the backgrounded child is dead')

  // setsid takes the child out of the group, out of reach; it still must not keep us waiting on its pipes.
  // The pause lets it get out of the group before the script ends, or the group kill would catch it.
  const escaped = await run(t, [script('escape.sh', 'setsid sleep 30 &\necho "child $!"\nsleep 0.3\n')])
  const pid = childPid(escaped.text('stdout'))
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  t.equal(escaped.result.status, 'succeeded')
  t.ok(escaped.result.durationMs > 1200 && escaped.result.durationMs < 2500, `gave up on the pipes about a second after exit (${escaped.result.durationMs} ms)`)
  t.doesNotThrow(() => process.kill(pid, 0), 'it really was out of reach, so this tested the wait')
})

t.test('output past the cap is dropped and marked once; the script keeps running', async (t) => {
  const flood = "head -c 3000 /dev/zero | tr '\\0' a\nhead -c 2000 /dev/zero | tr '\\0' b >&2\nexit 5\n"
  const { result, text } = await run(t, [script('flood.sh', flood)], { maxOutputBytes: 1000 })
  t.match(result, { status: 'failed', exitCode: 5, truncated: true, outputBytes: 1000, droppedBytes: 4000 }, 'it ran to its own exit code')
  t.equal(text('stdout').length + text('stderr').length, 1000)
  t.equal(text('info'), '[output cut at 1000 bytes; the rest was dropped]')

  const big = await run(t, [script('big.sh', "head -c 1500000 /dev/zero | tr '\\0' x\n")])
  t.match(big.result, { status: 'succeeded', outputBytes: 1048576, droppedBytes: 1500000 - 1048576, truncated: true }, 'the default cap is 1 MiB')
  t.equal(big.text('info'), '[output cut at 1048576 bytes; the rest was dropped]')
})

t.test('a 1 MiB script file runs', async (t) => {
  const filler = `#${'x'.repeat(1022)}\n`.repeat(1024)
  const { result, text } = await run(t, [script('large.sh', `${filler}echo ok\n`)])
  t.equal(result.status, 'succeeded', text('stderr'))
  t.equal(text('stdout'), 'ok\n')
})

t.test('UTF-8 split across chunks is decoded whole; the process is started without a shell', async (t) => {
  const euro = encode('€')
  const fake = fakeSpawn([], async (child, call) => {
    const cwd = String(call.options.cwd)
    t.equal(statSync(cwd).mode & 0o777, 0o700, 'the folder is 0700 when the script starts')
    t.equal(statSync(join(cwd, 'x.sh')).mode & 0o777, 0o700)
    t.equal(statSync(join(cwd, 'in.txt')).mode & 0o777, 0o600)
    await child.write('stdout', euro.subarray(0, 1))
    await child.write('stdout', euro.subarray(1, 2))
    await child.write('stderr', encode('é').subarray(0, 1))
    await child.write('stdout', euro.subarray(2))
    await child.write('stderr', encode('é').subarray(1))
    await child.write('stdout', encode(' ok'))
    await child.finish(0)
  })
  const { result, text } = await run(t, [script('x.sh', 'unused'), input('in.txt', 'i')], { spawnFn: fake.spawnFn, args: ['a b', '$(x)'] })
  t.equal(result.status, 'succeeded')
  t.equal(text('stdout'), '€ ok')
  t.equal(text('stderr'), 'é')
  const [call] = fake.calls
  t.equal(call?.command, 'sh')
  t.same(call?.args, [join(result.dir, 'x.sh'), 'a b', '$(x)'], 'an argv array, the script path first')
  t.match(call?.options, { cwd: result.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true, windowsHide: true })
  t.equal(call?.options.shell, undefined)
})

t.test('wrapCommand rewrites the command line (the hook for running as another user)', async (t) => {
  const { result, text } = await run(t, [script('who.sh', 'echo "wrapped=$HELPLINE_WRAPPED $1"\n')], {
    args: ['arg'],
    wrapCommand: (command, args) => ({ command: 'env', args: ['HELPLINE_WRAPPED=yes', command, ...args] }),
  })
  t.equal(result.status, 'succeeded')
  t.equal(text('stdout'), 'wrapped=yes arg\n')
})

t.test('a missing interpreter fails with a message that names it', async (t) => {
  const real = await run(t, [script('tool', '#!/nonexistent/interp\n')])
  const message = "/nonexistent/interp is not installed on this computer (named by the script's #! line)"
  t.match(real.result, { status: 'failed', error: message, exitCode: null })
  t.equal(real.text('info'), message)

  const py = await run(t, [script('a.py', 'print(1)')], { spawnFn: fakeSpawn(['python3']).spawnFn })
  t.match(py.result, { status: 'failed', error: 'python3 is not installed on this computer (needed for .py scripts)' })
  t.equal(py.text('info'), 'python3 is not installed on this computer (needed for .py scripts)')

  const neither = fakeSpawn(['pwsh', 'powershell'])
  const ps = await run(t, [script('a.ps1', 'Write-Output 1')], { spawnFn: neither.spawnFn })
  t.same(neither.calls.map((c) => c.command), ['pwsh', 'powershell'], 'pwsh first, then Windows PowerShell')
  t.match(ps.result, { status: 'failed', error: 'Neither pwsh nor powershell is installed on this computer (needed for .ps1 scripts)' })

  const windowsPowerShell = fakeSpawn(['pwsh'])
  const ps2 = await run(t, [script('b.ps1', 'Write-Output 1')], { spawnFn: windowsPowerShell.spawnFn, args: ['x'] })
  t.equal(ps2.result.status, 'succeeded', 'powershell runs it when pwsh is missing')
  t.same(windowsPowerShell.calls[1]?.args, ['-NoProfile', '-ExecutionPolicy', 'Bypass', '-File', join(ps2.result.dir, 'b.ps1'), 'x'])

  const throwing: SpawnFn = () => {
    throw Object.assign(new Error('spawn EACCES'), { code: 'EACCES' })
  }
  const denied = await run(t, [script('c.sh', 'echo')], { spawnFn: throwing })
  t.match(denied.result, { status: 'failed', error: 'Could not start sh: spawn EACCES' })
})

t.test('the folder is removed when setting up fails too', async (t) => {
  const twice = await run(t, [script('x.sh', 'echo'), input('x.sh', 'again')])
  t.match(twice.result, { status: 'failed', error: /^Could not write the script's files: .*EEXIST/ })

  const unknown = await run(t, [script('notes.txt', 'hello')])
  t.match(unknown.result, { status: 'failed', error: /^Cannot tell how to run notes\.txt/ })
  t.match(unknown.text('info'), /^Cannot tell how to run/)

  const noExecutable = await run(t, [input('a.sh', 'echo')])
  t.match(noExecutable.result, { status: 'failed', error: 'Expected exactly one executable file, got 0' })

  const root = await privateRoot(t)
  const noRoot = await run(t, [script('a.sh', 'echo')], { tmpRoot: join(root, 'missing') })
  t.match(noRoot.result, { status: 'failed', dir: '', error: /^Could not make a folder for the script/ })
})

t.test('removeLeftoverRunDirs removes folders of dead agents and keeps live ones', async (t) => {
  const root = await privateRoot(t)
  const child = spawn('true')
  const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid ?? 0)))
  t.ok(deadPid > 0)
  const dead = join(root, `${RUN_DIR_PREFIX}${deadPid}-abc123`)
  const mine = join(root, `${RUN_DIR_PREFIX}${process.pid}-def456`)
  const init = join(root, `${RUN_DIR_PREFIX}1-ghi789`)
  const other = join(root, 'something-else')
  for (const dir of [dead, mine, init, other]) await mkdir(dir)
  await writeFile(join(dead, 'script.sh'), 'echo')
  await writeFile(join(root, `${RUN_DIR_PREFIX}${deadPid}-file`), 'not a folder')

  t.same(await removeLeftoverRunDirs(root), [dead])
  t.notOk(existsSync(dead), 'the dead agent’s folder is gone')
  for (const kept of [mine, init, other, join(root, `${RUN_DIR_PREFIX}${deadPid}-file`)]) t.ok(existsSync(kept), `kept ${kept.slice(dirname(kept).length + 1)}`)
  t.same(await removeLeftoverRunDirs(join(root, 'missing')), [], 'a missing tmpRoot is nothing to clean')
})
