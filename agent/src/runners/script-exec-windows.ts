import { join } from 'node:path'
import type { SpawnFn } from '../platform/exec.ts'
import type { ScriptCommand } from '../platform/script-commands.ts'
import { windowsArg } from '../platform/windows.ts'
import { FileTail, fileTailReader, killTreeAs, startAs, type TailReader, type WindowsRunAs } from '../platform/windows-runas.ts'

/**
 * One script run as the user a CSR logged on as on Windows: the interpreter's command line
 * started by the Start-Process -Credential wrapper, its output read from two files as they grow,
 * and a timeout or cancel ending the tree with taskkill /T /F, run as that user.
 */

/** How often the two output files are read while the script runs. */
const TAIL_POLL_MS = 250
/** After the kill, how long the wrapper gets to report before it is ended too. */
const DEFAULT_KILL_WAIT_MS = 5000

export interface WindowsRunAsRun {
  line: ScriptCommand
  cwd: string
  /** A folder of the agent's own for stdout.txt and stderr.txt (not the run folder, which the script sees). */
  outDir: string
  env: NodeJS.ProcessEnv
  as: WindowsRunAs
  spawnFn: SpawnFn
  timeoutMs: number
  signal?: AbortSignal | undefined
  take(stream: 'stdout' | 'stderr', bytes: Uint8Array): void
  info(line: string): void
  /** The agent's note when it stops the script (the same words as for any other run). */
  stopNote(reason: 'timeout' | 'cancel'): string
  onSpawn?: ((pid: number) => void) | undefined
  reader?: TailReader
  pollMs?: number
  /** From the kill to ending the wrapper too; default 5000. */
  killWaitMs?: number | undefined
}

export interface WindowsRunAsOutcome {
  spawnError?: Error & { code?: string }
  stoppedBy?: 'timeout' | 'cancel'
  exit: { exitCode: number | null; signal: string | null }
}

/** The argument line Start-Process passes on: cmd.exe's verbatim line, else each word quoted for the C runtime. */
export function argumentLine(line: ScriptCommand): string {
  return line.verbatim ? line.args.join(' ') : line.args.map(windowsArg).join(' ')
}

export async function runAsWindowsUser(run: WindowsRunAsRun): Promise<WindowsRunAsOutcome> {
  const reader = run.reader ?? fileTailReader
  const stdoutFile = join(run.outDir, 'stdout.txt')
  const stderrFile = join(run.outDir, 'stderr.txt')
  const tails = [new FileTail(stdoutFile, reader, (b) => run.take('stdout', b)), new FileTail(stderrFile, reader, (b) => run.take('stderr', b))]
  const pollAll = async () => {
    for (const tail of tails) await tail.poll()
  }
  const proc = startAs(run.spawnFn, run.as, { file: run.line.command, argumentLine: argumentLine(run.line), cwd: run.cwd, stdoutFile, stderrFile, env: run.env })

  let polling = Promise.resolve()
  const poller = setInterval(() => {
    polling = polling.then(pollAll)
  }, run.pollMs ?? TAIL_POLL_MS)
  let stoppedBy: WindowsRunAsOutcome['stoppedBy']
  const timers: NodeJS.Timeout[] = []
  const stop = (reason: 'timeout' | 'cancel') => {
    if (stoppedBy) return
    stoppedBy = reason
    run.info(run.stopNote(reason))
    void proc.pid.then(async (pid) => {
      if (pid !== undefined) await killTreeAs(run.spawnFn, run.as, pid, run.cwd, run.env)
    })
    // Also when the wrapper never told a pid (hung before Start-Process answered).
    timers.push(setTimeout(() => proc.stop(), run.killWaitMs ?? DEFAULT_KILL_WAIT_MS))
  }
  const onAbort = () => stop('cancel')
  void proc.pid.then((pid) => pid !== undefined && run.onSpawn?.(pid))
  timers.push(setTimeout(() => stop('timeout'), Math.min(run.timeoutMs, 2 ** 31 - 1)))
  if (run.signal?.aborted) stop('cancel')
  else run.signal?.addEventListener('abort', onAbort, { once: true })

  const end = await proc.done
  clearInterval(poller)
  for (const timer of timers) clearTimeout(timer)
  run.signal?.removeEventListener('abort', onAbort)
  await polling
  await pollAll()
  if ('error' in end) {
    if (stoppedBy) return { stoppedBy, exit: { exitCode: null, signal: null } }
    const error: Error & { code?: string } = new Error(end.error)
    if (end.missing) error.code = 'ENOENT'
    return { spawnError: error, exit: { exitCode: null, signal: null } }
  }
  return { exit: { exitCode: end.exitCode, signal: null }, ...(stoppedBy ? { stoppedBy } : {}) }
}
