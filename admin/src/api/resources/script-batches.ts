import type { operations, Schemas } from '@helpline/sdk'
import type { ListQuery, ResourceAdapter } from '../data-provider.ts'
import { call } from '../errors.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type ScriptBatch = Schemas['ScriptBatch']
export type ScriptBatchSummary = Schemas['ScriptBatchSummary']
export type BatchScript = Schemas['BatchScript']
export type SessionRun = Schemas['SessionRun']
export type ScriptRun = Schemas['ScriptRun']
export type ScriptRunStatus = Schemas['ScriptRunStatus']
export type SessionRunStatus = Schemas['SessionRunStatus']
export type OutputChunk = Schemas['OutputChunk']
export type ScriptRunOutput = Schemas['ScriptRunOutput']
export type ScriptBatchCreate = NonNullable<operations['createScriptBatch']['requestBody']>['content']['application/json']
/** The session stream's `script_output` event: one stored chunk of a run's output. */
export type ScriptOutputEvent = OutputChunk & { runId: string }

type BatchQuery = NonNullable<operations['listScriptBatches']['parameters']['query']>

/** The API's limits on one batch (api/src/schemas/runs.ts): checked here too, to say so before sending. */
export const MAX_BATCH_SCRIPTS = 50
export const MAX_BATCH_SESSIONS = 100
export const MAX_ARGS_BYTES = 8 * 1024

export const batchStatuses = ['running', 'finished'] as const satisfies readonly ScriptBatch['status'][]

/** A whole batch, not the list's summary of one (which has no `sessions` or `scripts`). */
export function isFullBatch(batch: ScriptBatch | ScriptBatchSummary): batch is ScriptBatch {
  return 'sessions' in batch && Array.isArray(batch.sessions) && 'scripts' in batch && Array.isArray(batch.scripts)
}

function isOneOf<T extends string>(choices: readonly T[], value: unknown): value is T {
  return choices.includes(value as T)
}

function toBatchQuery(query: ListQuery): BatchQuery {
  const out: BatchQuery = { page: query.page, perPage: query.perPage, sort: 'createdAt', order: query.order ?? 'desc' }
  if (isOneOf(batchStatuses, query.status)) out.status = query.status
  if (typeof query.sessionId === 'string' && query.sessionId) out.sessionId = query.sessionId
  return out
}

/** Script batches are read here; they are created, and cancelled, through `runActions`. */
export function scriptBatchesAdapter(client: HelplineClient): ResourceAdapter<ScriptBatchSummary | ScriptBatch> {
  return {
    async getList(query) {
      return dataOf(await client.GET('/api/v1/script-batches', { params: { query: toBatchQuery(query) } }))
    },
    async getOne(id) {
      return dataOf(await client.GET('/api/v1/script-batches/{id}', { params: { path: { id: String(id) } } }))
    },
  }
}

/** Output pages are read until `next` is null; a guard against a run that never ends its output. */
const MAX_OUTPUT_PAGES = 100

/** Running scripts and reading their output; exposed on the data provider. */
export function runActions(client: HelplineClient) {
  const outputPage = async (id: string, after: number): Promise<ScriptRunOutput> =>
    dataOf(await client.GET('/api/v1/script-runs/{id}/output', { params: { path: { id }, query: { after, limit: 1000 } } }))

  return {
    /** `idempotencyKey`: the same for a retry of the same request, which then answers the batch it created. */
    createScriptBatch: (body: ScriptBatchCreate, idempotencyKey?: string): Promise<ScriptBatch> =>
      call(async () =>
        dataOf(await client.POST('/api/v1/script-batches', { body, ...(idempotencyKey ? { params: { header: { 'idempotency-key': idempotencyKey } } } : {}) })),
      ),
    cancelScriptBatch: (id: string): Promise<ScriptBatch> =>
      call(async () => dataOf(await client.POST('/api/v1/script-batches/{id}/cancel', { params: { path: { id } } }))),
    cancelSessionRun: (id: string, sessionId: string): Promise<ScriptBatch> =>
      call(async () =>
        dataOf(await client.POST('/api/v1/script-batches/{id}/sessions/{sessionId}/cancel', { params: { path: { id, sessionId } } })),
      ),
    /**
     * A run's output after the chunk `after` (-1: from the start), every page there is so far: the
     * answer's chunks are all of them and `status` is the run's as the last page was read.
     */
    scriptRunOutput: (id: string, after = -1): Promise<ScriptRunOutput> =>
      call(async () => {
        let page = await outputPage(id, after)
        const chunks = [...page.chunks]
        for (let i = 1; i < MAX_OUTPUT_PAGES && page.next !== null; i++) {
          page = await outputPage(id, page.next)
          chunks.push(...page.chunks)
        }
        return { ...page, chunks }
      }),
  }
}
