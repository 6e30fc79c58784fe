import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { selfCommand } from '../self.ts'
import { collectSystemInfo } from '../sysinfo/collect.ts'
import { execProgram, type ExecFn, type SpawnFn } from './exec.ts'
import type { Autostart, Credentials, LogonOutcome, PlatformAdapter } from './index.ts'
import { BAD_CREDENTIALS } from './linux-logon.ts'
import { describeComputer, safeUsername } from './linux.ts'
import { codePageEncoding, parseChcp, type ScriptCommand } from './script-commands.ts'
import { readCredential, WindowsSecret } from './windows-runas.ts'

/**
 * Windows, without a native add-on: system information through systeminformation, programs
 * through their own command lines (schtasks, shutdown, PowerShell), each built by a function
 * here so that the tests see every argv (agent/test/platform-windows.test.ts).
 */

export const TASK_NAME = 'Helpline Agent'
export const RESTART_REASON = 'Helpline: restarting for your support session'
/** The Secondary Logon service refused, or Windows said the account may not log on here. */
export const LOGON_NOT_PERMITTED = 'Windows does not let this account log on here (or the Secondary Logon service is off)'

const LOGON_TIMEOUT_MS = 60_000

/**
 * DOMAIN\name of this process's user, for the run folder's ACL. SYSTEM (a service; its USERNAME
 * is the computer's account, NAME$) is named by its well-known SID, which icacls always maps.
 */
export function windowsAccount(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.USERNAME || safeUsername()
  if (/^(system|.*\$)$/i.test(name)) return '*S-1-5-18'
  return env.USERDOMAIN ? `${env.USERDOMAIN}\\${name}` : name
}

let encoding: Promise<string> | undefined
/** The console's code page as a TextDecoder label, asked of chcp once per agent (utf-8 when it cannot be told). */
export function consoleEncoding(exec: ExecFn): Promise<string> {
  encoding ??= exec('cmd.exe', ['/d', '/c', 'chcp'], { timeoutMs: 10_000 })
    .then((r) => codePageEncoding(parseChcp(r.stdout) ?? 65001))
    .catch(() => 'utf-8')
  return encoding
}

/**
 * One word of a Windows command line, quoted for the C runtime's parser (CommandLineToArgvW):
 * backslashes are literal except before a quote, where they are doubled.
 */
export function windowsArg(word: string): string {
  if (word && !/[\s"]/.test(word)) return word
  return `"${word.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\+)$/, '$1$1')}"`
}

/** What the task (or the Run key) starts: this agent rejoining its session after a logon. */
export function rejoinCommandLine(stateDir: string): string {
  const self = selfCommand(['rejoin', '--if-saved', '--ui', 'browser', '--state-dir', resolve(stateDir)])
  return [self.command, ...self.args].map(windowsArg).join(' ')
}

/**
 * The Scheduled Task that brings the agent back. The customer's own agent: at their logon, with
 * their limited rights, so the customer window opens on their desktop. An agent running as
 * SYSTEM (the service case): at system start, as SYSTEM — a SYSTEM task rather than an sc.exe
 * service, because a service must speak the Service Control Manager's protocol, which Node
 * does not, and the SCM would stop it after 30 seconds.
 */
export function scheduledTask(commandLine: string, asSystem: boolean): ScriptCommand {
  const when = asSystem ? ['/SC', 'ONSTART', '/RU', 'SYSTEM'] : ['/SC', 'ONLOGON', '/RL', 'LIMITED']
  return { command: 'schtasks.exe', args: ['/Create', '/F', '/TN', TASK_NAME, ...when, '/TR', commandLine] }
}

/** Without the right to make a logon task, the user's own Run key does the same at their next logon. */
export function runKey(commandLine: string): ScriptCommand {
  return { command: 'reg.exe', args: ['add', 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run', '/v', 'HelplineAgent', '/t', 'REG_SZ', '/d', commandLine, '/f'] }
}

export function restartCommand(): ScriptCommand {
  return { command: 'shutdown.exe', args: ['/r', '/t', '5', '/c', RESTART_REASON] }
}

/**
 * PowerShell that checks a password the way Windows does: starting a hidden `cmd /c exit 0` as
 * that user through the Secondary Logon service (Start-Process -Credential). The user name comes
 * in the environment and the password on stdin, never on a command line another process could
 * read; the answer is one marker line.
 */
export const LOGON_SCRIPT = [
  ...readCredential('HELPLINE_LOGON_USER'),
  'try {',
  "  $p = Start-Process -FilePath \"$env:SystemRoot\\System32\\cmd.exe\" -ArgumentList '/d','/c','exit 0' -Credential $credential -WorkingDirectory $env:SystemRoot -WindowStyle Hidden -Wait -PassThru",
  "  if ($p.ExitCode -eq 0) { 'HELPLINE-LOGON ok' } else { \"HELPLINE-LOGON error 0 exit code $($p.ExitCode)\" }",
  '} catch {',
  '  $e = $_.Exception; while ($e.InnerException -and -not $e.NativeErrorCode) { $e = $e.InnerException }',
  '  "HELPLINE-LOGON error $([int]$e.NativeErrorCode) $($e.Message)"',
  '}',
].join('\n')

/** powershell.exe with LOGON_SCRIPT as -EncodedCommand (UTF-16LE base64: no quoting to get wrong). */
export function logonCommand(): ScriptCommand {
  return {
    command: 'powershell.exe',
    args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', Buffer.from(LOGON_SCRIPT, 'utf16le').toString('base64')],
  }
}

/** Win32 errors of LogonUser/CreateProcessWithLogonW and what they mean for the CSR. */
const BAD = new Set([1326 /* wrong user name or password */, 1317 /* no such user */])
const NOT_PERMITTED = new Set([1327, 1330, 1331, 1385, 1907, 1909, 1058 /* Secondary Logon disabled */])

/**
 * The marker line of LOGON_SCRIPT → the outcome (the account has no uid on Windows: -1). On
 * success the password is kept, in memory only, for the scripts started as that user (RunAs.windows).
 */
export function parseLogonAnswer(stdout: string, credentials: Credentials): LogonOutcome {
  const line = stdout.split(/\r?\n/).find((l) => l.startsWith('HELPLINE-LOGON ')) ?? ''
  const username = credentials.domain ? `${credentials.domain}\\${credentials.username}` : credentials.username
  if (line === 'HELPLINE-LOGON ok') {
    const runAs = { username, uid: -1, gid: -1, home: '', windows: { user: username, secret: new WindowsSecret(credentials.password) } }
    return { ok: true, account: { username, uid: -1, gid: -1, home: '', shell: 'cmd.exe' }, runAs, notice: 'windows' }
  }
  const m = /^HELPLINE-LOGON error (-?\d+) ?(.*)$/.exec(line)
  const code = Number(m?.[1] ?? 0)
  if (BAD.has(code)) return { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }
  if (NOT_PERMITTED.has(code)) return { ok: false, reason: 'not_permitted', message: `${LOGON_NOT_PERMITTED} (${m?.[2]?.trim() || `error ${code}`})` }
  return { ok: false, reason: 'unavailable', message: `Logon failed: ${m?.[2]?.trim() || 'PowerShell gave no answer'}` }
}

/** A user name Windows accepts (no characters its account names forbid), so nothing odd reaches PowerShell. */
const WINDOWS_NAME = /^[^"/\\[\]:;|=,+*?<>@\0-\x1f]{1,104}$/

export interface WindowsPlatformOptions {
  spawnFn?: SpawnFn
  env?: NodeJS.ProcessEnv
  /** The agent's own user (default the process's): SYSTEM gets the service-case task. */
  username?: () => string
}

export function createWindowsPlatform(exec: ExecFn = execProgram, options: WindowsPlatformOptions = {}): PlatformAdapter {
  const spawnFn = options.spawnFn ?? (spawn as SpawnFn)
  const env = options.env ?? process.env
  const run = (c: ScriptCommand, timeoutMs: number) => exec(c.command, c.args, { timeoutMs })
  return {
    name: 'windows',
    exec,
    details: () => describeComputer('win32', 'Windows'),
    // Always as the customer, even after a logon: the agent's own file usually sits in the
    // customer's profile, which the other user cannot read, so `__sysinfo` could not start as them.
    collectSystemInfo: () => collectSystemInfo({ exec, env }),
    ownUsername: safeUsername,
    async logon(credentials) {
      if (!WINDOWS_NAME.test(credentials.username) || (credentials.domain && !WINDOWS_NAME.test(credentials.domain))) {
        return { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }
      }
      const user = credentials.domain ? `${credentials.domain}\\${credentials.username}` : credentials.username
      const answer = await runWithStdin(spawnFn, logonCommand(), `${credentials.password}\n`, { ...env, HELPLINE_LOGON_USER: user })
      if ('error' in answer) return { ok: false, reason: 'unavailable', message: `Logon failed: ${answer.error}` }
      return parseLogonAnswer(answer.stdout, credentials)
    },
    async ensureAutostart(stateDir): Promise<Autostart> {
      const line = rejoinCommandLine(stateDir)
      const asSystem = /^(system|.*\$)$/i.test((options.username ?? safeUsername)())
      const task = await run(scheduledTask(line, asSystem), 30_000).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }))
      if (task.code === 0) return { ok: true, detail: `the Scheduled Task “${TASK_NAME}”, ${asSystem ? 'when Windows starts' : 'when you log in again'}` }
      if (asSystem) return { ok: false, detail: `the Scheduled Task could not be made (${(task.stderr || task.stdout).trim()})` }
      const key = await run(runKey(line), 30_000).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }))
      if (key.code === 0) return { ok: true, detail: 'your user’s Run key, when you log in again' }
      return { ok: false, detail: `neither a Scheduled Task nor the Run key could be set (${(task.stderr || key.stderr).trim()})` }
    },
    async reboot() {
      const r = await run(restartCommand(), 60_000)
      if (r.code === 0) return 'restarting'
      throw new Error(`shutdown.exe /r: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`)
    },
  }
}

/** Runs a command, writes `input` to its stdin and collects stdout (which is never logged). */
function runWithStdin(spawnFn: SpawnFn, c: ScriptCommand, input: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string } | { error: string }> {
  return new Promise((resolvePromise) => {
    let stdout = ''
    let settled = false
    const done = (r: { stdout: string } | { error: string }) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolvePromise(r)
    }
    let child
    try {
      child = spawnFn(c.command, c.args, { env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true })
    } catch (err) {
      return done({ error: `${c.command} could not be started (${(err as Error).message})` })
    }
    const timer = setTimeout(() => {
      child.kill()
      done({ error: `${c.command} did not answer in time` })
    }, LOGON_TIMEOUT_MS)
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
    child.stderr?.resume()
    child.stdin?.on('error', () => undefined)
    child.stdin?.end(input)
    child.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code === 'ENOENT' ? `${c.command} is not installed` : err.message }))
    child.on('close', () => done({ stdout }))
  })
}
