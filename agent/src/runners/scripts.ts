import { createHash, randomBytes } from 'node:crypto'
import type { RunAs } from '../platform/index.ts'
import type { ApprovedScript, RunJournal, SigningKey } from '../state.ts'
import type { AgentCommand, RunContext, Runner } from './index.ts'
import { OutputStreamer, type OutputAnswer, type OutputChunk } from './output-streamer.ts'
import { executeScript, type ExecuteOptions, type ExecuteResult } from './script-exec.ts'
import { describeProblem, verifyScripts, type VerifyProblem } from './verify.ts'

/** One script of a run_scripts command's payload (see RunScriptsPayload in the API's contract). */
export interface PayloadScript {
  runId: string
  position: number
  name: string
  version: number
  executable: string
  files: { name: string; role: string; size: number; sha256: string }[]
  args: string[]
  timeoutSeconds: number
}
export interface RunScriptsPayload {
  batchId: string
  stopOnFailure: boolean
  scripts: PayloadScript[]
}

export type RunStatus = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'skipped' | 'lost'
export type { OutputChunk }

/** The server calls a runner makes; each retries network failures itself and throws ApiErrors. */
export interface RunsApi {
  download(runId: string, name: string): Promise<Uint8Array>
  /** 'refused' when the server says the run must not start (cancelled, skipped, already started elsewhere). */
  start(runId: string, startId: string): Promise<'started' | 'refused'>
  output(runId: string, chunks: OutputChunk[]): Promise<OutputAnswer>
  /** `gap`: the server holds fewer output chunks than `outputChunks` says (409 OUTPUT_SEQUENCE_GAP). */
  finish(runId: string, body: RunFinishBody): Promise<'done' | { gap: number }>
}
export interface RunFinishBody {
  status: RunStatus
  exitCode?: number | null
  durationMs?: number
  error?: string
  truncated?: boolean
  /** How many output chunks the agent produced; the server refuses the end while it holds fewer. */
  outputChunks?: number
}

export interface ScriptMessages {
  /** `as`: the user it runs as, after "log on as another user". */
  starting(name: string, n: number, count: number, as?: string): string
  finished(name: string, status: string): string
  refused(reason: string): string
  /** The journaled approval does not verify (names, digests, signatures): in the customer's language. */
  unverified(problem: VerifyProblem): string
}

export interface ScriptsRunnerOptions {
  api: RunsApi
  journal: RunJournal
  messages: ScriptMessages
  /** The command's cancel signal (the CSR cancelled, the session ended, the agent stops). */
  signalFor(commandId: string): AbortSignal
  /** How scripts are executed; tests and "run as another user" swap or wrap it. */
  execute?: (options: ExecuteOptions) => Promise<ExecuteResult>
  /** Flush buffered output at least this often (ms). */
  flushMs?: number
  /** The agent's state folder: output the server has not acknowledged spills there past a limit. */
  spillDir: string
  /** Unacknowledged output kept in memory before it spills (tests make it small). */
  outputMemoryBytes?: number
  /** Who each script runs as, asked as it starts (log on / log off change it between commands). */
  runAs?: () => RunAs | undefined
  /** The server's signing key from join (undefined: this agent runs no scripts). */
  signingKey: () => SigningKey | undefined
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Whether the command asks for exactly what the customer approved: same scripts, versions, files, arguments, timeouts, order. */
export function sameAsApproved(approved: readonly ApprovedScript[], scripts: readonly PayloadScript[]): boolean {
  if (approved.length !== scripts.length) return false
  const key = (s: ApprovedScript | PayloadScript) =>
    JSON.stringify([s.position, s.name, s.version, s.args, s.timeoutSeconds, s.files.map((f) => [f.name, f.role, f.size, f.sha256])])
  return approved.every((a, i) => key(a) === key(scripts[i]!))
}

/**
 * run_scripts: checks the command against the customer's approval as this agent journaled it,
 * downloads every file and checks its sha256 before anything runs, then runs the scripts one
 * after another in order. Each start is journaled before it is asked for, so a script runs at
 * most once even if the agent is killed and restarted.
 */
export class ScriptsRunner implements Runner {
  readonly kind = 'run_scripts'
  execute: (options: ExecuteOptions) => Promise<ExecuteResult>

  constructor(private readonly options: ScriptsRunnerOptions) {
    this.execute = options.execute ?? executeScript
  }

  async run(command: AgentCommand, context: RunContext) {
    const { api, journal, messages } = this.options
    const payload = command.payload as unknown as RunScriptsPayload
    const scripts = [...(payload.scripts ?? [])].sort((a, b) => a.position - b.position)
    const signal = this.options.signalFor(command.id)
    const failAll = async (error: string, first?: { runId: string; error: string }, customerLine?: string) => {
      context.say(customerLine ?? messages.refused(first?.error ?? error))
      for (const s of scripts) {
        if (journal.state(s.runId)) continue
        await api.finish(s.runId, { status: 'failed', error: s.runId === first?.runId ? first.error : error }).catch(() => undefined)
      }
    }

    const approved = journal.approval(command.consentId)
    if (!approved) return failAll('This computer has no record of the customer approving these scripts; nothing ran')
    // Checked again as journaled: names the agent may write, digests, signatures (the approval may be from an older agent).
    const problem = verifyScripts(approved, this.options.signingKey())
    if (problem) return failAll(`Nothing ran: ${describeProblem(problem)}`, undefined, messages.unverified(problem))
    if (!sameAsApproved(approved, scripts)) return failAll('The scripts sent differ from what the customer approved; nothing ran')

    // Every file of every script first: nothing runs unless all of them are what was approved.
    const files = new Map<string, { name: string; content: Uint8Array; executable: boolean }[]>()
    for (const s of scripts) {
      if (journal.state(s.runId)) continue
      const list: { name: string; content: Uint8Array; executable: boolean }[] = []
      const expected = approved.find((a) => a.position === s.position)!
      for (const f of expected.files) {
        if (signal.aborted) return
        let content: Uint8Array
        try {
          content = await api.download(s.runId, f.name)
        } catch (err) {
          if (signal.aborted) return
          return failAll(`Nothing ran: "${f.name}" of "${s.name}" could not be downloaded (${err instanceof Error ? err.message : String(err)})`)
        }
        const actual = sha256(content)
        if (actual !== f.sha256 || content.length !== f.size) {
          const error = `"${f.name}" of "${s.name}" v${s.version} has sha256 ${actual}, not the approved ${f.sha256}: refused, nothing ran`
          return failAll(`Nothing ran: a file of "${s.name}" does not match what the customer approved`, { runId: s.runId, error })
        }
        // What runs is the file the customer approved as the executable, not what the command names.
        list.push({ name: f.name, content, executable: f.role === 'executable' })
      }
      files.set(s.runId, list)
    }

    for (const [i, s] of scripts.entries()) {
      if (signal.aborted) return
      if (journal.state(s.runId)) continue
      const startId = randomBytes(12).toString('base64url')
      journal.starting(s.runId, startId)
      if ((await api.start(s.runId, startId)) === 'refused') {
        journal.finished(s.runId)
        continue
      }
      const runAs = this.options.runAs?.()
      context.say(messages.starting(s.name, i + 1, scripts.length, runAs?.username))
      const local = new AbortController()
      const stop = () => local.abort()
      signal.addEventListener('abort', stop, { once: true })
      const streamer = new OutputStreamer({
        post: (chunks) => api.output(s.runId, chunks),
        spillDir: this.options.spillDir,
        flushMs: this.options.flushMs ?? 250,
        ...(this.options.outputMemoryBytes ? { memoryLimitBytes: this.options.outputMemoryBytes } : {}),
        onCancelled: stop,
      })
      let result: ExecuteResult
      try {
        result = await this.execute({
          files: files.get(s.runId)!,
          args: s.args,
          timeoutMs: s.timeoutSeconds * 1000,
          onOutput: (stream, text) => streamer.push(stream, text),
          signal: local.signal,
          onSpawn: (pid) => journal.spawned(s.runId, pid),
          ...(runAs ? { runAs } : {}),
        })
      } finally {
        signal.removeEventListener('abort', stop)
      }
      // The end is told only once the server holds all of the output, with how many chunks there were.
      const output = await streamer.close()
      const end: RunFinishBody = {
        status: result.status,
        exitCode: result.exitCode,
        durationMs: result.durationMs,
        ...(result.error ? { error: result.error.slice(0, 4000) } : {}),
        truncated: result.truncated,
        ...(output.complete ? { outputChunks: output.produced } : {}),
      }
      // A gap here means the server lost acknowledged output (restored from a backup): nothing
      // left to resend, so the end is recorded without the count rather than never.
      if ((await api.finish(s.runId, end)) !== 'done') await api.finish(s.runId, { ...end, outputChunks: undefined })
      journal.finished(s.runId)
      context.say(messages.finished(s.name, result.status))
      if (result.status !== 'succeeded' && payload.stopOnFailure) return
    }
  }
}

/**
 * After a crash: every script the journal says was started and never finished is reported lost
 * (never run again), and what is left of its process group is killed.
 */
export async function recoverInterrupted(journal: RunJournal, api: RunsApi): Promise<number> {
  const interrupted = journal.interrupted()
  for (const run of interrupted) {
    if (run.pid && process.platform !== 'win32') {
      try {
        process.kill(-run.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    await api
      .finish(run.runId, { status: 'lost', error: 'The agent stopped while this script was running (crash or restart); it was not run again' })
      .catch(() => undefined)
    journal.finished(run.runId)
  }
  return interrupted.length
}
