import type { HelplineClient, Schemas } from './index.js'
import type { operations } from './schema.js'

export type ScriptBatch = Schemas['ScriptBatch']
export type ScriptRun = Schemas['ScriptRun']
export type OutputChunk = Schemas['OutputChunk']
export type RunScriptsInput = operations['createScriptBatch']['requestBody']['content']['application/json']

export interface RunScriptsOptions {
  /**
   * Sent as the Idempotency-Key header: calling again with the same key and input (after a
   * timeout, a lost connection, a 503) answers the batch the first call created instead of running
   * the scripts a second time. Use a new one (e.g. `crypto.randomUUID()`) for each batch you mean.
   * The same key with other input is refused with 422 IDEMPOTENCY_KEY_REUSED.
   */
  idempotencyKey?: string
}

/**
 * Starts a batch: the scripts run in order on each session, once that session's customer
 * approves. Throws ApiError on refusal, e.g. 422 NO_SCRIPTS or SESSION_NOT_ACTIVE, 409 RUN_QUEUE_FULL.
 */
export async function runScripts(client: HelplineClient, input: RunScriptsInput, options: RunScriptsOptions = {}): Promise<ScriptBatch> {
  const header = options.idempotencyKey === undefined ? undefined : { 'idempotency-key': options.idempotencyKey }
  const { data } = await client.POST('/api/v1/script-batches', { body: input, ...(header ? { params: { header } } : {}) })
  return data!
}

export interface WaitForBatchOptions {
  /** Time between two polls (ms); 1000 by default. */
  intervalMs?: number
  /** Give up after this long (ms); no limit by default, as a customer may take a while to approve. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Called with the first answer and again whenever the batch's status or counts change. */
  onProgress?: (batch: ScriptBatch) => void
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', done)
      resolve()
    }, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

function progressKey(batch: ScriptBatch): string {
  const counts = Object.keys(batch.counts)
    .sort()
    .map((status) => `${status}=${batch.counts[status]}`)
  return `${batch.status} ${counts.join(',')}`
}

function waitError(name: 'TimeoutError' | 'AbortError', message: string, cause?: unknown): Error {
  const error = new Error(message, cause === undefined ? undefined : { cause })
  error.name = name
  return error
}

/**
 * Polls GET /api/v1/script-batches/{id} until the batch is finished (every run reached a final
 * status) and returns it. Rejects with an Error named TimeoutError after `timeoutMs`, AbortError
 * when `signal` aborts (the batch carries on either way; cancel it with cancelScriptBatch), or the
 * ApiError of a failed poll.
 */
export async function waitForBatch(client: HelplineClient, batchId: string, options: WaitForBatchOptions = {}): Promise<ScriptBatch> {
  const { intervalMs = 1000, timeoutMs, signal, onProgress } = options
  // One signal stops both the pause and a poll in flight, whether the caller aborted or time ran out.
  const stop = new AbortController()
  const abort = () => stop.abort()
  signal?.addEventListener('abort', abort, { once: true })
  const timer = timeoutMs === undefined ? undefined : setTimeout(abort, timeoutMs)
  let last: ScriptBatch | undefined
  let seen = ''
  try {
    if (signal?.aborted) abort()
    for (;;) {
      stop.signal.throwIfAborted()
      const { data: batch } = await client.GET('/api/v1/script-batches/{id}', { params: { path: { id: batchId } }, signal: stop.signal })
      last = batch!
      const key = progressKey(last)
      if (key !== seen) {
        seen = key
        onProgress?.(last)
      }
      if (last.status === 'finished') return last
      await pause(intervalMs, stop.signal)
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err
    const state = last ? `; last seen ${progressKey(last)}` : ''
    if (signal?.aborted) throw waitError('AbortError', `Stopped waiting for script batch ${batchId}${state}`, signal.reason)
    throw waitError('TimeoutError', `Script batch ${batchId} did not finish within ${timeoutMs} ms${state}`)
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', abort)
  }
}

/** Every output chunk of a script run so far, in the order it was written (following `next`). */
export async function readRunOutput(client: HelplineClient, runId: string): Promise<OutputChunk[]> {
  const chunks: OutputChunk[] = []
  let after = -1
  for (;;) {
    const { data } = await client.GET('/api/v1/script-runs/{id}/output', {
      params: { path: { id: runId }, query: { after, limit: 1000 } },
    })
    chunks.push(...data!.chunks)
    if (data!.next === null) return chunks
    after = data!.next
  }
}

const prefixes: Record<OutputChunk['stream'], string> = { stdout: '', stderr: '[stderr] ', info: '[helpline] ' }

/**
 * A run's output as text: stdout as written, each stderr line prefixed "[stderr] " and each
 * line from the agent itself (output cut, timeout, missing interpreter) "[helpline] ". Chunks
 * split lines anywhere, so a prefix goes only where a line starts, and a line cut short by the
 * other stream ends there.
 */
export function formatOutput(chunks: readonly OutputChunk[]): string {
  let text = ''
  let stream: OutputChunk['stream'] | undefined
  for (const chunk of chunks) {
    for (const piece of chunk.data.split(/(?<=\n)/)) {
      if (piece === '') continue
      if (stream !== chunk.stream && text !== '' && !text.endsWith('\n')) text += '\n'
      if (text === '' || text.endsWith('\n')) text += prefixes[chunk.stream]
      text += piece
      stream = chunk.stream
    }
  }
  return text
}
