import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite, type PGliteOptions } from '@electric-sql/pglite'

/**
 * How the embedded PostgreSQL (PGlite) is opened so that an idle server stays small: its
 * settings, and a fresh data directory initialised (initdb and the first migrations) in a short
 * child process that has exited before the server opens the directory.
 *
 * Why: PGlite's WebAssembly memory only ever grows. initdb runs a second engine instance inside
 * the opening process and touches ~450 MiB that the process then keeps for its lifetime (a fresh
 * directory left the server at 540–570 MiB RSS, the same directory reopened at ~440 MiB), and
 * PostgreSQL's default 128 MB of shared buffers is allocated and zeroed inside that memory at start.
 */

/**
 * Shared buffers of the embedded engine. PostgreSQL's default (128 MB) is sized for a server
 * sharing a machine's page cache with nothing; PGlite's files are read through Node's fs, so a
 * miss here is a page-cache read, not a disk read. 32 MB holds this application's hot tables at
 * a few hundred sessions and keeps ~110 MiB out of an idle server (bench/idle.bench.ts).
 */
export const PGLITE_SHARED_BUFFERS = '32MB'

/** PGlite's own start parameters plus ours (the `-c` settings of a single-user postgres). */
export function pgliteStartParams(): string[] {
  return [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`]
}

/** True when `dataDir` is an on-disk directory without a database in it yet. */
export function needsInitdb(dataDir: string): boolean {
  return !dataDir.includes('://') && !existsSync(join(dataDir, 'PG_VERSION'))
}

/**
 * The child's program: opens (so initdb runs) and migrates the directory, closes it cleanly and
 * exits. Plain JavaScript importing the packages by URL, so it runs the same under the built
 * server and under tsx in tests.
 */
const INIT_PROGRAM = `
// Ends with the server: when the server's end of our stdin closes (it exited or was killed during
// start-up), so do we, instead of writing on into a directory nobody will open.
process.stdin.on('end', () => process.exit(1)).resume()
const { pglite, drizzle, migrator, dataDir, migrationsFolder, startParams } = JSON.parse(process.env.HELPLINE_PGLITE_INIT)
const { PGlite } = await import(pglite)
const { drizzle: connect } = await import(drizzle)
const { migrate } = await import(migrator)
const client = await PGlite.create(dataDir, { startParams })
try {
  if (migrationsFolder) await migrate(connect(client), { migrationsFolder })
} finally {
  await client.close()
}
process.exit(0)
`

/**
 * Initialises a fresh data directory in a child process (initdb, then the migrations when
 * `migrationsFolder` is given) and waits for it to exit. Its memory leaves with it; the caller
 * then opens the directory as an existing database (no initdb). Throws with the child's error
 * output when it fails.
 */
export async function initPgliteDataDir(dataDir: string, migrationsFolder: string | undefined): Promise<void> {
  mkdirSync(dataDir, { recursive: true })
  const env = {
    ...process.env,
    HELPLINE_PGLITE_INIT: JSON.stringify({
      pglite: import.meta.resolve('@electric-sql/pglite'),
      drizzle: import.meta.resolve('drizzle-orm/pglite'),
      migrator: import.meta.resolve('drizzle-orm/pglite/migrator'),
      dataDir,
      migrationsFolder,
      startParams: pgliteStartParams(),
    }),
  }
  // Plain node, none of our execArgv (a profiler's or tsx's flags are not wanted in the child).
  const child = spawn(process.execPath, ['--input-type=module', '-e', INIT_PROGRAM], { env, stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (text: string) => {
    if (stderr.length < 64 * 1024) stderr += text
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (exitCode, signal) => resolve(signal ? null : exitCode))
  })
  if (code !== 0) throw new Error(`initialising the embedded database in ${dataDir} failed (exit ${code ?? 'by signal'}): ${stderr.trim()}`)
}

/**
 * Makes sure an on-disk data directory holds a database, initialising it in a child process when
 * it does not (see initPgliteDataDir). The server calls it before building the app: on a loaded
 * machine initdb can take longer than a Fastify plugin may (10 s); openDatabase calls it too.
 */
export async function preparePgliteDataDir(dataDir: string, migrationsFolder: string | undefined): Promise<void> {
  if (needsInitdb(dataDir)) await initPgliteDataDir(dataDir, migrationsFolder)
}

/** PGlite's options for this application: our settings, and the given data (bytea codecs etc.). */
export function pgliteOptions(extra: PGliteOptions): PGliteOptions {
  return { startParams: pgliteStartParams(), ...extra }
}
