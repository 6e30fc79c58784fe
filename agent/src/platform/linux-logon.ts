import { spawn } from 'node:child_process'
import type { ExecFn, SpawnFn } from './exec.ts'
import type { Credentials, LogonOutcome, UserAccount } from './index.ts'

/**
 * "Log on as another user" on Linux: the password is checked by PAM, through `su`, exactly as
 * when the user types it at a terminal — the agent never reads /etc/shadow. su run by root never
 * asks for a password, so it runs as an unprivileged user (nobody) inside a pseudo-terminal made
 * by util-linux `script`, and the password is written when su asks for it.
 */

/** Names useradd accepts by default (and nothing a shell would read as syntax). */
const USERNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/
/** The overflow uid/gid: owns nothing, so su started by it proves nothing but the password. */
const NOBODY = 65534
const PROMPT_TIMEOUT_MS = 10_000
/** PAM delays a failure by 2–3 s; a hung su must not hold the command forever. */
const TOTAL_TIMEOUT_MS = 30_000
/** su prints the prompt, then turns echo off and flushes the terminal's input: let it do so first. */
const AFTER_PROMPT_MS = 150

export const BAD_CREDENTIALS = 'Logon failed: wrong user name or password'
export const NOT_PERMITTED = 'This agent does not run with the rights to switch users (run it as root / as a service)'

export interface LinuxLogonOptions {
  exec: ExecFn
  spawnFn?: SpawnFn
  /** Default: process.getuid(). */
  uid?: () => number
  /** How the account is found; default getent (macOS: dscl). */
  lookup?: (exec: ExecFn, username: string) => Promise<UserAccount | undefined>
  /** How su is started in a pty; default util-linux script (macOS: BSD script). */
  pty?: SuInPty
}

/** One line of `getent passwd NAME`; undefined when there is no such user. */
export async function lookupUser(exec: ExecFn, username: string): Promise<UserAccount | undefined> {
  if (!USERNAME.test(username)) return undefined
  const r = await exec('getent', ['passwd', username], { timeoutMs: 10_000 })
  if (r.code !== 0) return undefined
  const [name, , uid, gid, , home, shell] = r.stdout.trim().split('\n')[0]!.split(':')
  if (name !== username || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) return undefined
  return { username: name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' }
}

export async function linuxLogon(credentials: Credentials, options: LinuxLogonOptions): Promise<LogonOutcome> {
  const uid = (options.uid ?? (() => process.getuid?.() ?? -1))()
  if (uid !== 0) return { ok: false, reason: 'not_permitted', message: NOT_PERMITTED }
  const { username } = credentials
  if (!USERNAME.test(username)) return { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }
  let account: UserAccount | undefined
  try {
    account = await (options.lookup ?? lookupUser)(options.exec, username)
  } catch (err) {
    return { ok: false, reason: 'unavailable', message: `The user database could not be read (${(err as Error).message})` }
  }
  // Not telling "no such user" from "wrong password", as a login prompt does not.
  if (!account) return { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }
  const checked = await checkWithSu(username, credentials.password, options.spawnFn ?? (spawn as SpawnFn), options.pty)
  if (checked === 'ok') return { ok: true, account, runAs: { uid: account.uid, gid: account.gid, username: account.username, home: account.home } }
  if (checked === 'bad') return { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }
  return { ok: false, reason: 'unavailable', message: `Logon failed: ${checked.error}` }
}

/** How `su -c 'id -un' USER` is started in a pseudo-terminal, and as whom: util-linux or BSD script. */
export interface SuInPty {
  argv(username: string): { command: string; args: string[] }
  nobody: number
}

export const utilLinuxSu: SuInPty = { argv: (username) => ({ command: 'script', args: ['-qec', `su -c 'id -un' -- ${username}`, '/dev/null'] }), nobody: NOBODY }

/**
 * `su -c 'id -un' -- USER` as nobody in a pseudo-terminal: 'ok' when it ran and printed the
 * user's name, 'bad' when PAM said "Authentication failure". What su printed is only matched,
 * never returned, except its last line, with the password cut out, when it failed otherwise.
 */
export function checkWithSu(username: string, password: string, spawnFn: SpawnFn, pty: SuInPty = utilLinuxSu): Promise<'ok' | 'bad' | { error: string }> {
  if (!USERNAME.test(username)) return Promise.resolve('bad')
  return new Promise((resolve) => {
    let child
    try {
      const line = pty.argv(username)
      child = spawnFn(line.command, line.args, {
        uid: pty.nobody,
        gid: pty.nobody,
        cwd: '/',
        // English messages to match; nothing of the agent's own environment.
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C', SHELL: '/bin/sh', TERM: 'dumb' },
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    } catch (err) {
      resolve({ error: `su could not be started (${(err as Error).message})` })
      return
    }
    let out = ''
    let sent = false
    let settled = false
    const timers: NodeJS.Timeout[] = []
    const done = (result: 'ok' | 'bad' | { error: string }) => {
      if (settled) return
      settled = true
      for (const t of timers) clearTimeout(t)
      if (child.exitCode === null) child.kill('SIGKILL')
      out = ''
      resolve(result)
    }
    const scrub = (text: string) => (password ? text.split(password).join('***') : text)
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8')
      if (!sent && /password:/i.test(out)) {
        sent = true
        timers.push(
          setTimeout(() => {
            child.stdin?.write(`${password}\n`)
          }, AFTER_PROMPT_MS),
        )
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.stdin?.on('error', () => undefined)
    child.on('error', (err: NodeJS.ErrnoException) =>
      done({ error: err.code === 'ENOENT' ? 'util-linux script is not installed (needed to check the password with su)' : `su could not be started (${err.message})` }),
    )
    // 'close', not 'exit': everything su printed has been read by then.
    child.on('close', (code) => {
      const text = out.replace(/\r/g, '')
      if (/authentication failure|incorrect password/i.test(text)) return done('bad')
      const lines = text.split('\n').map((l) => l.trim())
      if (code === 0 && sent && lines.includes(username)) return done('ok')
      if (!sent) return done({ error: `su did not ask for a password${code === null ? '' : ` (exit code ${code})`}: ${scrub(lines.filter(Boolean).at(-1) ?? '')}`.trim() })
      const last = scrub(lines.filter((l) => l && !/password:/i.test(l)).at(-1) ?? '')
      done({ error: `su ended with code ${code}${last ? `: ${last}` : ''}` })
    })
    timers.push(setTimeout(() => !sent && done({ error: 'su did not ask for a password in time' }), PROMPT_TIMEOUT_MS))
    timers.push(setTimeout(() => done({ error: 'su did not answer in time' }), TOTAL_TIMEOUT_MS))
  })
}
