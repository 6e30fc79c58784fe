import { execFile, type ChildProcess, type SpawnOptions } from 'node:child_process'

export interface ExecResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface ExecOptions {
  timeoutMs?: number
  maxBuffer?: number
  cwd?: string
  env?: NodeJS.ProcessEnv
}

/**
 * How runners start programs. Runners take it as a field, so tests and the simulated platform
 * swap it, and the next issues (scripts, logon as another user) wrap it without touching them.
 */
export type ExecFn = (file: string, args: string[], options?: ExecOptions) => Promise<ExecResult>

/** Runs a program without a shell; a missing program rejects with ENOENT. */
export const execProgram: ExecFn = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: options.maxBuffer ?? 32 * 1024 * 1024, cwd: options.cwd, env: options.env, windowsHide: true },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null
        if (e && (e.code === 'ENOENT' || e.code === 'EACCES')) return reject(e)
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) })
      },
    )
  })

/**
 * The one signature of `child_process.spawn` we use. Narrower than `typeof spawn` (whose
 * overloads only a real ChildProcess satisfies), so `spawn` itself fits and tests can pass a fake.
 */
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess
