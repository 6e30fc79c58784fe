import { getServers } from 'node:dns'
import { userInfo } from 'node:os'
import si from 'systeminformation'
import type { ExecFn } from '../platform/exec.ts'
import { redactEnvironment } from './environment.ts'
import { raw, text, typedFields } from './format.ts'
import { CATEGORY_IDS, CATEGORY_TITLES, type CategoryId, type InfoKind, type SystemInfoCategory, type SystemInfoTable } from './types.ts'

/** How long one category may take before it is reported as unreadable. */
const CATEGORY_TIMEOUT_MS = 30_000
const TOP_PROCESSES = 25
const MAX_PACKAGES = 10_000

type Content = Pick<SystemInfoCategory, 'fields' | 'tables'>

/** A reason a category could not be read, thrown by a reader to say so in its own words. */
export class Unavailable extends Error {}

export interface CollectOptions {
  exec: ExecFn
  env: Record<string, string | undefined>
  /** Whose package lists are asked for (default process.platform); tests swap it. */
  platform?: NodeJS.Platform
}

/** The installed programs Windows' Apps & Features lists: the Uninstall keys, 64-bit, 32-bit and the user's. */
export const WINDOWS_PROGRAMS_SCRIPT = [
  '[Console]::OutputEncoding = [Text.Encoding]::UTF8',
  "Get-ItemProperty 'HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*','HKLM:\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*','HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*' -ErrorAction SilentlyContinue |",
  '  Where-Object { $_.DisplayName } |',
  "  ForEach-Object { \"$($_.DisplayName)`t$($_.DisplayVersion)`t$(if ($_.PSPath -like '*WOW6432Node*') { 'x86' } else { '' })\" }",
].join('\n')

interface PackageManager {
  name: string
  file: string
  args: string[]
  parse: (out: string) => string[][]
}

const tabbed = (out: string) => out.split(/\r?\n/).filter(Boolean).map((l) => l.split('\t'))

/** Windows and macOS have one list each; other systems try the Linux package managers in turn. */
function osPackageManagers(platform: NodeJS.Platform): PackageManager[] | undefined {
  if (platform === 'win32') {
    return [{ name: 'Windows installed programs', file: 'powershell.exe', args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', WINDOWS_PROGRAMS_SCRIPT], parse: tabbed }]
  }
  if (platform === 'darwin') {
    return [
      {
        name: 'macOS applications',
        file: '/usr/sbin/system_profiler',
        args: ['SPApplicationsDataType', '-json', '-detailLevel', 'mini'],
        parse: (out) => {
          const apps = (JSON.parse(out) as { SPApplicationsDataType?: { _name?: string; version?: string; arch_kind?: string }[] }).SPApplicationsDataType ?? []
          return apps.map((a) => [a._name ?? '', a.version ?? '', a.arch_kind ?? ''])
        },
      },
    ]
  }
  return undefined
}

async function system(): Promise<Content> {
  const [os, time, sys] = await Promise.all([si.osInfo(), Promise.resolve(si.time()), si.system()])
  return {
    fields: typedFields([
      ['system.os', 'OS', os.distro],
      ['system.version', 'Version', os.release],
      ['system.codename', 'Codename', os.codename],
      ['system.kernel', 'Kernel', os.kernel],
      ['system.architecture', 'Architecture', os.arch],
      ['system.platform', 'Platform', os.platform],
      ['system.hostname', 'Hostname', os.hostname],
      ['system.fqdn', 'FQDN', os.fqdn !== os.hostname ? os.fqdn : ''],
      ['system.uptime', 'Uptime', Number(time.uptime), 'seconds'],
      ['system.timezone', 'Time zone', [time.timezoneName, time.timezone].filter(Boolean).join(' ')],
      ['system.localTime', 'Local time', new Date(), 'date'],
      ['system.manufacturer', 'Manufacturer', sys.manufacturer],
      ['system.model', 'Model', sys.model],
      ['system.virtual', 'Virtual machine', sys.virtual ? true : '', 'boolean'],
    ]),
    tables: [],
  }
}

async function hardware(): Promise<Content> {
  const [cpu, mem, board, bios, graphics] = await Promise.all([si.cpu(), si.mem(), si.baseboard(), si.bios(), si.graphics()])
  const tables: SystemInfoTable[] = [
    {
      title: 'Graphics controllers',
      key: 'hardware.graphics',
      columns: ['Vendor', 'Model', 'Memory', 'Bus'],
      columnKeys: ['vendor', 'model', 'memory', 'bus'],
      columnKinds: ['text', 'text', 'bytes', 'text'],
      rows: graphics.controllers.map((g) => [g.vendor, g.model, g.vram ? raw(g.vram * 1024 * 1024, 'bytes') : '', g.bus].map(text)),
    },
  ]
  if (graphics.displays.length > 0) {
    tables.push({
      title: 'Displays',
      key: 'hardware.displays',
      columns: ['Model', 'Main', 'Resolution', 'Connection'],
      columnKeys: ['model', 'main', 'resolution', 'connection'],
      columnKinds: ['text', 'boolean', 'text', 'text'],
      rows: graphics.displays.map((d) => [d.model, raw(d.main, 'boolean'), d.currentResX ? `${d.currentResX}×${d.currentResY}` : '', d.connection ?? ''].map(text)),
    })
  }
  return {
    fields: typedFields([
      ['hardware.cpu', 'CPU', [cpu.manufacturer, cpu.brand].filter(Boolean).join(' ')],
      ['hardware.cpuLogical', 'Logical CPU cores', cpu.cores, 'number'],
      ['hardware.cpuPhysical', 'Physical CPU cores', cpu.physicalCores, 'number'],
      ['hardware.cpuSpeed', 'CPU speed', cpu.speed ? `${cpu.speed} GHz` : ''],
      ['hardware.memoryTotal', 'Memory total', mem.total, 'bytes'],
      ['hardware.memoryAvailable', 'Memory available', mem.available, 'bytes'],
      ['hardware.memoryUsed', 'Memory used', mem.active, 'bytes'],
      ['hardware.swapTotal', 'Swap total', mem.swaptotal, 'bytes'],
      ['hardware.swapUsed', 'Swap used', mem.swaptotal ? mem.swapused : '', 'bytes'],
      ['hardware.baseboard', 'Baseboard', [board.manufacturer, board.model, board.version].filter(Boolean).join(' ')],
      ['hardware.bios', 'BIOS', [bios.vendor, bios.version, bios.releaseDate].filter(Boolean).join(' ')],
    ]),
    tables,
  }
}

async function storage(): Promise<Content> {
  const [disks, fs, blocks] = await Promise.all([si.diskLayout(), si.fsSize(), si.blockDevices()])
  const diskRows = disks.length
    ? disks.map((d) => [d.device, d.type, d.name || d.vendor, raw(d.size, 'bytes'), d.interfaceType, d.smartStatus])
    : blocks.filter((b) => b.type === 'disk').map((b) => [b.device || b.name, b.physical, b.model, raw(b.size, 'bytes'), b.protocol, ''])
  return {
    fields: typedFields([
      ['storage.diskCount', 'Disks', diskRows.length, 'number'],
      ['storage.fileSystemCount', 'File systems', fs.length, 'number'],
    ]),
    tables: [
      {
        title: 'Disks',
        key: 'storage.disks',
        columns: ['Device', 'Type', 'Model', 'Size', 'Interface', 'SMART'],
        columnKeys: ['device', 'type', 'model', 'size', 'interface', 'smart'],
        columnKinds: ['text', 'text', 'text', 'bytes', 'text', 'text'],
        rows: diskRows.map((r) => r.map(text)),
      },
      {
        title: 'File systems',
        key: 'storage.fileSystems',
        columns: ['Mount', 'File system', 'Type', 'Size', 'Used', 'Available', 'Use'],
        columnKeys: ['mount', 'fileSystem', 'type', 'size', 'used', 'available', 'use'],
        columnKinds: ['text', 'text', 'text', 'bytes', 'bytes', 'bytes', 'percent'],
        rows: fs.map((f) => [f.mount, f.fs, f.type, raw(f.size, 'bytes'), raw(f.used, 'bytes'), raw(f.available, 'bytes'), raw(f.use, 'percent')]),
      },
    ],
  }
}

async function network(): Promise<Content> {
  const [ifaces, gateway, defaultIface] = await Promise.all([si.networkInterfaces(), si.networkGatewayDefault(), si.networkInterfaceDefault()])
  const list = Array.isArray(ifaces) ? ifaces : [ifaces]
  return {
    fields: typedFields([
      ['network.defaultInterface', 'Default interface', defaultIface],
      ['network.defaultGateway', 'Default gateway', gateway],
      ['network.dns', 'DNS servers', getServers().join(', ')],
    ]),
    tables: [
      {
        title: 'Interfaces',
        key: 'network.interfaces',
        columns: ['Interface', 'IPv4', 'IPv6', 'MAC', 'Type', 'State', 'Speed'],
        columnKeys: ['interface', 'ipv4', 'ipv6', 'mac', 'type', 'state', 'speed'],
        // Type and state are tokens (wired, loopback, up, …) a reader words by the column's key.
        rows: list.map((n) =>
          [
            n.ifaceName || n.iface,
            n.ip4 ? `${n.ip4}/${n.ip4subnet}` : '',
            n.ip6,
            n.mac,
            n.internal ? 'loopback' : n.virtual ? 'virtual' : n.type,
            n.operstate,
            n.speed && n.speed > 0 ? `${n.speed} Mbit/s` : '',
          ].map(text),
        ),
      },
    ],
  }
}

/** Installed packages from the system's package manager; the first one present answers. */
export async function software(exec: ExecFn, platform: NodeJS.Platform): Promise<Content> {
  const managers: PackageManager[] = osPackageManagers(platform) ?? [
    {
      name: 'dpkg',
      file: 'dpkg-query',
      args: ['-W', '-f', '${Package}\t${Version}\t${Architecture}\n'],
      parse: (out) => out.split('\n').filter(Boolean).map((l) => l.split('\t')),
    },
    {
      name: 'rpm',
      file: 'rpm',
      args: ['-qa', '--qf', '%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n'],
      parse: (out) => out.split('\n').filter(Boolean).map((l) => l.split('\t')),
    },
    {
      name: 'apk',
      file: 'apk',
      args: ['info', '-v'],
      parse: (out) =>
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const m = /^(.*)-([^-]+-r\d+)$/.exec(l)
            return m ? [m[1]!, m[2]!, ''] : [l, '', '']
          }),
    },
  ]
  const tried: string[] = []
  for (const m of managers) {
    try {
      const result = await exec(m.file, m.args, { timeoutMs: 20_000 })
      if (result.code !== 0) {
        tried.push(`${m.name} failed (${result.stderr.trim().split('\n')[0] || `exit ${result.code}`})`)
        continue
      }
      const rows = m.parse(result.stdout).map((r) => [r[0] ?? '', r[1] ?? '', r[2] ?? ''])
      rows.sort((a, b) => a[0]!.localeCompare(b[0]!))
      const shown = rows.slice(0, MAX_PACKAGES)
      return {
        fields: typedFields([
          ['software.packageManager', 'Package manager', m.name],
          ['software.packageCount', 'Installed packages', rows.length, 'number'],
          ['software.node', 'Node.js (agent)', process.version],
        ]),
        tables: [
          {
            title: 'Installed packages',
            key: 'software.packages',
            columns: ['Name', 'Version', 'Architecture'],
            columnKeys: ['name', 'version', 'architecture'],
            rows: shown,
            ...(shown.length < rows.length ? note('note.first', `first ${shown.length} of ${rows.length}`, shown.length, rows.length) : {}),
          },
        ],
      }
    } catch {
      tried.push(`${m.name} not installed`)
    }
  }
  throw new Unavailable(`No package manager could list the installed software (${tried.join('; ')})`)
}

async function processes(): Promise<Content> {
  const data = await si.processes()
  const row = (p: (typeof data.list)[number]) => [
    String(p.pid),
    p.name,
    raw(p.cpu, 'percent'),
    raw(p.mem, 'percent'),
    raw(p.memRss * 1024, 'bytes'),
    p.user,
    [p.command, p.params].filter(Boolean).join(' '),
  ]
  const columns = ['PID', 'Name', 'CPU', 'Memory', 'Resident', 'User', 'Command']
  const typed = {
    columnKeys: ['pid', 'name', 'cpu', 'memory', 'resident', 'user', 'command'],
    columnKinds: ['text', 'text', 'percent', 'percent', 'bytes', 'text', 'text'] satisfies InfoKind[],
  }
  const byCpu = [...data.list].sort((a, b) => b.cpu - a.cpu).slice(0, TOP_PROCESSES)
  const byMem = [...data.list].sort((a, b) => b.memRss - a.memRss).slice(0, TOP_PROCESSES)
  return {
    fields: typedFields([
      ['processes.count', 'Processes', data.all, 'number'],
      ['processes.running', 'Running', data.running, 'number'],
      ['processes.sleeping', 'Sleeping', data.sleeping, 'number'],
      ['processes.blocked', 'Blocked', data.blocked, 'number'],
    ]),
    tables: [
      { title: 'Top by CPU', key: 'processes.topCpu', columns, ...typed, rows: byCpu.map(row), ...note('note.top', `top ${byCpu.length} of ${data.all}`, byCpu.length, data.all) },
      { title: 'Top by memory', key: 'processes.topMemory', columns, ...typed, rows: byMem.map(row), ...note('note.top', `top ${byMem.length} of ${data.all}`, byMem.length, data.all) },
    ],
  }
}

async function services(): Promise<Content> {
  const list = await si.services('*')
  if (!Array.isArray(list) || list.length === 0) {
    throw new Unavailable('No service manager answered on this computer (systemctl, service or init scripts)')
  }
  const rows = [...list].sort((a, b) => a.name.localeCompare(b.name))
  return {
    fields: typedFields([
      ['services.count', 'Services', rows.length, 'number'],
      ['services.running', 'Running', rows.filter((s) => s.running).length, 'number'],
    ]),
    tables: [
      {
        title: 'Services',
        key: 'services.services',
        columns: ['Name', 'Running', 'Start mode', 'PIDs', 'CPU', 'Memory'],
        columnKeys: ['name', 'running', 'startMode', 'pids', 'cpu', 'memory'],
        columnKinds: ['text', 'boolean', 'text', 'text', 'percent', 'percent'],
        rows: rows.map((s) => [s.name, raw(s.running, 'boolean'), s.startmode, s.pids.join(' '), raw(s.cpu, 'percent'), raw(s.mem, 'percent')]),
      },
    ],
  }
}

async function users(): Promise<Content> {
  const list = await si.users()
  return {
    fields: typedFields([
      ['users.sessions', 'Logged-in sessions', list.length, 'number'],
      ['users.agentRunsAs', 'Agent runs as', safeUser()],
    ]),
    tables: [
      {
        title: 'Logged-in users',
        key: 'users.loggedIn',
        columns: ['User', 'Terminal', 'Since', 'From', 'Command'],
        columnKeys: ['user', 'terminal', 'since', 'from', 'command'],
        rows: list.map((u) => [u.user, u.tty, [u.date, u.time].filter(Boolean).join(' '), u.ip, u.command]),
        ...(list.length === 0 ? note('note.nobody', 'nobody is logged in on a terminal') : {}),
      },
    ],
  }
}

/**
 * The account the agent process runs as, from the operating system ($USER is not set for a
 * service, which would show only the uid).
 */
export function safeUser(info: () => { username: string; uid: number } = userInfo): string {
  try {
    const { username, uid } = info()
    return uid >= 0 ? `${username} (uid ${uid})` : username
  } catch {
    return `(uid ${process.getuid?.() ?? '?'})`
  }
}

function environment(env: Record<string, string | undefined>): Content {
  const { kept, removed } = redactEnvironment(env)
  return {
    fields: typedFields([
      ['environment.count', 'Variables', kept.length, 'number'],
      ['environment.leftOut', 'Left out (names containing KEY, TOKEN, SECRET, PASSWORD or PASS)', removed, 'number'],
    ]),
    tables: [{ title: 'Environment variables', key: 'environment.variables', columns: ['Name', 'Value'], columnKeys: ['name', 'value'], rows: kept }],
  }
}

/** A table's note: English for older readers, and its key and numbers for a reader to word. */
function note(noteKey: string, english: string, ...values: number[]): Pick<SystemInfoTable, 'note' | 'noteKey' | 'noteValues'> {
  return { note: english, noteKey, ...(values.length ? { noteValues: values.map(String) } : {}) }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Unavailable(`Reading ${what} took longer than ${ms / 1000} s`)), ms)
    timer.unref()
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

/**
 * Reads every category in parallel. One that fails or hangs does not take the others with it:
 * it is reported as unavailable, with the reason.
 */
export async function collectSystemInfo(options: CollectOptions): Promise<SystemInfoCategory[]> {
  const readers: Record<CategoryId, () => Promise<Content>> = {
    system,
    hardware,
    storage,
    network,
    software: () => software(options.exec, options.platform ?? process.platform),
    processes,
    services,
    users,
    environment: async () => environment(options.env),
  }
  return Promise.all(
    CATEGORY_IDS.map(async (id): Promise<SystemInfoCategory> => {
      const title = CATEGORY_TITLES[id]
      try {
        const content = await withTimeout(readers[id](), CATEGORY_TIMEOUT_MS, title.toLowerCase())
        return { id, title, available: true, ...content }
      } catch (err) {
        const reason = err instanceof Unavailable ? err.message : `Could not be read: ${err instanceof Error ? err.message : String(err)}`
        return { id, title, available: false, reason, fields: [], tables: [] }
      }
    }),
  )
}
