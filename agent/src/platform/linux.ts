import { hostname, userInfo } from 'node:os'
import si from 'systeminformation'
import { collectSystemInfo } from '../sysinfo/collect.ts'
import { execProgram, type ExecFn } from './exec.ts'
import type { PlatformAdapter, PlatformDetails } from './index.ts'

/** The real computer, read through systeminformation and its own programs. */
export function createLinuxPlatform(exec: ExecFn = execProgram): PlatformAdapter {
  return {
    name: 'linux',
    exec,
    async details(): Promise<PlatformDetails> {
      const os = await si.osInfo().catch(() => undefined)
      return {
        os: process.platform,
        osVersion: os ? [os.distro, os.release].filter(Boolean).join(' ') : process.platform,
        arch: process.arch,
        hostname: os?.hostname || hostname(),
        ...(os?.kernel ? { kernel: os.kernel } : {}),
        username: safeUsername(),
      }
    },
    collectSystemInfo() {
      return collectSystemInfo({ exec: this.exec, env: process.env })
    },
  }
}

function safeUsername(): string {
  try {
    return userInfo().username
  } catch {
    return ''
  }
}
