import { spawn } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync, existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { selfCommand } from '../self.ts'
import { collectSystemInfo } from '../sysinfo/collect.ts'
import { execProgram, type ExecFn, type SpawnFn } from './exec.ts'
import type { Autostart, PlatformAdapter, RunAs, UserAccount } from './index.ts'
import { collectAs, describeComputer, safeUsername } from './linux.ts'
import { linuxLogon, type SuInPty } from './linux-logon.ts'
import type { ScriptCommand } from './script-commands.ts'

/**
 * macOS: system information through systeminformation, scripts by their own shells and
 * osascript (script-commands.ts), restart by shutdown (root) or by asking the Finder, autostart
 * by a launchd plist, log on as another user through su in a pty (PAM), as on Linux.
 */

export const LAUNCHD_LABEL = 'com.helpline.agent'
/** macOS's nobody (uid -2). */
const DARWIN_NOBODY = 4294967294
/** Said when the AppleScript restart is used: it is a request the customer's Mac may still refuse. */
export const APPLESCRIPT_RESTART_NOTE =
  'the agent does not run as root, so it asks macOS to restart the way the Apple menu does: programs with unsaved work may ask the customer first, or stop the restart'

/** BSD script: `script -q /dev/null command…` (no -c, unlike util-linux). */
export const bsdSu: SuInPty = {
  argv: (username) => ({ command: '/usr/bin/script', args: ['-q', '/dev/null', '/usr/bin/su', username, '-c', 'id -un'] }),
  nobody: DARWIN_NOBODY,
}

/** Directory Services has the accounts (there is no getent): `dscl . -read /Users/NAME …`. */
export function dsclRead(username: string): ScriptCommand {
  return { command: '/usr/bin/dscl', args: ['.', '-read', `/Users/${username}`, 'UniqueID', 'PrimaryGroupID', 'NFSHomeDirectory', 'UserShell'] }
}

/** The account from dscl's `Key: value` lines; undefined when there is no such user. */
export async function lookupDarwinUser(exec: ExecFn, username: string): Promise<UserAccount | undefined> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(username)) return undefined
  const c = dsclRead(username)
  const r = await exec(c.command, c.args, { timeoutMs: 10_000 })
  if (r.code !== 0) return undefined
  const value = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(r.stdout)?.[1]?.trim()
  const uid = value('UniqueID')
  const gid = value('PrimaryGroupID')
  if (!/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? '')) return undefined
  return { username, uid: Number(uid), gid: Number(gid), home: value('NFSHomeDirectory') || '/', shell: value('UserShell') || '/bin/zsh' }
}

export function darwinRestart(root: boolean): ScriptCommand {
  return root ? { command: '/sbin/shutdown', args: ['-r', 'now'] } : { command: '/usr/bin/osascript', args: ['-e', 'tell application "System Events" to restart'] }
}

/** Where the plist goes: the customer's LaunchAgents (at their login), or LaunchDaemons as root (at boot). */
export function launchdPlistPath(root: boolean, home = homedir()): string {
  return root ? `/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist` : join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`)
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The launchd job: this agent rejoining from `stateDir`, once, when loaded (at login or boot). */
export function renderLaunchdPlist(stateDir: string, self = selfCommand): string {
  const c = self(['rejoin', '--if-saved', '--ui', 'browser', '--state-dir', resolve(stateDir)])
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key><string>${LAUNCHD_LABEL}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...[c.command, ...c.args].map((a) => `    <string>${xml(a)}</string>`),
    '  </array>',
    '  <key>RunAtLoad</key><true/>',
    '</dict>',
    '</plist>',
    '',
  ].join('\n')
}

export interface DarwinPlatformOptions {
  spawnFn?: SpawnFn
  uid?: () => number
  home?: string
}

export function createDarwinPlatform(exec: ExecFn = execProgram, options: DarwinPlatformOptions = {}): PlatformAdapter {
  const spawnFn = options.spawnFn ?? (spawn as SpawnFn)
  const uid = options.uid ?? (() => process.getuid?.() ?? -1)
  return {
    name: 'darwin',
    exec,
    details: () => describeComputer('darwin', 'macOS'),
    collectSystemInfo(runAs?: RunAs) {
      if (runAs) return collectAs(runAs, spawnFn)
      return collectSystemInfo({ exec, env: process.env })
    },
    ownUsername: safeUsername,
    logon(credentials) {
      // Not root: the same refusal as on Linux, before anything is asked of the system.
      return linuxLogon(credentials, { exec, spawnFn, uid, lookup: lookupDarwinUser, pty: bsdSu })
    },
    async ensureAutostart(stateDir): Promise<Autostart> {
      const root = uid() === 0
      const path = launchdPlistPath(root, options.home)
      const plist = renderLaunchdPlist(stateDir)
      try {
        if (existsSync(path) && readFileSync(path, 'utf8') === plist) return { ok: true, detail: `the launchd job ${path}` }
        mkdirSync(resolve(path, '..'), { recursive: true })
        // Written, not loaded: loading would start a second agent now; launchd reads it at the next login or boot.
        writeFileSync(`${path}.tmp`, plist, { mode: 0o644 })
        renameSync(`${path}.tmp`, path)
        return { ok: true, detail: `the launchd job ${path}, ${root ? 'when the Mac starts' : 'when you log in again'}` }
      } catch (err) {
        return { ok: false, detail: `the launchd job ${path} could not be written (${(err as Error).message})` }
      }
    },
    async reboot() {
      const root = uid() === 0
      const c = darwinRestart(root)
      const r = await exec(c.command, c.args, { timeoutMs: 60_000 })
      if (r.code === 0) return 'restarting'
      const why = (r.stderr || r.stdout).trim() || `exit code ${r.code}`
      throw new Error(root ? `shutdown -r now: ${why}` : `osascript restart (${APPLESCRIPT_RESTART_NOTE}): ${why}`)
    },
  }
}
