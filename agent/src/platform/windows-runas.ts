import { open } from 'node:fs/promises'
import type { SpawnFn } from './exec.ts'
import type { ScriptCommand } from './script-commands.ts'

/**
 * Windows "log on as another user" for real, without a native add-on: each program is started
 * by a small PowerShell wrapper through `Start-Process -Credential` (the Secondary Logon service,
 * as "Run as different user" does). The wrapper prints the child's pid, waits, and prints its
 * exit code; the child's output goes to two files that the agent reads as they grow.
 */

/**
 * The password of the user a CSR logged on as, kept in the agent's memory only (never on disk,
 * never in a log: it prints as "[hidden]") until log off, the session's end, or the customer
 * leaving drops it. A JavaScript string cannot be wiped; dropping the one reference is what we can do.
 */
export class WindowsSecret {
  #password: string | undefined

  constructor(password: string) {
    this.#password = password
  }

  /** Undefined once dropped. */
  reveal(): string | undefined {
    return this.#password
  }

  drop() {
    this.#password = undefined
  }

  toJSON() {
    return '[hidden]'
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return 'WindowsSecret [hidden]'
  }
}

/** Whom programs are started as on Windows after a logon: DOMAIN\name (or name) and the password. */
export interface WindowsRunAs {
  user: string
  secret: WindowsSecret
}

/**
 * PowerShell lines that make `$credential` from the user named in env `userVariable` and the
 * password on the first line of stdin, read as UTF-8 bytes: [Console]::In would decode them
 * with the console's code page and garble a password that is not ASCII.
 */
export function readCredential(userVariable: string): string[] {
  return [
    "$ErrorActionPreference = 'Stop'",
    '$stdin = New-Object System.IO.StreamReader([Console]::OpenStandardInput(), (New-Object System.Text.UTF8Encoding $false))',
    '$password = $stdin.ReadLine()',
    '$secure = ConvertTo-SecureString -String $password -AsPlainText -Force',
    '$password = $null',
    `$credential = New-Object System.Management.Automation.PSCredential($env:${userVariable}, $secure)`,
  ]
}

/**
 * The wrapper. The password comes on stdin, everything else in the environment (HELPLINE_RUNAS_*),
 * so no command line another process can read holds anything secret or anything to re-quote.
 * `$p.Handle` is read at once: without it PowerShell 5.1 forgets the exit code.
 */
export const RUNAS_SCRIPT = [
  ...readCredential('HELPLINE_RUNAS_USER'),
  "$start = @{ FilePath = $env:HELPLINE_RUNAS_FILE; Credential = $credential; WorkingDirectory = $env:HELPLINE_RUNAS_DIR; PassThru = $true; WindowStyle = 'Hidden' }",
  'if ($env:HELPLINE_RUNAS_ARGS) { $start.ArgumentList = $env:HELPLINE_RUNAS_ARGS }',
  'if ($env:HELPLINE_RUNAS_OUT) { $start.RedirectStandardOutput = $env:HELPLINE_RUNAS_OUT; $start.RedirectStandardError = $env:HELPLINE_RUNAS_ERR }',
  'try { $p = Start-Process @start } catch {',
  '  $e = $_.Exception; while ($e.InnerException -and -not $e.NativeErrorCode) { $e = $e.InnerException }',
  '  "HELPLINE-RUNAS error $([int]$e.NativeErrorCode) $($e.Message)"',
  '  exit 1',
  '}',
  '$null = $p.Handle',
  '"HELPLINE-RUNAS pid $($p.Id)"',
  '[Console]::Out.Flush()',
  '$p.WaitForExit()',
  '"HELPLINE-RUNAS exit $($p.ExitCode)"',
].join('\n')

export function runAsCommand(): ScriptCommand {
  return {
    command: 'powershell.exe',
    args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', Buffer.from(RUNAS_SCRIPT, 'utf16le').toString('base64')],
  }
}

/** CreateProcessWithLogonW takes at most 1024 characters of command line. */
export const MAX_COMMAND_LINE = 1024

/** What to start: `file` with `argumentLine` (already quoted for Windows), in `cwd`, output to two files (or nowhere). */
export interface RunAsSpec {
  file: string
  argumentLine: string
  cwd: string
  stdoutFile?: string
  stderrFile?: string
  env: NodeJS.ProcessEnv
}

export type RunAsEnd =
  | { exitCode: number }
  /** `missing`: Windows could not find `file` (error 2 or 3), so a fallback interpreter may be tried. */
  | { error: string; missing: boolean }

export interface RunAsProcess {
  /** The child's pid once the wrapper printed it; undefined when it never started. */
  pid: Promise<number | undefined>
  done: Promise<RunAsEnd>
  /** Ends the wrapper (not the child: see killTreeAs). */
  stop(): void
}

/** One line of the wrapper's stdout. */
export function parseRunAsLine(line: string): { pid: number } | { exitCode: number } | { error: string; code: number } | undefined {
  const m = /^HELPLINE-RUNAS (pid|exit|error) (-?\d+) ?(.*)$/.exec(line.trim())
  if (!m) return undefined
  const n = Number(m[2])
  if (m[1] === 'pid') return { pid: n }
  if (m[1] === 'exit') return { exitCode: n }
  return { error: m[3]?.trim() || `error ${n}`, code: n }
}

/** Starts `spec` as `as` through the wrapper: the password is written to its stdin, and only there. */
export function startAs(spawnFn: SpawnFn, as: WindowsRunAs, spec: RunAsSpec): RunAsProcess {
  let resolvePid: (pid: number | undefined) => void = () => undefined
  const pid = new Promise<number | undefined>((r) => (resolvePid = r))
  const ended = (end: RunAsEnd): RunAsProcess => {
    resolvePid(undefined)
    return { pid, done: Promise.resolve(end), stop: () => undefined }
  }
  const password = as.secret.reveal()
  if (password === undefined) return ended({ error: `${as.user} was logged off`, missing: false })
  if (`"${spec.file}" ${spec.argumentLine}`.length > MAX_COMMAND_LINE) {
    return ended({ error: `the command line is longer than the ${MAX_COMMAND_LINE} characters Windows allows when starting a program as another user`, missing: false })
  }
  const c = runAsCommand()
  const env = {
    ...spec.env,
    HELPLINE_RUNAS_USER: as.user,
    HELPLINE_RUNAS_FILE: spec.file,
    HELPLINE_RUNAS_ARGS: spec.argumentLine,
    HELPLINE_RUNAS_DIR: spec.cwd,
    HELPLINE_RUNAS_OUT: spec.stdoutFile ?? '',
    HELPLINE_RUNAS_ERR: spec.stderrFile ?? '',
  }
  let child
  try {
    child = spawnFn(c.command, c.args, { env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true })
  } catch (err) {
    return ended({ error: `${c.command} could not be started (${(err as Error).message})`, missing: false })
  }
  const done = new Promise<RunAsEnd>((resolveDone) => {
    let buffered = ''
    let end: RunAsEnd | undefined
    const finish = (last: RunAsEnd) => {
      resolvePid(undefined)
      resolveDone(last)
    }
    const onLine = (line: string) => {
      const parsed = parseRunAsLine(line)
      if (!parsed) return
      if ('pid' in parsed) resolvePid(parsed.pid)
      else if ('exitCode' in parsed) end = parsed
      else end = { error: parsed.error, missing: parsed.code === 2 || parsed.code === 3 }
    }
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString('utf8')
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      lines.forEach(onLine)
    })
    child.stderr?.resume()
    child.stdin?.on('error', () => undefined)
    child.stdin?.end(`${password}\n`)
    let spawned = false
    child.once('spawn', () => (spawned = true))
    // A failed spawn may not be followed by 'close': settle on its error (later calls are no-ops).
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (!spawned) finish(end ?? { error: err.code === 'ENOENT' ? `${c.command} is not installed` : err.message, missing: false })
    })
    child.on('close', (code) => {
      onLine(buffered)
      finish(end ?? { error: `PowerShell ended (exit code ${code}) without starting the program`, missing: false })
    })
  })
  return { pid, done, stop: () => void child.kill() }
}

/**
 * taskkill /T /F on the child's pid, run as that same user: a process started with other
 * credentials is not the customer's to end (its DACL names its own user), but is its user's.
 */
export function killTreeAs(spawnFn: SpawnFn, as: WindowsRunAs, pid: number, cwd: string, env: NodeJS.ProcessEnv): Promise<RunAsEnd> {
  return startAs(spawnFn, as, { file: 'taskkill.exe', argumentLine: `/pid ${pid} /T /F`, cwd, env }).done
}

/** How the agent reads a growing file from an offset; tests swap it. */
export interface TailReader {
  /** The bytes from `offset` on (at most a MiB at a time); empty when there are none or the file is not there yet. */
  read(path: string, offset: number): Promise<Uint8Array>
}

const TAIL_CHUNK = 1024 * 1024

export const fileTailReader: TailReader = {
  async read(path, offset) {
    let handle
    try {
      handle = await open(path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array()
      throw err
    }
    try {
      const { size } = await handle.stat()
      if (size <= offset) return new Uint8Array()
      const buffer = Buffer.alloc(Math.min(size - offset, TAIL_CHUNK))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset)
      return buffer.subarray(0, bytesRead)
    } finally {
      await handle.close()
    }
  },
}

/** Follows one output file: each poll passes on what was added since the last one. */
export class FileTail {
  private offset = 0

  constructor(
    private readonly path: string,
    private readonly reader: TailReader,
    private readonly onBytes: (bytes: Uint8Array) => void,
  ) {}

  async poll() {
    for (;;) {
      const bytes = await this.reader.read(this.path, this.offset).catch(() => new Uint8Array())
      if (bytes.byteLength === 0) return
      this.offset += bytes.byteLength
      this.onBytes(bytes)
    }
  }
}
