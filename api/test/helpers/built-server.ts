import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { apiSourceHash } from '../../scripts/source-hash.ts'
import type { T } from './app.ts'
import { createTestDatabase } from './db.ts'

/** The repository root, and the built server `npm run build` makes (api/scripts/build.ts). */
export const root = fileURLToPath(new URL('../../../', import.meta.url))
export const builtServer = join(root, 'api', 'dist', 'server.js')
/** A built one-shot command (`npm run audit:verify`, `npm run keys:rotate` run these with plain node). */
export const builtCommand = (name: 'audit-verify' | 'keys-rotate') => join(root, 'api', 'dist', `${name}.js`)

/** Runs a built one-shot command as `npm run …` does (plain node, from the repository) with only `env`: its exit code and output. */
export function runBuiltCommand(name: 'audit-verify' | 'keys-rotate', env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  assertBuildCurrent()
  return new Promise((resolve) => {
    let output = ''
    const child = spawn(process.execPath, ['--enable-source-maps', builtCommand(name)], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('exit', (code) => resolve({ code, output }))
  })
}

/**
 * Fails with what to do when the built server is missing or older than a source file: these
 * tests run the build, not the sources (`npm test` builds first; a single file run does not).
 */
export function assertBuildCurrent(): void {
  const stamp = join(root, 'api', 'dist', 'source.sha256')
  if (!existsSync(builtServer) || !existsSync(stamp)) throw new Error(`${builtServer} is missing: run npm run build (or npm run build -w api)`)
  if (readFileSync(stamp, 'utf8').trim() !== apiSourceHash(join(root, 'api'))) throw new Error('api/dist/server.js was built from other sources than api/src: run npm run build -w api')
}

export interface Running {
  child: ChildProcess
  output: () => string
  /** The address the server printed once it listens. */
  url: Promise<string>
  /** Milliseconds from spawn to listening. */
  startedIn: Promise<number>
  exited: Promise<number | null>
}

/**
 * Starts the built server with plain node, as `npm start` and a service manager do, from `cwd`
 * (default: a folder that is not the repository, so every installation path must come from the
 * bundle), configured only by `env`.
 */
export function startBuilt(env: Record<string, string>, cwd = '/'): Running {
  let output = ''
  const begun = Date.now()
  const child = spawn(process.execPath, ['--enable-source-maps', builtServer], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const m = /Helpline on (http:\/\/[\d.]+:\d+)/.exec(output)
      if (m) resolve(m[1]!)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${output}`)))
  })
  // With a fixed PORT the log may be quieter than info (LOG_LEVEL=warn): ask /health instead.
  const fixed = env.PORT && env.PORT !== '0' ? `http://${env.HOST ?? '127.0.0.1'}:${env.PORT}` : undefined
  const ready = fixed ? Promise.race([url, waitForHealth(fixed, exited)]) : url
  // Awaited only by tests that expect the server to come up.
  ready.catch(() => {})
  const startedIn = ready.then(() => Date.now() - begun)
  startedIn.catch(() => {})
  return { child, output: () => output, url: ready, startedIn, exited }
}

async function waitForHealth(base: string, exited: Promise<unknown>): Promise<string> {
  let gone = false
  void exited.then(() => (gone = true))
  while (!gone) {
    const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false)
    if (ok) return base
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return new Promise(() => {}) // the exit rejects `url`
}

/** A free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * What a test of built instances behind a balancer starts from: the build checked, a PostgreSQL
 * database and a working folder of its own (`helpline-<name>-…`), both gone when the test ends.
 */
export async function balancerScratch(t: T, name: string) {
  assertBuildCurrent()
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dir = mkdtempSync(join(tmpdir(), `helpline-${name}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return { db, dir }
}

/** The site admin `instancesBehindBalancer` creates. */
export const balancedAdmin = { email: 'ops@example.com', password: 'ops-password-123' }

/**
 * `count` built instances on one PostgreSQL database (`databaseUrl`), as a balancer sees them:
 * each on a free loopback port with its own KEY_DIR and DATA_DIR in `dir`, sharing the database
 * and the two secrets and nothing else. `env` adds to or overrides the common settings.
 */
export async function instancesBehindBalancer(count: number, databaseUrl: string, dir: string, env: Record<string, string> = {}) {
  const signingKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const common = {
    DATABASE_URL: databaseUrl,
    SIGNING_KEY: signingKey,
    SERVER_SECRET: randomBytes(32).toString('hex'),
    ADMIN_EMAIL: balancedAdmin.email,
    ADMIN_PASSWORD: balancedAdmin.password,
    CONSOLE_DIR: '/nonexistent',
    LOG_LEVEL: 'warn',
    ...env,
  }
  const instances: Running[] = []
  for (let i = 0; i < count; i++) {
    instances.push(startBuilt({ ...common, PORT: String(await freePort()), KEY_DIR: join(dir, `keys-${i}`), DATA_DIR: join(dir, `data-${i}`) }))
  }
  return instances
}

/** The process's resident memory in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Math.round(Number(kb) / 1024)
}
