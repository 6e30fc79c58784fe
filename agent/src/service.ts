import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { homedir } from 'node:os'
import { execProgram, type ExecFn } from './platform/exec.ts'
import { selfCommand } from './self.ts'

/**
 * The agent as a systemd service, so it comes back after a restart of the computer: the unit
 * runs `helpline-agent rejoin --state-dir DIR` at boot, but only when DIR holds a saved session
 * (ConditionPathExists), so a computer whose session is over does not start it for nothing.
 */

export const UNIT_NAME = 'helpline-agent.service'
export const SYSTEM_UNIT_DIR = '/etc/systemd/system'

export interface UnitOptions {
  stateDir: string
  /** The command that starts this agent; default: the agent as it runs now (self.ts). */
  self?: (args: string[]) => { command: string; args: string[] }
  lang?: string | undefined
  platform?: string | undefined
}

/**
 * One word of an ExecStart line: systemd expands `%` specifiers and `$` variables even inside
 * quotes, so both are doubled; quotes only when the word needs them.
 */
export function unitWord(word: string): string {
  const escaped = word.replaceAll('%', '%%').replaceAll('$', '$$$$')
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped
  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

/** The unit file's text. */
export function renderUnit(options: UnitOptions): string {
  const stateDir = resolve(options.stateDir)
  // A unit file is line-based: a control character would end a setting early or smuggle in another.
  if (/[\u0000-\u001f\u007f]/.test(stateDir)) throw new Error('The state folder’s path has a control character')
  const args = ['rejoin', '--state-dir', stateDir]
  if (options.lang) args.push('--lang', options.lang)
  if (options.platform) args.push('--platform', options.platform)
  const self = (options.self ?? selfCommand)(args)
  const command = [self.command, ...self.args]
  return [
    '# Written by `helpline-agent install-service`. The Helpline agent rejoins its saved support',
    '# session after the computer restarts (for example a restart the support representative asked for).',
    '[Unit]',
    'Description=Helpline support agent (rejoins the saved support session after a restart)',
    'Wants=network-online.target',
    'After=network-online.target',
    // Nothing saved (no session, or it ended): nothing to rejoin, so the unit does not start.
    // A path setting: specifiers are expanded, quotes are not read.
    `ConditionPathExists=${join(stateDir, 'state.json').replaceAll('%', '%%')}`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${command.map(unitWord).join(' ')}`,
    // A crash is retried; "no saved session", an incompatible server or an ended session are not.
    'Restart=on-failure',
    'RestartSec=5',
    'RestartPreventExitStatus=2 3 4 5',
    'StandardInput=null',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')
}

/** The state folder an installed unit rejoins from, read back from its ExecStart; undefined when none. */
export function unitStateDir(unitText: string): string | undefined {
  const line = unitText.split('\n').find((l) => l.startsWith('ExecStart='))
  if (!line) return undefined
  const words = [...line.slice('ExecStart='.length).matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) =>
    (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!).replaceAll('%%', '%').replaceAll('$$', '$'),
  )
  const at = words.indexOf('--state-dir')
  return at >= 0 ? words[at + 1] : undefined
}

export interface InstallResult {
  unitPath: string
  /** What was run after writing the unit, and how it went; empty when the unit folder is not the system one. */
  steps: { command: string; ok: boolean; output: string }[]
}

/**
 * Writes the unit (atomically) and, for the system unit folder with systemctl present, runs
 * `systemctl daemon-reload` and `systemctl enable helpline-agent`. Throws when the unit cannot be
 * written (not root, say).
 */
export async function installService(options: UnitOptions & { unitDir?: string | undefined; exec?: ExecFn }): Promise<InstallResult> {
  const unitDir = resolve(options.unitDir ?? SYSTEM_UNIT_DIR)
  const unitPath = join(unitDir, UNIT_NAME)
  mkdirSync(unitDir, { recursive: true })
  const tmp = `${unitPath}.${process.pid}.tmp`
  writeFileSync(tmp, renderUnit(options), { mode: 0o644 })
  renameSync(tmp, unitPath)
  const steps: InstallResult['steps'] = []
  if (unitDir !== SYSTEM_UNIT_DIR) return { unitPath, steps }
  const exec = options.exec ?? execProgram
  for (const args of [['daemon-reload'], ['enable', 'helpline-agent']]) {
    const command = `systemctl ${args.join(' ')}`
    try {
      const r = await exec('systemctl', args, { timeoutMs: 60_000 })
      steps.push({ command, ok: r.code === 0, output: (r.stderr || r.stdout).trim() })
      if (r.code !== 0) break
    } catch (err) {
      steps.push({ command, ok: false, output: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'systemctl is not installed' : String(err) })
      break
    }
  }
  return { unitPath, steps }
}

/** The installed system unit's text, if there is one. */
export function readInstalledUnit(unitDir = SYSTEM_UNIT_DIR): string | undefined {
  const path = join(unitDir, UNIT_NAME)
  if (!existsSync(path)) return undefined
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * The desktop side of coming back after a restart: an XDG autostart entry, so that when the
 * customer logs in again the agent rejoins the saved session and opens the customer window on
 * "You are back in your support session". It runs as the customer (no root needed) and only
 * rejoins when a session is saved (`--if-saved`), so it costs nothing between sessions.
 */
export const DESKTOP_ENTRY_NAME = 'helpline-agent.desktop'

/** Where autostart entries of this user live: $XDG_CONFIG_HOME/autostart, else ~/.config/autostart. */
export function defaultAutostartDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'autostart')
}

/**
 * One argument of a desktop entry's Exec key: quoted when it holds anything but plain characters,
 * with `"`, `` ` ``, `$` and `\` escaped inside the quotes, then every `\` doubled (the value is a
 * string, whose own escapes come first), and `%` doubled (field codes). Control characters are refused.
 */
export function desktopExecWord(word: string): string {
  if (/[\u0000-\u001f\u007f]/.test(word)) throw new Error('A path or argument has a control character')
  const fields = word.replaceAll('%', '%%')
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(fields)) return fields
  const quoted = `"${fields.replace(/(["`$\\])/g, '\\$1')}"`
  return quoted.replaceAll('\\', '\\\\')
}

/** The words of a desktop entry's Exec line, read back (for a check and for tests). */
export function desktopExecWords(exec: string): string[] {
  const value = exec.replace(/\\\\/g, '\\')
  return [...value.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!).replaceAll('%%', '%'))
}

export function renderDesktopEntry(options: UnitOptions): string {
  const args = ['rejoin', '--if-saved', '--ui', 'browser', '--state-dir', resolve(options.stateDir)]
  if (options.lang) args.push('--lang', options.lang)
  if (options.platform) args.push('--platform', options.platform)
  const self = (options.self ?? selfCommand)(args)
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Helpline support',
    'Name[ja]=Helpline サポート',
    'Comment=Rejoins your support session after a restart',
    'Comment[ja]=再起動後にサポートセッションへ戻ります',
    `Exec=${[self.command, ...self.args].map(desktopExecWord).join(' ')}`,
    'Terminal=false',
    'NoDisplay=true',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n')
}

/** Writes the autostart entry (atomically, 0644 in the user's own folder). */
export function installAutostart(options: UnitOptions & { autostartDir?: string | undefined }): string {
  const dir = resolve(options.autostartDir ?? defaultAutostartDir())
  mkdirSync(dir, { recursive: true })
  const path = join(dir, DESKTOP_ENTRY_NAME)
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, renderDesktopEntry(options), { mode: 0o644 })
  renameSync(tmp, path)
  return path
}

/** The state folder an installed autostart entry rejoins from, if there is one. */
export function autostartStateDir(autostartDir = defaultAutostartDir()): string | undefined {
  try {
    const text = readFileSync(join(autostartDir, DESKTOP_ENTRY_NAME), 'utf8')
    const exec = text.split('\n').find((l) => l.startsWith('Exec='))
    if (!exec) return undefined
    const words = desktopExecWords(exec.slice('Exec='.length))
    const at = words.indexOf('--state-dir')
    return at >= 0 ? words[at + 1] : undefined
  } catch {
    return undefined
  }
}

/** The desktop autostart entry, when it rejoins from `stateDir`: what the customer is told about coming back. */
export function desktopAutostart(stateDir: string, autostartDir?: string): { ok: true; detail: string } | undefined {
  const dir = autostartStateDir(autostartDir)
  if (!dir || resolve(dir) !== resolve(stateDir)) return undefined
  return { ok: true, detail: `the desktop autostart entry ${DESKTOP_ENTRY_NAME}, when you log in again` }
}
