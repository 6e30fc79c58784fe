import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { principalOf } from '../../plugins/app/auth.ts'
import { errors, IdParams, paging, ref } from '../../schemas/common.ts'
import {
  BatchParams,
  BatchSessionParams,
  ScriptBatch,
  ScriptBatchCreate,
  ScriptBatchList,
  ScriptBatchListQuery,
  ScriptRun,
  ScriptRunList,
  ScriptRunListQuery,
  ScriptRunOutput,
  ScriptRunOutputQuery,
} from '../../schemas/runs.ts'
import { SessionParams } from '../../schemas/sessions.ts'
import { ADMIN_OVERSIGHT_NOTE } from '../../services/oversight.ts'

/**
 * Running library scripts on sessions: a batch (the scripts in order, exact versions) on one or
 * more sessions, its per-session runs and per-script output. CSRs reach their own batches and the
 * runs of their own sessions; admins all.
 */
export default async function scriptBatchRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { runs, sessions } = app.services
  const tags = ['script runs']
  const user = { auth: 'user' as const }

  app.post(
    '/script-batches',
    {
      config: user,
      bodyLimit: 256 * 1024,
      schema: {
        operationId: 'createScriptBatch',
        tags,
        summary: 'Run scripts, in order, on one or more of your active sessions',
        description:
          'Records the exact current version of each script; each session gets a run_scripts consent request listing every script (name, version, size, sha256 of each file, arguments) and, once approved, runs them one after another. ' +
          '404 SCRIPT_NOT_FOUND: a script you may not run (not published and not yours). 422: NO_SCRIPTS, TOO_MANY_SCRIPTS (more than 50), NO_SESSIONS, TOO_MANY_SESSIONS (more than 100), DUPLICATE_SESSION, ' +
          'SESSION_NOT_ACTIVE (naming each session that is not yours, not active, or whose customer left, in `errors` under sessionIds.N), ARGUMENTS_TOO_LONG (over 8 KiB together), INVALID_ARGUMENT, ' +
          'DIGEST_MISMATCH (a script version whose stored bytes, digest or signature do not match what was uploaded; named in `errors` under scripts.N and recorded in the site audit trail). ' +
          '409 RUN_QUEUE_FULL: a session already has 5 runs waiting or running. Nothing is created unless every session can take the batch. ' +
          'Send an `Idempotency-Key` (any 1–255 visible ASCII characters, e.g. a UUID, new for each batch) to retry safely after a timeout or a lost connection: a request repeated with the same key and the same body answers the batch the first one created, as it is now, with `Idempotent-Replayed: true`, and runs nothing again (keys are per user and kept with the batch); ' +
          'the same key with another body is 422 IDEMPOTENCY_KEY_REUSED. A refused request (404, 409, 422) keeps no key: retrying it is a new attempt. ' +
          ADMIN_OVERSIGHT_NOTE,
        headers: Type.Object({
          'idempotency-key': Type.Optional(
            Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$', description: 'Makes a retry of this request answer the batch it created instead of creating another' }),
          ),
        }),
        body: ScriptBatchCreate,
        response: {
          201: {
            ...ref(ScriptBatch),
            description: 'The batch created; or, for a repeated Idempotency-Key, the batch it created before',
            headers: { 'Idempotent-Replayed': Type.Literal('true', { description: 'Present when this answers an earlier request with the same Idempotency-Key' }) },
          },
          ...errors(404, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const { batch, replayed } = await runs.create(principalOf(request), request.body, request.headers['idempotency-key'])
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply.code(201).send(batch)
    },
  )

  app.get(
    '/script-batches',
    {
      config: user,
      schema: {
        operationId: 'listScriptBatches',
        tags,
        summary: 'Script batches (CSRs: the ones they started; admins: all), newest first by default with order=desc',
        querystring: ScriptBatchListQuery,
        response: { 200: ref(ScriptBatchList) },
      },
    },
    async (request) => runs.list(principalOf(request), { ...paging(request.query, 'createdAt'), status: request.query.status, sessionId: request.query.sessionId }),
  )

  app.get(
    '/script-batches/:id',
    {
      config: user,
      schema: {
        operationId: 'getScriptBatch',
        tags,
        summary: 'A batch with every session’s run and every script’s status (the grid)',
        description: 'Poll it to follow a batch: `status` becomes finished when every run reached a final status.',
        params: BatchParams,
        response: { 200: ref(ScriptBatch), ...errors(404) },
      },
    },
    async (request) => runs.get(principalOf(request), request.params.id),
  )

  app.post(
    '/script-batches/:id/cancel',
    {
      config: user,
      schema: {
        operationId: 'cancelScriptBatch',
        tags,
        summary: 'Cancel every unfinished session run of the batch',
        description: 'Pending consent requests are withdrawn; a running script is killed by its agent; scripts not started become cancelled. 409 BATCH_FINISHED when nothing is left to cancel. ' + ADMIN_OVERSIGHT_NOTE,
        params: BatchParams,
        response: { 200: ref(ScriptBatch), ...errors(404, 409) },
      },
    },
    async (request) => runs.cancel(principalOf(request), request.params.id),
  )

  app.post(
    '/script-batches/:id/sessions/:sessionId/cancel',
    {
      config: user,
      schema: {
        operationId: 'cancelSessionRun',
        tags,
        summary: 'Cancel one session’s run of the batch; the other sessions carry on',
        description: '409 RUN_FINISHED when that session’s run has already finished. ' + ADMIN_OVERSIGHT_NOTE,
        params: BatchSessionParams,
        response: { 200: ref(ScriptBatch), ...errors(404, 409) },
      },
    },
    async (request) => runs.cancelSession(principalOf(request), request.params.id, request.params.sessionId),
  )

  app.get(
    '/script-runs/:id',
    {
      config: user,
      schema: {
        operationId: 'getScriptRun',
        tags,
        summary: 'One script’s run on one session: status, exit code, duration, error',
        params: IdParams,
        response: { 200: ref(ScriptRun), ...errors(404) },
      },
    },
    async (request) => runs.getRun(principalOf(request), request.params.id),
  )

  app.get(
    '/script-runs/:id/output',
    {
      config: user,
      schema: {
        operationId: 'getScriptRunOutput',
        tags,
        summary: 'A run’s output in the order it was written, stdout, stderr and the agent’s notes apart',
        description: 'Page with after=next. While the run is running, ask again with after=the last sequence you have to get what is new.',
        params: IdParams,
        querystring: ScriptRunOutputQuery,
        response: { 200: ref(ScriptRunOutput), ...errors(404) },
      },
    },
    async (request) => runs.output(principalOf(request), request.params.id, request.query.after ?? -1, request.query.limit ?? 1000),
  )

  app.get(
    '/sessions/:id/script-runs',
    {
      config: user,
      schema: {
        operationId: 'listSessionScriptRuns',
        tags,
        summary: 'Every script run of a session, oldest batch first, each batch in its order',
        params: SessionParams,
        querystring: ScriptRunListQuery,
        response: { 200: ref(ScriptRunList), ...errors(404) },
      },
    },
    async (request) => {
      await sessions.findAccessible(principalOf(request), request.params.id)
      return runs.listForSession(request.params.id, paging(request.query, 'position'))
    },
  )
}
