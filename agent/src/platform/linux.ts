import { spawn } from 'node:child_process'
import { hostname, userInfo } from 'node:os'
import { resolve } from 'node:path'
import si from 'systeminformation'
import { desktopAutostart, readInstalledUnit, SYSTEM_UNIT_DIR, UNIT_NAME, unitStateDir } from '../service.ts'
import { collectSystemInfo } from '../sysinfo/collect.ts'
import type { SystemInfoCategory } from '../sysinfo/types.ts'
import { execProgram, type ExecFn, type SpawnFn } from './exec.ts'
import type { Autostart, PlatformAdapter, PlatformDetails, RunAs } from './index.ts'
import { linuxLogon } from './linux-logon.ts'
import { selfCommand } from '../self.ts'

/** Nine categories of at most 30 s each, read in parallel, plus starting the agent again. */
const SYSINFO_CHILD_TIMEOUT_MS = 90_000

export interface LinuxPlatformOptions {
  spawnFn?: SpawnFn
  /** Where the systemd unit of `install-service` is looked for. */
  unitDir?: string
  /** Where the desktop autostart entry is looked for (default: the user's). */
  autostartDir?: string
}

/** The real computer, read through systeminformation and its own programs. */
export function createLinuxPlatform(exec: ExecFn = execProgram, options: LinuxPlatformOptions = {}): PlatformAdapter {
  const spawnFn = options.spawnFn ?? (spawn as SpawnFn)
  const unitDir = options.unitDir ?? SYSTEM_UNIT_DIR
  return {
    name: 'linux',
    exec,
    details: () => describeComputer(process.platform, process.platform),
    collectSystemInfo(runAs?: RunAs) {
      if (runAs) return collectAs(runAs, spawnFn)
      return collectSystemInfo({ exec: this.exec, env: process.env })
    },
    ownUsername: safeUsername,
    logon(credentials) {
      return linuxLogon(credentials, { exec: this.exec, spawnFn })
    },
    async ensureAutostart(stateDir): Promise<Autostart> {
      const unit = readInstalledUnit(unitDir)
      if (!unit) {
        // A customer's own desktop: the autostart entry brings the agent back when they log in again.
        const desktop = desktopAutostart(stateDir, options.autostartDir)
        if (desktop) return desktop
        return { ok: false, detail: `it is not set to start again (“helpline-agent install-service” does that: as root a service, otherwise when you log in)` }
      }
      const dir = unitStateDir(unit)
      if (!dir || resolve(dir) !== resolve(stateDir)) {
        return { ok: false, detail: `the installed service rejoins from ${dir ?? '?'}, not from this agent’s ${resolve(stateDir)}` }
      }
      const enabled = await this.exec('systemctl', ['is-enabled', 'helpline-agent'], { timeoutMs: 15_000 }).catch(() => undefined)
      if (enabled?.stdout.trim() === 'enabled') return { ok: true, detail: `the systemd service ${UNIT_NAME}` }
      const enable = await this.exec('systemctl', ['enable', 'helpline-agent'], { timeoutMs: 30_000 }).catch(() => undefined)
      if (enable?.code === 0) return { ok: true, detail: `the systemd service ${UNIT_NAME}, enabled now` }
      return { ok: false, detail: `the service ${UNIT_NAME} is installed but could not be enabled (${(enable?.stderr || enabled?.stderr || 'systemctl failed').trim()})` }
    },
    async reboot() {
      const problems: string[] = []
      for (const [file, args] of [
        ['systemctl', ['reboot']],
        ['shutdown', ['-r', 'now']],
      ] as const) {
        try {
          const r = await this.exec(file, [...args], { timeoutMs: 60_000 })
          if (r.code === 0) return 'restarting'
          problems.push(`${file} ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`)
        } catch (err) {
          problems.push(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : (err as Error).message}`)
        }
      }
      throw new Error(problems.join('; '))
    },
  }
}

/**
 * Reads the system information in a child process running as that user (this agent started
 * again with its hidden `__sysinfo` command), so it sees what they see.
 */
export function collectAs(runAs: RunAs, spawnFn: SpawnFn): Promise<SystemInfoCategory[]> {
  return new Promise((resolvePromise, reject) => {
    const self = selfCommand(['__sysinfo'])
    const child = spawnFn(self.command, self.args, {
      uid: runAs.uid,
      gid: runAs.gid,
      // The agent's own folder may be closed to that user; / is not.
      cwd: '/',
      env: { ...process.env, HOME: runAs.home, USER: runAs.username, LOGNAME: runAs.username },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')))
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-2000)))
    const timer = setTimeout(() => child.kill('SIGKILL'), SYSINFO_CHILD_TIMEOUT_MS)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new Error(`could not read the system information as ${runAs.username}: ${e.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      try {
        if (code !== 0) throw new Error(signal ? `killed by ${signal}` : `exit code ${code}`)
        resolvePromise(JSON.parse(out) as SystemInfoCategory[])
      } catch (e) {
        const last = err.trim().split('\n').at(-1) ?? ''
        reject(new Error(`could not read the system information as ${runAs.username} (${(e as Error).message}${last ? `: ${last}` : ''})`))
      }
    })
  })
}

/** What the server is told at join, read by systeminformation; `fallback` names the OS when it cannot be read. */
export async function describeComputer(os: string, fallback: string): Promise<PlatformDetails> {
  const info = await si.osInfo().catch(() => undefined)
  return {
    os,
    osVersion: info ? [info.distro, info.release].filter(Boolean).join(' ') : fallback,
    arch: process.arch,
    hostname: info?.hostname || hostname(),
    ...(info?.kernel ? { kernel: info.kernel } : {}),
    username: safeUsername(),
  }
}

export function safeUsername(): string {
  try {
    return userInfo().username
  } catch {
    return ''
  }
}
