import { createHash, timingSafeEqual } from 'node:crypto'
import type { SystemInfoCategory } from '../sysinfo/types.ts'
import { redactEnvironment } from '../sysinfo/environment.ts'
import { CATEGORY_IDS, CATEGORY_TITLES } from '../sysinfo/types.ts'
import type { ExecFn } from './exec.ts'
import type { Credentials, LogonOutcome, PlatformAdapter } from './index.ts'
import { BAD_CREDENTIALS } from './linux-logon.ts'
import { desktopAutostart } from '../service.ts'

/** Programs do not run on the simulated computer; runners that need one get this answer. */
const refuse: ExecFn = async (file) => ({ code: 127, stdout: '', stderr: `${file}: not available on the simulated computer` })

/** The customer's user on the simulated computer. */
export const SIMULATED_USER = 'customer'

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest()

/**
 * Log on: any user name is accepted when the password is HELPLINE_AGENT_SIMULATED_PASSWORD
 * (unset or empty: every password is wrong). Nothing really switches: scripts keep running as
 * the agent's own user, and the system information stays the simulated one.
 */
function simulatedLogon(credentials: Credentials, env: Record<string, string | undefined>): LogonOutcome {
  const expected = env.HELPLINE_AGENT_SIMULATED_PASSWORD
  const { username } = credentials
  // Compared as digests: same length, constant time.
  if (!expected || !username || !timingSafeEqual(digest(credentials.password), digest(expected))) {
    return { ok: false, reason: 'bad_credentials', message: BAD_CREDENTIALS }
  }
  return { ok: true, account: { username, uid: 1000, gid: 1000, home: `/home/${username}`, shell: '/bin/sh' }, runAs: undefined }
}

/**
 * A computer that answers at once with fixed, plausible data: for demos, the fleet benchmark and
 * tests that are about the protocol rather than the OS. Services are unavailable on purpose, to
 * show how a category that cannot be read is reported. Logging on as another user checks a
 * password from the environment and switches nothing; restarting it means the agent exits with
 * EXIT.rebooting (10), and whatever started it (a test, a demo script) starts it again.
 */
export function createSimulatedPlatform(exec: ExecFn = refuse, env: Record<string, string | undefined> = process.env): PlatformAdapter {
  return {
    name: 'simulated',
    exec,
    ownUsername: () => SIMULATED_USER,
    async logon(credentials) {
      return simulatedLogon(credentials, env)
    },
    async ensureAutostart(stateDir) {
      // A simulated desktop comes back through the same autostart entry as a real one.
      const desktop = desktopAutostart(stateDir)
      if (desktop) return desktop
      return { ok: true, detail: 'the simulated computer: the program that started the agent starts it again when it exits with code 10' }
    },
    async reboot() {
      return 'simulated' as const
    },
    async details() {
      return { os: 'linux', osVersion: 'Simulated Linux 1.0', arch: 'x64', hostname: 'simulated-pc', kernel: '6.0.0-sim', username: SIMULATED_USER }
    },
    async collectSystemInfo(): Promise<SystemInfoCategory[]> {
      const env = redactEnvironment({ HOME: '/home/customer', LANG: 'en_US.UTF-8', PATH: '/usr/bin:/bin', API_KEY: 'never-sent' })
      const content: Record<string, Pick<SystemInfoCategory, 'fields' | 'tables'>> = {
        system: {
          fields: [
            { label: 'OS', value: 'Simulated Linux' },
            { label: 'Version', value: '1.0' },
            { label: 'Kernel', value: '6.0.0-sim' },
            { label: 'Hostname', value: 'simulated-pc' },
            { label: 'Uptime', value: '1 h 5 min' },
            { label: 'Time zone', value: 'Etc/UTC' },
          ],
          tables: [],
        },
        hardware: { fields: [{ label: 'CPU', value: 'Simulated CPU' }, { label: 'Memory total', value: '8.0 GiB' }], tables: [] },
        storage: {
          fields: [{ label: 'Disks', value: '1' }],
          tables: [{ title: 'File systems', columns: ['Mount', 'Size', 'Use'], rows: [['/', '100.0 GiB', '42.0 %']] }],
        },
        network: {
          fields: [{ label: 'Default gateway', value: '192.0.2.1' }, { label: 'DNS servers', value: '192.0.2.53' }],
          tables: [{ title: 'Interfaces', columns: ['Interface', 'IPv4', 'MAC'], rows: [['eth0', '192.0.2.10/24', '02:00:00:00:00:01']] }],
        },
        software: { fields: [{ label: 'Installed packages', value: '2' }], tables: [{ title: 'Installed packages', columns: ['Name', 'Version'], rows: [['bash', '5.2'], ['coreutils', '9.1']] }] },
        processes: { fields: [{ label: 'Processes', value: '1' }], tables: [{ title: 'Top by CPU', columns: ['PID', 'Name', 'CPU'], rows: [['1', 'init', '0.1 %']] }] },
        users: { fields: [{ label: 'Logged-in sessions', value: '1' }], tables: [{ title: 'Logged-in users', columns: ['User', 'Terminal'], rows: [['customer', 'tty1']] }] },
        environment: { fields: [{ label: 'Left out', value: String(env.removed) }], tables: [{ title: 'Environment variables', columns: ['Name', 'Value'], rows: env.kept }] },
      }
      return CATEGORY_IDS.map((id) => {
        const c = content[id]
        return c
          ? { id, title: CATEGORY_TITLES[id], available: true, ...c }
          : { id, title: CATEGORY_TITLES[id], available: false, reason: 'The simulated computer has no service manager', fields: [], tables: [] }
      })
    },
  }
}
