/**
 * CPU time of the server under test, and of its PostgreSQL backends, read from /proc (Linux) by
 * whichever process times the operations: on a shared machine, the CPU an operation cost hardly
 * moves with the load, its latency does.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** What to watch: the server's pid and, on PostgreSQL, its database's name (its backends carry it in their title). */
export interface Watched {
  pid: number
  database?: string
}

/** CPU milliseconds (user + system, all threads) of the server and of its PostgreSQL backends. */
export interface Cpu {
  server: number
  /** Of `server`, system time: socket work, which on loopback includes the peer's receive path. */
  serverSystem: number
  database: number
}

/** utime and stime of a process in ms, or undefined when it is gone (or not Linux). */
function times(pid: number): { user: number; system: number } | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    // In clock ticks, 100 a second.
    return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 }
  } catch {
    return undefined
  }
}

/**
 * The backends serving `database` on this machine: a backend's title is
 * `postgres: 15/main: <user> <database> <client> <state>`. Scanning /proc takes a few ms.
 */
function backends(database: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, 'latin1')
      if (title.startsWith('postgres: ') && title.split(' ').includes(database)) pids.push(Number(entry))
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids
}

/** A reading: the server's CPU and each backend's. */
export interface Reading {
  server: { user: number; system: number }
  backends: Map<number, number>
}

/**
 * Readings of `watched`. `take(true)` looks for the database's backends afresh (a few ms: do it
 * before or after what is timed); `take()` reads those found last time (microseconds), so a
 * backend opened since is counted only by the next fresh look, from its start.
 */
export function cpuReader(watched: Watched): (rescan?: boolean) => Reading {
  let pids: number[] = []
  return (rescan = false) => {
    if (rescan && watched.database) pids = backends(watched.database)
    const readings = new Map<number, number>()
    for (const pid of pids) {
      const t = times(pid)
      if (t) readings.set(pid, t.user + t.system)
    }
    return { server: times(watched.pid) ?? { user: 0, system: 0 }, backends: readings }
  }
}

/** CPU spent between two readings; a backend only in the later one started in between and counts whole. */
export function spent(before: Reading, after: Reading): Cpu {
  let database = 0
  for (const [pid, ms] of after.backends) database += ms - (before.backends.get(pid) ?? 0)
  const system = after.server.system - before.server.system
  return { server: after.server.user - before.server.user + system, serverSystem: system, database }
}

/** Adds up CPU figures. */
export const total = (list: Cpu[]): Cpu =>
  list.reduce((sum, c) => ({ server: sum.server + c.server, serverSystem: sum.serverSystem + c.serverSystem, database: sum.database + c.database }), {
    server: 0,
    serverSystem: 0,
    database: 0,
  })
