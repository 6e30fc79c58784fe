import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { principalOf } from '../../plugins/app/auth.ts'
import { ActionAccepted, LogonCredentials, SessionReport } from '../../schemas/access.ts'
import { errors, ref } from '../../schemas/common.ts'
import { ExportLangQuery, exportLang } from '../../lib/export-words.ts'
import { SessionParams } from '../../schemas/sessions.ts'
import { ADMIN_OVERSIGHT_NOTE } from '../../services/oversight.ts'

/**
 * Working on the customer's computer as another user, restarting it, and the session's report.
 * Logon and reboot ask the customer first; credentials travel encrypted for the agent's key.
 */
export default async function accessRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { access, reports } = app.services
  const tags = ['sessions']
  const user = { auth: 'user' as const }

  app.post(
    '/sessions/:id/logon',
    {
      config: user,
      schema: {
        operationId: 'requestLogon',
        tags,
        summary: 'Ask the customer to allow working on their computer as another user',
        description:
          'Creates a logon_as_user consent request and returns the agent’s public key. Once the customer approves, encrypt {"username","password","domain"?} for that key ' +
          '(RSA-OAEP-256; the SDK’s encryptCredentials does it) and post it to …/logon/credentials. 409 AGENT_OFFLINE, CONSENT_PENDING, ALREADY_QUEUED, SESSION_NOT_ACTIVE, SESSION_ENDED. ' + ADMIN_OVERSIGHT_NOTE,
        params: SessionParams,
        response: { 202: ref(ActionAccepted), ...errors(404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await access.requestLogon(principalOf(request), request.params.id)),
  )

  app.post(
    '/sessions/:id/logon/credentials',
    {
      config: user,
      bodyLimit: 8 * 1024,
      schema: {
        operationId: 'submitLogonCredentials',
        tags,
        summary: 'Send the encrypted credentials for an approved logon request (up to 3 attempts per approval)',
        description:
          'The ciphertext is relayed to the agent once and removed when it is handed out, or after 2 minutes if the agent does not pick it up; it is never logged. ' +
          'One approval takes up to 3 sets of credentials, one at a time, within LOGON_APPROVAL_MINUTES (10 by default) of the approval, so a mistyped password does not use up the customer’s consent; a successful logon ends it. ' +
          '409 CONSENT_REQUIRED: the request is not approved, a logon already succeeded with it, its 3 attempts are used or it is too old. 409 ALREADY_QUEUED: the previous attempt is still on its way. 409 AGENT_OFFLINE. The outcome (logged on, or logon failed) arrives as a command result, a chat line and agent.workingAs. ' + ADMIN_OVERSIGHT_NOTE,
        params: SessionParams,
        body: LogonCredentials,
        response: { 202: ref(ActionAccepted), ...errors(404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await access.submitCredentials(principalOf(request), request.params.id, request.body)),
  )

  app.post(
    '/sessions/:id/logoff',
    {
      config: user,
      schema: {
        operationId: 'logoff',
        tags,
        summary: 'Log off the other user: the agent works as the customer’s own user again',
        description: 'No consent needed: it gives the customer their own user back. 409 NOT_LOGGED_ON, ALREADY_QUEUED, AGENT_OFFLINE. ' + ADMIN_OVERSIGHT_NOTE,
        params: SessionParams,
        response: { 202: ref(ActionAccepted), ...errors(404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await access.logoff(principalOf(request), request.params.id)),
  )

  app.post(
    '/sessions/:id/reboot',
    {
      config: user,
      schema: {
        operationId: 'requestReboot',
        tags,
        summary: 'Ask the customer to allow restarting their computer; the agent rejoins by itself',
        description:
          'Creates a reboot consent request and the command that waits for it. After approval the agent saves its state, makes sure it starts again, says it is restarting (agent.rebooting) and restarts the computer; ' +
          'after the restart it rejoins with its rejoin token. The restart is done at most once per approval. 409 AGENT_OFFLINE, ALREADY_QUEUED. ' + ADMIN_OVERSIGHT_NOTE,
        params: SessionParams,
        response: { 202: ref(ActionAccepted), ...errors(404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await access.reboot(principalOf(request), request.params.id)),
  )

  app.get(
    '/sessions/:id/report',
    {
      config: user,
      schema: {
        operationId: 'getSessionReport',
        tags,
        summary: 'Everything that happened in a session: who, when, every event, consent, snapshot, script run with its output, and the chat',
        params: SessionParams,
        response: { 200: ref(SessionReport), ...errors(404) },
      },
    },
    async (request) => reports.report(principalOf(request), request.params.id),
  )

  app.get(
    '/sessions/:id/report/text',
    {
      config: user,
      schema: {
        operationId: 'exportSessionReportText',
        tags,
        summary: 'The session report as a .txt file, in English or Japanese',
        description: 'Headings, statuses, durations, timeline entries and the server’s chat lines are worded in the language of `lang` (en or ja), or else of Accept-Language; any other language reads English. Content-Language says which.',
        params: SessionParams,
        querystring: ExportLangQuery,
        response: {
          200: { description: 'Plain text, UTF-8, served as an attachment named session-report-<number>.txt', content: { 'text/plain': { schema: Type.String() } } },
          ...errors(404),
        },
      },
    },
    async (request, reply) => {
      const lang = exportLang(request.query.lang, request.headers['accept-language'])
      const { filename, text } = await reports.reportText(principalOf(request), request.params.id, lang)
      return reply
        .type('text/plain; charset=utf-8')
        .header('content-language', lang).header('content-disposition', `attachment; filename="${filename}"`).send(text)
    },
  )
}
