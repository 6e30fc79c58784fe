/**
 * The API as it runs in production: the built `api/dist/server.js` started with plain `node` (no
 * npx, no tsx), in its own process, on PGlite (a fresh data directory) or on a PostgreSQL scratch
 * database. Both are removed when it stops, and on ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, onAbort, scratchDatabase, track } from './scratch.ts'

export const root = fileURLToPath(new URL('../..', import.meta.url))
export const ADMIN = { email: 'bench@helpline.local', password: 'bench-password-1' }
const SERVER = join(root, 'api/dist/server.js')

export interface Server {
  url: string
  proc: ChildProcess
  pid: number
  /** The open-file limit the server runs with (soft). */
  openFiles: number
  /** On PostgreSQL: the scratch database's name (its backends carry it in their process title). */
  database?: string
  stop(): Promise<void>
}

export interface ServerOptions {
  /** PostgreSQL base URL (a scratch database is made on it), or undefined for PGlite. */
  postgres?: string
  env?: Record<string, string>
  /** Raise the open-file limit (soft and hard) of the server to this, where the OS allows. */
  openFiles?: number
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[]
}

/**
 * `prlimit` raises a child's open-file limit: up to our hard limit always, past it only with
 * CAP_SYS_RESOURCE (root in a container often lacks it: "Operation not permitted"). Probed once;
 * the child gets the most it can. Returns the command line to spawn.
 */
export function withOpenFiles(want: number | undefined, argv: string[]): string[] {
  if (!want || !existsSync('/usr/bin/prlimit')) return argv
  const n = Math.min(want, maxOpenFiles())
  return ['/usr/bin/prlimit', `--nofile=${n}:${Math.max(n, openFiles().hard)}`, '--', ...argv]
}

let raisable: number | undefined
/** The most open files a child can get: past our hard limit when prlimit may raise it. */
export function maxOpenFiles(): number {
  if (raisable !== undefined) return raisable
  const { hard } = openFiles()
  const probe = 1_048_576
  const ok = existsSync('/usr/bin/prlimit') && spawnSync('/usr/bin/prlimit', [`--nofile=${probe}:${probe}`, '--', 'true'], { stdio: 'ignore' }).status === 0
  raisable = ok ? probe : hard
  return raisable
}

/** This process's open-file limits, from /proc (Linux). */
export function openFiles(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
    const n = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v))
    if (m) return { soft: n(m[1]), hard: n(m[2]) }
  } catch {
    // not Linux
  }
  return { soft: Infinity, hard: Infinity }
}

export async function startServer(options: ServerOptions = {}): Promise<Server> {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run build\` first`)
  const cleanups: (() => Promise<void> | void)[] = []
  let dataDir: string | undefined
  let databaseUrl: string | undefined
  if (options.postgres) {
    const db = await scratchDatabase(options.postgres)
    databaseUrl = db.url
    cleanups.push(db.drop)
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'helpline-bench-'))
    dataDir = dir
    const removeDir = () => rmSync(dir, { recursive: true, force: true })
    const handle = onAbort(removeDir)
    cleanups.push(() => {
      handle.release()
      removeDir()
    })
  }
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // BENCH_SERVER_NODE_ARGS: node flags for every bench's server (e.g. V8's heap sizing), before the bench's own.
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const argv = withOpenFiles(options.openFiles, [process.execPath, ...extra, ...(options.nodeArgs ?? []), SERVER])
  const proc = track(
    spawn(argv[0]!, argv.slice(1), {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: dataDir! }),
        PORT: String(port),
        HOST: '127.0.0.1',
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        LOG_LEVEL: 'error',
        CONSOLE_DIR: '/nonexistent',
        JOIN_MAX_ATTEMPTS_PER_IP: '100000000',
        JOIN_MAX_ATTEMPTS_PER_NUMBER: '100000000',
        LOGIN_MAX_ATTEMPTS_PER_IP: '100000000',
        // glibc's malloc settings for the server (docs/deployment.md § memory allocator); unset by default.
        ...(process.env.BENCH_GLIBC_TUNABLES ? { GLIBC_TUNABLES: process.env.BENCH_GLIBC_TUNABLES } : {}),
        ...options.env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  )
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      // SIGTERM first, so a --cpu-prof server writes its profile; SIGKILL if it lingers.
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    for (const fn of cleanups.reverse()) await fn()
  }
  try {
    for (let i = 0; !(await fetch(`${url}/health`).then((r) => r.ok, () => false)); i++) {
      if (proc.exitCode !== null) throw new Error(`the server exited with ${proc.exitCode}`)
      if (i > 1200) throw new Error('the server did not start within 60 s')
      await new Promise((r) => setTimeout(r, 50))
    }
  } catch (err) {
    await stop()
    throw err
  }
  const database = databaseUrl ? new URL(databaseUrl).pathname.slice(1) : undefined
  return { url, proc, pid: proc.pid!, openFiles: openFiles(proc.pid!).soft, database, stop }
}

/** RSS (bytes) and CPU time (seconds) of a process, from /proc. */
export function usage(pid: number): { rss: number; cpu: number; user: number; system: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  // utime and stime, in clock ticks (100 a second), all threads. On loopback, system time also
  // holds the peer's receive path run inside the sender's write (charged to the sender).
  const user = Number(stat[11]) / 100
  const system = Number(stat[12]) / 100
  return { rss, cpu: user + system, user, system }
}

/**
 * CPU seconds of each of `pid`'s threads, summed by thread name (`main` for the process's own
 * thread; V8's GC helpers are "V8 DefaultWorke", libuv's pool "libuv-worker"), user and system.
 */
export function threadUsage(pid: number): Map<string, { user: number; system: number }> {
  const byName = new Map<string, { user: number; system: number }>()
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return byName
  }
  for (const tid of tids) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    } catch {
      continue // the thread ended meanwhile
    }
    const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    const t = byName.get(name) ?? { user: 0, system: 0 }
    t.user += Number(f[11]) / 100
    t.system += Number(f[12]) / 100
    byName.set(name, t)
  }
  return byName
}

/** The pids of `pid`'s children, recursively (launchers and helpers it started). */
export function descendants(pid: number): number[] {
  let children: number[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
  return children.flatMap((c) => [c, ...descendants(c)])
}

/** Logs in as the bench's site admin; the bearer token. */
export async function adminToken(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) })
  if (!res.ok) throw new Error(`login: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { token: string }).token
}

/** The machine's load average (1 min), to print with each figure: this machine is shared. */
export function load(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!
  } catch {
    return '?'
  }
}
