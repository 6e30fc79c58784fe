import type { SystemInfoCategory } from '../sysinfo/types.ts'
import type { ExecFn } from './exec.ts'
import { createLinuxPlatform } from './linux.ts'
import { createSimulatedPlatform } from './simulated.ts'

/** What the server is told about this computer at join. */
export interface PlatformDetails {
  os: string
  osVersion: string
  arch: string
  hostname: string
  kernel?: string
  username?: string
}

/**
 * Everything that differs between operating systems (and a simulated computer for tests and
 * demos) lives behind this adapter: describing the computer, reading its system information,
 * starting programs. Scripts, logon as another user and reboot add their operations here.
 */
export interface PlatformAdapter {
  readonly name: string
  details(): Promise<PlatformDetails>
  collectSystemInfo(): Promise<SystemInfoCategory[]>
  exec: ExecFn
}

export type PlatformName = 'linux' | 'simulated'

/** The real adapter for this OS; `simulated` when asked (HELPLINE_AGENT_PLATFORM=simulated). */
export function selectPlatform(name: string | undefined): PlatformAdapter {
  if (name === 'simulated') return createSimulatedPlatform()
  // Only Linux is implemented and tested; systeminformation reads other systems too, so they get
  // the same adapter, and a category that cannot be read there says why.
  return createLinuxPlatform()
}
