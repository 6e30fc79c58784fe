import { type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import postgres from 'postgres'
import { viaSocket } from '../../api/src/db/client.ts'

/** A free loopback port for a server the benchmark starts. */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

// ── Clean-up whatever happens: a bench that throws, ctrl-C, SIGTERM ────────────────────────────

const cleanups = new Set<() => Promise<void> | void>()
/** Clean-ups registered after the signal, running now: the exit waits for them. */
const late = new Set<Promise<unknown>>()
let signalled = false

/**
 * Runs `fn` at exit through a signal (SIGINT, SIGTERM, SIGHUP) unless `release`d first; at once
 * when the signal has come already (a bench still starting things while the others clean up).
 */
export function onAbort(fn: () => Promise<void> | void): { release(): void } {
  if (signalled) {
    const done = Promise.resolve().then(fn).catch(() => undefined)
    late.add(done)
    void done.then(() => late.delete(done))
    return { release: () => undefined }
  }
  installHandlers()
  cleanups.add(fn)
  return { release: () => void cleanups.delete(fn) }
}

/** Whether a signal has come: benches start nothing new then. */
export const aborted = () => signalled

let installed = false
function installHandlers() {
  if (installed) return
  installed = true
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (signalled) return
      signalled = true
      process.stderr.write(`\n${signal}: stopping the bench's processes and dropping its scratch databases\n`)
      const all = [...cleanups].reverse()
      cleanups.clear()
      void (async () => {
        for (const fn of all) await Promise.resolve().then(fn).catch(() => undefined)
        // Benches still starting things (a database being created) register and clean up now.
        await new Promise((r) => setTimeout(r, 500))
        while (late.size > 0) await Promise.all(late)
        process.exit(130)
      })()
    })
  }
}

/** Kills `child` (and keeps it from outliving the bench on a signal). */
export function track(child: ChildProcess): ChildProcess {
  const handle = onAbort(() => void child.kill('SIGKILL'))
  child.once('exit', () => handle.release())
  return child
}

// ── Scratch databases ──────────────────────────────────────────────────────────────────────────

const PREFIX = 'helpline_bench_'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Drops scratch databases left by benches that are no longer running (killed with SIGKILL, or
 * from before this clean-up existed): their names carry the bench's pid.
 */
async function sweep(admin: postgres.Sql): Promise<string[]> {
  const rows = await admin<{ datname: string }[]>`select datname from pg_database where datname like ${`${PREFIX}%`}`
  const dropped: string[] = []
  for (const { datname } of rows) {
    const pid = Number(/^helpline_bench_(\d+)_/.exec(datname)?.[1])
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue
    await admin.unsafe(`drop database if exists "${datname}" with (force)`).then(() => dropped.push(datname), () => undefined)
  }
  return dropped
}

/**
 * A PostgreSQL database of the benchmark's own on `baseUrl`'s server; `drop()` removes it, and so
 * does a signal before that. Creating one first drops those left by benches that died.
 */
export async function scratchDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const dbName = `${PREFIX}${process.pid}_${randomBytes(3).toString('hex')}`
  const reach = viaSocket(baseUrl)
  const admin = postgres(reach.url, { max: 1, onnotice: () => {}, ...reach.options })
  const swept = await sweep(admin)
  if (signalled) {
    await admin.end({ timeout: 1 })
    throw new Error('stopped by a signal')
  }
  if (swept.length > 0) console.log(`  (dropped ${swept.length} scratch database(s) left by earlier runs: ${swept.join(', ')})`)
  const url = new URL(baseUrl)
  url.pathname = `/${dbName}`
  let dropped = false
  const drop = async () => {
    if (dropped) return
    dropped = true
    handle.release()
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch((err: unknown) => {
      console.error(`could not drop the scratch database ${dbName}: ${String(err)}`)
    })
    await admin.end({ timeout: 2 })
  }
  // Registered before it exists: a signal while it is being created drops it after.
  const handle = onAbort(drop)
  await admin.unsafe(`create database ${dbName}`)
  return { url: url.toString(), drop }
}

/** Whether a PostgreSQL server answers at `url`. */
export async function postgresReachable(url: string): Promise<boolean> {
  const reach = viaSocket(url)
  const probe = postgres(reach.url, { max: 1, connect_timeout: 2, onnotice: () => {}, ...reach.options })
  try {
    await probe`select 1`
    return true
  } catch {
    return false
  } finally {
    await probe.end({ timeout: 1 })
  }
}

export const postgresUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
