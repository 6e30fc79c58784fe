import type { SystemInfoCategory } from '../sysinfo/types.ts'
import type { ExecFn } from './exec.ts'
import type { WindowsRunAs } from './windows-runas.ts'
import { createDarwinPlatform } from './darwin.ts'
import { createLinuxPlatform } from './linux.ts'
import { createSimulatedPlatform } from './simulated.ts'
import { createWindowsPlatform } from './windows.ts'

/** What the server is told about this computer at join. */
export interface PlatformDetails {
  os: string
  osVersion: string
  arch: string
  hostname: string
  kernel?: string
  username?: string
}

/** Who scripts and the system-information reader run as after "log on as another user". */
export interface RunAs {
  uid: number
  gid: number
  username: string
  home: string
  /**
   * Windows only (uid/gid are -1 there): whom Start-Process -Credential starts programs as, with
   * the password held in the agent's memory until log off or the session ends.
   */
  windows?: WindowsRunAs
}

/** A user of this computer, as its user database (getent passwd) describes it. */
export interface UserAccount extends RunAs {
  shell: string
}

/** What the CSR typed, decrypted by the agent. Kept only while it is checked. */
export interface Credentials {
  username: string
  password: string
  /** Windows domain; ignored on Linux. */
  domain?: string | undefined
}

export type LogonFailure = 'bad_credentials' | 'not_permitted' | 'unavailable'

export type LogonOutcome =
  /** `runAs` undefined: the platform checked the password but does not really switch users (simulated). */
  | {
      ok: true
      account: UserAccount
      runAs: RunAs | undefined
      /** 'windows': scripts start through the Secondary Logon service (runAs.windows) and the customer is told what that means on Windows. */
      notice?: 'windows'
    }
  | { ok: false; reason: LogonFailure; message: string }

/** Whether the agent comes back by itself after a restart of the computer, and how (or why not). */
export interface Autostart {
  ok: boolean
  detail: string
}

/**
 * Everything that differs between operating systems (and a simulated computer for tests and
 * demos) lives behind this adapter: describing the computer, reading its system information,
 * starting programs, checking another user's password, coming back after a restart, restarting.
 */
export interface PlatformAdapter {
  readonly name: string
  details(): Promise<PlatformDetails>
  /** As the agent's own user, or as `runAs` (in a child process of that user). */
  collectSystemInfo(runAs?: RunAs): Promise<SystemInfoCategory[]>
  exec: ExecFn
  /** The user the agent itself runs as: the customer's own. */
  ownUsername(): string
  /**
   * Checks the credentials with the OS's own authentication (Linux: PAM through su, never the
   * password database) and finds the account. Never logs or keeps the password.
   */
  logon(credentials: Credentials): Promise<LogonOutcome>
  /** Makes sure the agent starts again after a restart (Linux: the systemd unit of `install-service`), or says why it cannot. */
  ensureAutostart(stateDir: string): Promise<Autostart>
  /**
   * Restarts the computer: 'restarting' once the OS took the request (the agent exits and the OS
   * stops it anyway); 'simulated' when nothing restarts and the agent exits as if it had. Rejects
   * when the computer cannot be restarted.
   */
  reboot(): Promise<'restarting' | 'simulated'>
}

export type PlatformName = 'linux' | 'windows' | 'darwin' | 'simulated'

/**
 * The adapter for `name` when one is asked for (HELPLINE_AGENT_PLATFORM=simulated, or --platform),
 * else the one for the OS this agent runs on (process.platform). Systems without their own
 * adapter (FreeBSD, …) get Linux's: systeminformation reads them too, and a category that
 * cannot be read there says why.
 */
export function selectPlatform(name: string | undefined, osPlatform: NodeJS.Platform = process.platform): PlatformAdapter {
  const chosen = name || osPlatform
  if (chosen === 'simulated') return createSimulatedPlatform()
  if (chosen === 'win32' || chosen === 'windows') return createWindowsPlatform()
  if (chosen === 'darwin' || chosen === 'macos') return createDarwinPlatform()
  return createLinuxPlatform()
}
