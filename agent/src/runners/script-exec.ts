import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:fs'
import { chmod, chown, mkdtemp, open, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { extname, isAbsolute, join, relative, resolve } from 'node:path'
import { fileNameProblem, quoteName } from '@helpline/sdk'
import { execProgram, type ExecFn, type SpawnFn } from '../platform/exec.ts'
import type { RunAs } from '../platform/index.ts'
import { CmdArgumentError, darwinLaunch, runFolderAcl, windowsKillTree, windowsLaunch, WindowsOutputDecoder, type ScriptCommand, type ScriptLaunch } from '../platform/script-commands.ts'
import { consoleEncoding, windowsAccount } from '../platform/windows.ts'
import type { TailReader } from '../platform/windows-runas.ts'
import { agentBuild } from '../self.ts'
import { runAsWindowsUser } from './script-exec-windows.ts'

/**
 * Runs one library script on the customer's computer: a fresh private folder, the right
 * interpreter, output streamed as it comes, a hard stop on timeout or cancel, and nothing left
 * behind. Downloading the script and reporting to the server are the caller's job.
 */

/** Temp folders are `${tmpdir}/helpline-run-<pid>-<random>`; the pid lets a restarted agent find its dead runs. */
export const RUN_DIR_PREFIX = 'helpline-run-'

export interface ScriptFileToWrite {
  name: string
  content: Uint8Array
  executable: boolean
}

/** Receives output as it arrives; 'info' lines are the agent's own notes (cut, timeout, missing interpreter), one line each, no newline. */
export interface OutputSink {
  (stream: 'stdout' | 'stderr' | 'info', text: string): void
}

export type { SpawnFn }

export interface ExecuteOptions {
  /** Exactly one executable; names are checked again here (writeRunFile). */
  files: ScriptFileToWrite[]
  args: string[]
  timeoutMs: number
  onOutput: OutputSink
  /** Raw bytes kept over stdout and stderr together; default 1 MiB. */
  maxOutputBytes?: number
  /** Aborting stops the script like a timeout does; the result is 'cancelled'. */
  signal?: AbortSignal
  /** Between SIGTERM to the process group and SIGKILL; default 5000. */
  killGraceMs?: number
  /** Where run folders are made; default os.tmpdir(). */
  tmpRoot?: string
  /** Default process.env. */
  env?: NodeJS.ProcessEnv
  /** How programs are started; tests swap it. */
  spawnFn?: SpawnFn
  /** Told the process (group) id as soon as the script started: the agent journals it, to kill the group after a crash. */
  onSpawn?: (pid: number) => void
  /** Rewrites the final command line, e.g. to put runuser in front; identity by default. */
  wrapCommand?: (command: string, args: string[]) => { command: string; args: string[] }
  /**
   * Runs the script as this user (after "log on as another user"; the agent must be root): its
   * uid and gid, HOME/USER/LOGNAME of that user, the run folder and its files owned by it (still
   * 0700/0600). Supplementary groups are dropped (Node's spawn clears them).
   * Windows (runAs.windows): through Start-Process -Credential (script-exec-windows.ts), the run
   * folder's ACL granting that user and the agent's own, output read from files.
   */
  runAs?: RunAs | undefined
  /** Whose rules start the script (interpreters, quoting, ACL, tree kill); default process.platform. */
  platform?: NodeJS.Platform
  /** Runs the helpers around a script (icacls, chcp on Windows); tests swap it. */
  exec?: ExecFn
  /** Windows: who the run folder's ACL is for (DOMAIN\\name); default this process's user. */
  windowsUser?: string
  /** Windows: the TextDecoder label of the console's code page; default asked of chcp once. */
  codePageEncoding?: string
  /** Windows, as another user: how the output files are read as they grow; tests swap it. */
  tailReader?: TailReader
}

export interface ExecuteResult {
  status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled'
  exitCode: number | null
  signal: string | null
  /** From the call to the result, writing the files included, removing them not. */
  durationMs: number
  error: string | null
  /** Raw bytes of stdout+stderr passed to onOutput. */
  outputBytes: number
  droppedBytes: number
  truncated: boolean
  /** The run folder, already removed; '' when it could not be made. */
  dir: string
}

export interface Interpreter {
  command: string
  /** Go before the script's path. */
  args: string[]
  /** Tried in order when `command` is not installed (.ps1: pwsh, then Windows PowerShell). */
  fallbacks?: string[]
  /** Ends the "not installed" message: "needed for .py scripts". */
  neededFor: string
  /** Added under the caller's env (which wins). */
  env?: Record<string, string>
}

const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
const DEFAULT_KILL_GRACE_MS = 5000
/** A child that left the process group may hold our pipes open forever; after exit we wait this long for them. */
const CLOSE_WAIT_MS = 1000
/** After SIGKILL a process in uninterruptible sleep may still not exit; the agent must not hang on it. */
const AFTER_KILL_WAIT_MS = 2000
const MAX_TIMER_MS = 2 ** 31 - 1
/** Linux reads at most 256 bytes of a #! line; a little more costs nothing. */
const SHEBANG_MAX_BYTES = 1024

const KNOWN_EXTENSIONS = ['.sh', '.bash', '.py', '.js', '.mjs', '.ps1', '.bat', '.cmd']

/**
 * Chooses how to start a script: by its extension first (customers' machines often lack the
 * exec bit semantics or the #! interpreter path we would need), then by its #! line.
 */
export function interpreterFor(name: string, firstBytes: Uint8Array, platform: NodeJS.Platform = process.platform): Interpreter | { error: string } {
  const ext = extname(name).toLowerCase()
  const neededFor = `needed for ${ext} scripts`
  switch (ext) {
    case '.sh':
      return { command: 'sh', args: [], neededFor }
    case '.bash':
      return { command: 'bash', args: [], neededFor }
    case '.py':
      // Python block-buffers a pipe, which would hold every line until exit.
      return { command: platform === 'win32' ? 'python' : 'python3', args: [], neededFor, env: { PYTHONUNBUFFERED: '1' } }
    case '.js':
    case '.mjs':
      // The agent's own Node: always there, and the version we test with. A single executable is
      // not a Node that runs scripts, so there it takes the computer's own Node, if any.
      return agentBuild === 'sea' ? { command: 'node', args: [], neededFor } : { command: process.execPath, args: [], neededFor }
    case '.ps1':
      return { command: 'pwsh', args: ['-NoProfile', '-ExecutionPolicy', 'Bypass', '-File'], fallbacks: ['powershell'], neededFor }
    case '.bat':
    case '.cmd':
      return { command: 'cmd.exe', args: ['/d', '/c'], neededFor }
  }
  const shebang = parseShebang(firstBytes)
  if (shebang) return { ...shebang, neededFor: "named by the script's #! line" }
  return { error: `Cannot tell how to run ${name}: it has no #! line and its extension is not one of ${KNOWN_EXTENSIONS.join(' ')}` }
}

/**
 * `#!/usr/bin/env python3 -u` → /usr/bin/env with ['python3', '-u']; undefined when there is no
 * usable #! line. Split on every space (Linux would pass 'python3 -u' as one argument) so that
 * `env` lines with options work the same everywhere.
 */
function parseShebang(bytes: Uint8Array): { command: string; args: string[] } | undefined {
  if (bytes[0] !== 0x23 || bytes[1] !== 0x21) return undefined
  const head = bytes.subarray(2, SHEBANG_MAX_BYTES)
  const newline = head.indexOf(0x0a)
  const line = new TextDecoder().decode(newline === -1 ? head : head.subarray(0, newline))
  const [command, ...args] = line.trim().split(/\s+/).filter(Boolean)
  return command ? { command, args } : undefined
}

/** Runs one script in its own folder and resolves when it is over and the folder is gone. Never rejects. */
export async function executeScript(options: ExecuteOptions): Promise<ExecuteResult> {
  const started = performance.now()
  const output = new OutputCounter(options.onOutput, options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES)
  const end = (dir: string, fields: Pick<ExecuteResult, 'status' | 'error'> & Partial<ExecuteResult>): ExecuteResult => ({
    exitCode: null,
    signal: null,
    ...fields,
    durationMs: Math.round(performance.now() - started),
    outputBytes: output.kept,
    droppedBytes: output.dropped,
    truncated: output.dropped > 0,
    dir,
  })
  const fail = (dir: string, error: string) => {
    output.info(error)
    return end(dir, { status: 'failed', error })
  }

  let dir: string
  const outputDirs: string[] = []
  try {
    dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), `${RUN_DIR_PREFIX}${process.pid}-`))
  } catch (err) {
    return fail('', `Could not make a folder for the script: ${messageOf(err)}`)
  }
  try {
    const executables = options.files.filter((f) => f.executable)
    const script = executables[0]
    if (executables.length !== 1 || !script) return fail(dir, `Expected exactly one executable file, got ${executables.length}`)
    try {
      // Explicitly: modes at creation go through the umask, and a strict one (0277, say) would
      // leave a folder we cannot write into, or a script we cannot run.
      await chmod(dir, 0o700)
      // Windows has no owners to hand over: the ACL below grants that user access instead.
      const owner = (options.platform ?? process.platform) === 'win32' ? undefined : options.runAs
      for (const file of options.files) await writeRunFile(dir, file.name, file.content, file.executable ? 0o700 : 0o600, owner)
      // Last, so the user never sees a half-written folder; the agent (root) still removes it.
      if (owner) await chown(dir, owner.uid, owner.gid)
    } catch (err) {
      return fail(dir, `Could not write the script's files: ${messageOf(err)}`)
    }

    const platform = options.platform ?? process.platform
    const launch = launchFor(platform, script.name, script.content.subarray(0, SHEBANG_MAX_BYTES), join(dir, script.name), options.args)
    if ('error' in launch) return fail(dir, launch.error)
    if (platform === 'win32') {
      const exec = options.exec ?? execProgram
      // %TEMP% is the user's own, but may be shared with an elevated agent or others by policy.
      const users = [options.windowsUser ?? windowsAccount(), ...(options.runAs?.windows ? [options.runAs.windows.user] : [])]
      const acl = runFolderAcl(dir, users)
      const set = await exec(acl.command, acl.args, { timeoutMs: 30_000 }).catch((err: unknown) => ({ code: -1, stdout: '', stderr: messageOf(err) }))
      if (set.code !== 0) return fail(dir, `Could not restrict the script's folder to its user (icacls: ${(set.stderr || set.stdout).trim() || `exit code ${set.code}`})`)
      output.useWindowsDecoding(options.codePageEncoding ?? (await consoleEncoding(exec)))
    }

    const { runAs } = options
    const asWindowsUser = platform === 'win32' ? runAs?.windows : undefined
    if (platform === 'win32' && runAs && !asWindowsUser) return fail(dir, `Cannot start programs as ${runAs.username} on Windows without its credentials`)
    let outDir: string | undefined
    if (asWindowsUser) {
      try {
        // The agent's own (the script's user cannot see it): where the wrapper sends the output.
        outDir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), `${RUN_DIR_PREFIX}${process.pid}-out-`))
      } catch (err) {
        return fail(dir, `Could not make a folder for the script's output: ${messageOf(err)}`)
      }
      outputDirs.push(outDir)
    }
    const env = {
      ...launch.env,
      ...(options.env ?? process.env),
      ...(runAs && !asWindowsUser ? { HOME: runAs.home, USER: runAs.username, LOGNAME: runAs.username } : {}),
    }
    const wrap = options.wrapCommand ?? ((command, args) => ({ command, args }))
    const commands = launch.candidates.map((c) => c.command)
    for (const candidate of launch.candidates) {
      const { command } = candidate
      if (options.signal?.aborted) {
        output.info('[cancelled before it started]')
        return end(dir, { status: 'cancelled', error: 'Cancelled' })
      }
      const line = { ...wrap(command, candidate.args), verbatim: candidate.verbatim === true }
      const run =
        asWindowsUser && outDir
          ? await runAsWindowsUser({
              line,
              cwd: dir,
              outDir,
              env,
              as: asWindowsUser,
              spawnFn: options.spawnFn ?? spawn,
              timeoutMs: options.timeoutMs,
              signal: options.signal,
              take: (stream, bytes) => output.take(stream, bytes),
              info: (text) => output.info(text),
              stopNote: (reason) => stopNote(reason, options.timeoutMs),
              killWaitMs: options.killGraceMs,
              onSpawn: options.onSpawn,
              ...(options.tailReader ? { reader: options.tailReader } : {}),
            }).then((r) => (output.flush(), r))
          : await runOnce(line, dir, env, options, output)
      if (run.spawnError) {
        if (errnoOf(run.spawnError) === 'ENOENT' && line.command === command) continue
        return fail(dir, `Could not start ${line.command}: ${messageOf(run.spawnError)}`)
      }
      if (run.stoppedBy === 'timeout') return end(dir, { status: 'timed_out', error: `Timed out after ${formatDuration(options.timeoutMs)}`, ...run.exit })
      if (run.stoppedBy === 'cancel') return end(dir, { status: 'cancelled', error: 'Cancelled', ...run.exit })
      const { exitCode, signal } = run.exit
      if (exitCode === 0) return end(dir, { status: 'succeeded', error: null, ...run.exit })
      const error = exitCode !== null ? `Exited with code ${exitCode}` : signal ? `Killed by signal ${signal}` : 'Ended without an exit code'
      return end(dir, { status: 'failed', error, ...run.exit })
    }
    const missing = commands.length > 1 ? `Neither ${commands.slice(0, -1).join(', ')} nor ${commands.at(-1)} is` : `${commands[0]} is not`
    return fail(dir, `${missing} installed on this computer (${launch.neededFor})`)
  } finally {
    for (const d of [dir, ...outputDirs]) await rm(d, { recursive: true, force: true }).catch(() => undefined)
  }
}

/**
 * The command lines for this platform: Windows by extension only (its own interpreters and
 * cmd.exe quoting; an argument cmd.exe would change is an error), macOS its own table then as
 * Linux, Linux by extension then the #! line.
 */
export function launchFor(platform: NodeJS.Platform, name: string, firstBytes: Uint8Array, scriptPath: string, args: string[]): ScriptLaunch | { error: string } {
  if (platform === 'win32') {
    try {
      return windowsLaunch(scriptPath, args)
    } catch (err) {
      if (err instanceof CmdArgumentError) return { error: err.message }
      throw err
    }
  }
  const mac = platform === 'darwin' ? darwinLaunch(scriptPath, args) : undefined
  if (mac) return mac
  const interpreter = interpreterFor(name, firstBytes, platform)
  if ('error' in interpreter) return interpreter
  const candidates = [interpreter.command, ...(interpreter.fallbacks ?? [])].map((command) => ({ command, args: [...interpreter.args, scriptPath, ...args] }))
  return { candidates, neededFor: interpreter.neededFor, ...(interpreter.env ? { env: interpreter.env } : {}) }
}

/** O_NOFOLLOW does not exist on Windows, where a fresh folder holds no links anyway. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0)

/**
 * Writes one script file into its run folder, and nowhere else: the name must be one the agent
 * may write (@helpline/sdk fileNameRules), the resolved path must be directly inside the folder,
 * and the file is created new (O_CREAT|O_EXCL|O_NOFOLLOW): an existing file or a planted symlink
 * is an error, never followed or overwritten. The mode is set on the open file (the umask does
 * not decide it), and so is the owner when the script runs as another user.
 */
export async function writeRunFile(dir: string, name: string, content: Uint8Array, mode: number, owner?: { uid: number; gid: number }) {
  const problem = fileNameProblem(name)
  if (problem) throw new Error(`file name ${quoteName(name)} ${problem.message}`)
  const path = resolve(dir, name)
  const inside = relative(resolve(dir), path)
  if (inside !== name || isAbsolute(inside)) throw new Error(`file name ${quoteName(name)} does not stay inside the run folder`)
  const handle = await open(path, CREATE_NEW, mode)
  try {
    await handle.writeFile(content)
    await handle.chmod(mode)
    if (owner) await handle.chown(owner.uid, owner.gid)
  } finally {
    await handle.close()
  }
}

interface RunOutcome {
  /** Set when the program did not start; nothing else is. */
  spawnError?: unknown
  stoppedBy?: 'timeout' | 'cancel'
  exit: { exitCode: number | null; signal: string | null }
}

/** Starts one command line and settles when it has exited and its pipes are closed (or given up on). */
function runOnce(line: ScriptCommand, cwd: string, env: NodeJS.ProcessEnv, options: ExecuteOptions, output: OutputCounter): Promise<RunOutcome> {
  const { command, args } = line
  const spawnFn = options.spawnFn ?? spawn
  const windows = (options.platform ?? process.platform) === 'win32'
  return new Promise((resolve) => {
    let child: ChildProcess
    try {
      child = spawnFn(command, args, {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so one signal reaches everything the script started.
        // On Windows detached means a new console instead, and there are no groups anyway.
        detached: !windows,
        windowsHide: true,
        ...(line.verbatim ? { windowsVerbatimArguments: true } : {}),
        ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
      })
    } catch (err) {
      resolve({ spawnError: err, exit: { exitCode: null, signal: null } })
      return
    }

    let spawned = false
    let exited = false
    let settled = false
    let stoppedBy: RunOutcome['stoppedBy']
    const exit: RunOutcome['exit'] = { exitCode: null, signal: null }
    const timers: NodeJS.Timeout[] = []
    const later = (ms: number, fn: () => void) => void timers.push(setTimeout(fn, ms))

    const killTree = (signal: 'SIGTERM' | 'SIGKILL') => {
      const pid = child.pid
      if (pid === undefined) return
      if (windows) {
        // No process groups: taskkill walks the tree by parent pid (and cannot be gentle).
        try {
          const kill = windowsKillTree(pid)
          spawnFn(kill.command, kill.args, { stdio: 'ignore', windowsHide: true }).on('error', () => undefined)
        } catch {
          // Nothing more we can do from here; the hard wait below still ends the run.
        }
        return
      }
      try {
        process.kill(-pid, signal)
      } catch {
        // ESRCH: the group is already empty.
      }
    }

    const settle = (spawnError?: unknown) => {
      if (settled) return
      settled = true
      for (const timer of timers) clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      // A lingering holder of the pipes must not keep the agent's event loop busy.
      child.stdout?.destroy()
      child.stderr?.destroy()
      if (spawnError !== undefined) return resolve({ spawnError, exit })
      output.flush()
      resolve({ exit, ...(stoppedBy ? { stoppedBy } : {}) })
    }

    const stop = (reason: 'timeout' | 'cancel') => {
      if (stoppedBy || exited || settled) return
      stoppedBy = reason
      output.info(stopNote(reason, options.timeoutMs))
      killTree('SIGTERM')
      later(options.killGraceMs ?? DEFAULT_KILL_GRACE_MS, () => {
        killTree('SIGKILL')
        later(AFTER_KILL_WAIT_MS, () => settle())
      })
    }
    const onAbort = () => stop('cancel')

    child.once('spawn', () => {
      spawned = true
      if (child.pid !== undefined) options.onSpawn?.(child.pid)
    })
    child.on('error', (err) => {
      if (!spawned && !exited) settle(err)
    })
    child.stdout?.on('data', (chunk: Buffer) => output.take('stdout', chunk))
    child.stderr?.on('data', (chunk: Buffer) => output.take('stderr', chunk))
    child.once('exit', (code, signal) => {
      exited = true
      exit.exitCode = code
      exit.signal = signal
      // The script is over, so is everything it left running in the background.
      // (On Windows the tree cannot be found once its root is gone.)
      if (!windows) killTree('SIGKILL')
      later(CLOSE_WAIT_MS, () => settle())
    })
    child.once('close', () => {
      if (spawned || exited) settle()
    })

    // setTimeout fires at once for anything past 2^31-1 ms (about 24 days).
    later(Math.min(options.timeoutMs, MAX_TIMER_MS), () => stop('timeout'))
    if (options.signal?.aborted) stop('cancel')
    else options.signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Decodes both streams as they come and keeps at most `max` raw bytes of them together. */
class OutputCounter {
  kept = 0
  dropped = 0
  private decoders: Record<'stdout' | 'stderr', { decode(bytes?: Uint8Array, options?: { stream?: boolean }): string }> = {
    stdout: new TextDecoder('utf-8'),
    stderr: new TextDecoder('utf-8'),
  }

  constructor(
    private readonly sink: OutputSink,
    private readonly max: number,
  ) {}

  take(stream: 'stdout' | 'stderr', chunk: Uint8Array) {
    const room = Math.max(this.max - this.kept, 0)
    const keep = chunk.byteLength <= room ? chunk : chunk.subarray(0, room)
    const wasCut = this.dropped > 0
    this.kept += keep.byteLength
    this.dropped += chunk.byteLength - keep.byteLength
    if (keep.byteLength > 0) this.emit(stream, this.decoders[stream].decode(keep, { stream: true }))
    if (this.dropped > 0 && !wasCut) {
      // Nothing more will be decoded: finish any character split at the cut before the note.
      this.flush()
      this.info(`[output cut at ${this.max} bytes; the rest was dropped]`)
    }
  }

  /** Windows: UTF-8 when the output is UTF-8, else the console's code page (WindowsOutputDecoder). */
  useWindowsDecoding(codePageLabel: string) {
    const make = () => {
      const d = new WindowsOutputDecoder(codePageLabel)
      return { decode: (bytes?: Uint8Array, o?: { stream?: boolean }) => d.decode(bytes ?? new Uint8Array(), !o?.stream) }
    }
    this.decoders = { stdout: make(), stderr: make() }
  }

  flush() {
    this.emit('stdout', this.decoders.stdout.decode())
    this.emit('stderr', this.decoders.stderr.decode())
  }

  info(line: string) {
    this.emit('info', line)
  }

  private emit(stream: 'stdout' | 'stderr' | 'info', text: string) {
    if (!text) return
    try {
      this.sink(stream, text)
    } catch {
      // A failing sink must not leave the script running or its folder behind.
    }
  }
}

/**
 * Removes run folders of agents that are no longer running (a crash or a power cut skips the
 * `finally`). Folders of live pids are kept: several agents may share a machine, and a pid
 * reused by another program only means a folder stays a little longer.
 */
export async function removeLeftoverRunDirs(tmpRoot: string = tmpdir()): Promise<string[]> {
  const pattern = new RegExp(`^${RUN_DIR_PREFIX}(\\d+)-`)
  const entries = await readdir(tmpRoot, { withFileTypes: true }).catch(() => [])
  const removed: string[] = []
  for (const entry of entries) {
    const pid = Number(pattern.exec(entry.name)?.[1])
    // isDirectory() is false for a symlink: never follow one planted in a shared folder.
    if (!entry.isDirectory() || !(pid > 0) || pid === process.pid || isAlive(pid)) continue
    const path = join(tmpRoot, entry.name)
    try {
      await rm(path, { recursive: true, force: true })
      removed.push(path)
    } catch {
      // Another user's folder in a sticky temp folder, say: not ours to remove.
    }
  }
  return removed
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, it just belongs to someone else.
    return errnoOf(err) !== 'ESRCH'
  }
}

function stopNote(reason: 'timeout' | 'cancel', timeoutMs: number): string {
  return reason === 'timeout' ? `[timed out after ${formatDuration(timeoutMs)}; stopped]` : '[cancelled; stopped]'
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
