import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { jsonWithLongStrings, outputBodyValidator, type JsonParser } from '../../../lib/output-body.ts'
import { agentOf } from '../../../plugins/app/auth.ts'
import { AgentItemParams } from '../../../schemas/agent.ts'
import { errors, ref } from '../../../schemas/common.ts'
import { RunFileParams, RunFinish, RunFinished, RunOutputAck, RunOutputPost, RunStart, RunStarted } from '../../../schemas/runs.ts'

/**
 * The agent's side of a run_scripts command: fetch each file of the approved version, start each
 * script (at most once), stream its output in numbered chunks, finish it. An id from another
 * session, or of a command not handed out, is not found.
 */
export default async function agentScriptRunRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { runs } = app.services
  const tags = ['agent']
  const agent = { auth: 'agent' as const }
  // Output posts carry up to 4 MiB of JSON, nearly all of it chunk text: parsed without one big string.
  // (fastify types its default parser as also returning a promise; it is the callback kind)
  const json = app.getDefaultJsonParser('error', 'error') as JsonParser
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonWithLongStrings(json))

  app.get(
    '/agent/script-runs/:id/files/:name',
    {
      config: agent,
      schema: {
        operationId: 'downloadRunFile',
        tags,
        summary: 'One file of the script version a run was approved for',
        description:
          'Only for a run of this session whose consent was approved and that is queued or running (409 RUN_FINISHED afterwards), and only the files the customer was asked about. ' +
          '`ETag` is the sha256 the customer approved; the server hashes the stored bytes again before serving them (422 DIGEST_MISMATCH when they differ, recorded in the site audit trail), ' +
          'and the agent checks the bytes against its own record of the approval anyway.',
        params: RunFileParams,
        response: {
          200: {
            description: 'The file’s bytes',
            headers: { ETag: Type.String({ description: 'The file’s sha256 (hex), quoted' }) },
            content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } },
          },
          ...errors(404, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const file = await runs.agentFile(agentOf(request), request.params.id, request.params.name)
      // The type provider reads the binary schema as a string; fastify sends a Buffer as it is.
      const body = file.content as unknown as string
      return reply.header('etag', `"${file.sha256}"`).header('cache-control', 'no-store').type('application/octet-stream').send(body)
    },
  )

  app.post(
    '/agent/script-runs/:id/start',
    {
      config: agent,
      bodyLimit: 1024,
      schema: {
        operationId: 'startScriptRun',
        tags,
        summary: 'The agent is about to run this script (at most once per approval)',
        description:
          'Journal the startId first, then ask. The same startId again (a retried post) answers duplicate=true; any other start of a started run is 409 RUN_ALREADY_STARTED. ' +
          '409 RUN_CANCELLED / RUN_SKIPPED: do not run it; RUN_OUT_OF_ORDER: an earlier script of the batch has not finished; RUN_FINISHED.',
        params: AgentItemParams,
        body: RunStart,
        response: { 200: ref(RunStarted), ...errors(404, 409) },
      },
    },
    async (request) => runs.start(agentOf(request), request.params.id, request.body.startId),
  )

  app.post(
    '/agent/script-runs/:id/output',
    {
      config: agent,
      // The agent posts at most 256 Ki characters at a time; JSON escapes can make that several
      // times larger in bytes (a control character is six), so leave room.
      bodyLimit: 4 * 1024 * 1024,
      validatorCompiler: outputBodyValidator,
      schema: {
        operationId: 'postScriptRunOutput',
        tags,
        summary: 'Output of a running script, in numbered chunks (each stored once, none missing)',
        description:
          'Sequences run from 0 without gaps. A chunk below the next expected sequence (a retried post) is counted in `duplicates` and changes nothing; ' +
          'a post whose new chunks do not continue exactly from the next expected one is refused with 409 OUTPUT_SEQUENCE_GAP and `errors.expectedSequence` (send again from there). ' +
          'At most 1 MiB of stdout and stderr is kept per run; the rest is dropped. The answer’s status tells the agent when the run was cancelled meanwhile (stop the script; its remaining output is still taken). ' +
          '409 RUN_FINISHED once the agent reported how the run ended (drop what is left); 409 RUN_NOT_STARTED.',
        params: AgentItemParams,
        body: RunOutputPost,
        response: { 200: ref(RunOutputAck), ...errors(404, 409) },
      },
    },
    async (request) => runs.appendOutput(agentOf(request), request.params.id, request.body.chunks),
  )

  app.post(
    '/agent/script-runs/:id/finish',
    {
      config: agent,
      bodyLimit: 16 * 1024,
      schema: {
        operationId: 'finishScriptRun',
        tags,
        summary: 'How a script ended: status, exit code, duration, error',
        description:
          'The same status again answers duplicate=true. A run the CSR cancelled while it ran keeps status cancelled and takes the exit code and duration. ' +
          '`outputChunks` (how many chunks the agent produced): when the server holds fewer, 409 OUTPUT_SEQUENCE_GAP with `errors.expectedSequence`; send them, then finish again. ' +
          'failed and skipped may be reported for a run that never started (a refused file, no interpreter); lost is what an agent reports for a script it was running when it restarted. 409 RUN_FINISHED, RUN_NOT_STARTED.',
        params: AgentItemParams,
        body: RunFinish,
        response: { 200: ref(RunFinished), ...errors(404, 409) },
      },
    },
    async (request) => runs.finish(agentOf(request), request.params.id, request.body),
  )
}
