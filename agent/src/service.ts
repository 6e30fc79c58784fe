import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
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
