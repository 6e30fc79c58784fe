import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { principalOf } from '../../plugins/app/auth.ts'
import { errors, paging, ref } from '../../schemas/common.ts'
import {
  AgentAdmission,
  ChatListQuery,
  ChatMessage,
  ChatMessageList,
  ChatPost,
  CommandList,
  CommandListQuery,
  Consent,
  ConsentCreate,
  ConsentList,
  ConsentListQuery,
  Session,
  SessionCreate,
  SessionEventList,
  SessionEventListQuery,
  SessionItemParams,
  SessionList,
  SessionListQuery,
  SessionParams,
  Snapshot,
  SnapshotList,
  SnapshotListQuery,
  StreamQuery,
} from '../../schemas/sessions.ts'
import { ActionAccepted } from '../../schemas/access.ts'
import { ExportLangQuery, exportLang } from '../../lib/export-words.ts'
import { openSessionStream, trackStreams } from './session-stream.ts'
import { ADMIN_OVERSIGHT_NOTE } from '../../services/oversight.ts'

/** Support sessions as the console and integrators see them. CSRs reach their own, admins all. */
export default async function sessionRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { sessions, consents, systemInfo, chat, commands } = app.services
  const tags = ['sessions']
  const user = { auth: 'user' as const }
  trackStreams(app)

  app.post(
    '/sessions',
    {
      config: user,
      schema: {
        operationId: 'createSession',
        tags,
        summary: 'Open a support session and get the number to give the customer',
        description:
          'The number is 9 random digits, unique among open sessions. A session nobody joins expires (24 h by default). ' +
          '422 CONTROL_CHARACTERS: the customer name or the description holds control or bidi override characters (the description may have line breaks and tabs).',
        body: SessionCreate,
        response: { 201: ref(Session), ...errors(422) },
      },
    },
    async (request, reply) => reply.code(201).send(await sessions.create(principalOf(request), request.body)),
  )

  app.get(
    '/sessions',
    {
      config: user,
      schema: {
        operationId: 'listSessions',
        tags,
        summary: 'List support sessions (CSRs: their own; admins: all)',
        querystring: SessionListQuery,
        response: { 200: ref(SessionList) },
      },
    },
    async (request) => {
      const q = request.query
      return sessions.list(principalOf(request), { ...paging(q, 'createdAt'), status: q.status, q: q.q, csrId: q.csrId, mine: q.mine, from: q.from, to: q.to })
    },
  )

  app.get(
    '/sessions/:id',
    {
      config: user,
      schema: {
        operationId: 'getSession',
        tags,
        summary: 'A support session with its agent’s status',
        params: SessionParams,
        response: { 200: ref(Session), ...errors(404) },
      },
    },
    async (request) => sessions.get(principalOf(request), request.params.id),
  )

  app.post(
    '/sessions/:id/end',
    {
      config: user,
      schema: {
        operationId: 'endSession',
        tags,
        summary: 'End a session: its number stops working, open requests are cancelled, the agent is told',
        description: ADMIN_OVERSIGHT_NOTE,
        params: SessionParams,
        response: { 200: ref(Session), ...errors(404, 409) },
      },
    },
    async (request) => sessions.end(principalOf(request), request.params.id),
  )

  app.post(
    '/sessions/:id/admit-agent',
    {
      config: user,
      schema: {
        operationId: 'admitAgent',
        tags,
        summary: 'Let one new computer join this session with its number (it replaces the current agent)',
        description:
          'A session that already had a computer refuses a join with the number alone (409 SESSION_IN_USE to the agent; the attempt shows as the session’s joinAttempt and a chat line). ' +
          'This opens the door for one join until `until` (AGENT_ADMISSION_MINUTES, 5 by default); that join replaces the current agent, whose tokens stop working, and cancels what was asked of or queued for the old computer. ' +
          'Audited (agent.admission_granted). The session’s CSR or a site admin (the CSR sees a chat line naming the admin). 409 SESSION_ENDED; 409 SESSION_NOT_ACTIVE: no computer has joined yet, so none needs letting in.',
        params: SessionParams,
        response: { 202: ref(AgentAdmission), ...errors(404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await sessions.admitAgent(principalOf(request), request.params.id)),
  )

  app.get(
    '/sessions/:id/events',
    {
      config: user,
      schema: {
        operationId: 'listSessionEvents',
        tags,
        summary: 'The session’s audit trail: every state change, who and when (append-only)',
        params: SessionParams,
        querystring: SessionEventListQuery,
        response: { 200: ref(SessionEventList), ...errors(404) },
      },
    },
    async (request) => sessions.listEvents(principalOf(request), request.params.id, paging(request.query, 'id')),
  )

  app.get(
    '/sessions/:id/stream',
    {
      config: user,
      schema: {
        operationId: 'streamSession',
        tags,
        summary: 'Live updates of one session (server-sent events)',
        description: [
          'A `text/event-stream` that stays open. Each message has `id:` (the session’s change number), `event:` and JSON `data:`:',
          '`session` (Session), `agent` (AgentInfo), `chat` (ChatMessage), `consent` (Consent), `command` (Command), `snapshot` (SnapshotSummary), `script_run` (ScriptRun), `script_output` (one OutputChunk with its runId).',
          'First it replays changes after `after` (or the `Last-Event-ID` header; from the start when neither is given), then sends each change as it happens.',
          'Comment lines (`: keep-alive`) are sent every 15 s. Authenticate with the Authorization header (use a fetch-based EventSource).',
          'The stream follows its credential: within a second of the token being revoked (sign-out, revoke, the user disabled or their password reset) or expiring, a last `error` event `{ code, message }` (the 401 code the next request would get: INVALID_TOKEN or ACCOUNT_DISABLED) is sent and the stream ends.',
          'A user holds at most 20 open streams per API instance; one more is 429 TOO_MANY_STREAMS.',
        ].join(' '),
        params: SessionParams,
        querystring: StreamQuery,
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,10}$' })) }),
        response: {
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          ...errors(404, 429),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request)
      const session = await app.services.stream.open(principal, request.params.id)
      const after = request.query.after ?? Number(request.headers['last-event-id'] ?? 0)
      return openSessionStream(app, request, reply, principal, session.id, after)
    },
  )

  // ── Consent ───────────────────────────────────────────────────────────────────────────────

  app.get(
    '/sessions/:id/consents',
    {
      config: user,
      schema: {
        operationId: 'listConsents',
        tags,
        summary: 'Consent requests of a session and their answers',
        params: SessionParams,
        querystring: ConsentListQuery,
        response: { 200: ref(ConsentList), ...errors(404) },
      },
    },
    async (request) => {
      const q = request.query
      return consents.list(principalOf(request), request.params.id, { ...paging(q, 'createdAt'), status: q.status, kind: q.kind })
    },
  )

  app.post(
    '/sessions/:id/consents',
    {
      config: user,
      schema: {
        operationId: 'createConsent',
        tags,
        summary: 'Ask the customer for consent',
        description:
          'Only view_system_info can be asked directly (run_scripts, logon_as_user and reboot are asked by their features: 422 CONSENT_KIND_RESERVED). ' +
          'Unanswered requests expire (120 s by default). 409: the session is not active (SESSION_NOT_ACTIVE, SESSION_ENDED), a request is pending (CONSENT_PENDING) or it was already granted (CONSENT_ALREADY_GRANTED).',
        params: SessionParams,
        body: ConsentCreate,
        response: { 201: ref(Consent), ...errors(404, 409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await consents.request(principalOf(request), request.params.id, request.body.kind)),
  )

  app.post(
    '/sessions/:id/consents/:itemId/cancel',
    {
      config: user,
      schema: {
        operationId: 'cancelConsent',
        tags,
        summary: 'Withdraw a pending consent request (what waited on it is cancelled)',
        description: ADMIN_OVERSIGHT_NOTE,
        params: SessionItemParams,
        response: { 200: ref(Consent), ...errors(404, 409) },
      },
    },
    async (request) => consents.cancel(principalOf(request), request.params.id, request.params.itemId),
  )

  // ── Commands ──────────────────────────────────────────────────────────────────────────────

  app.get(
    '/sessions/:id/commands',
    {
      config: user,
      schema: {
        operationId: 'listCommands',
        tags,
        summary: 'Commands queued for the session’s agent and their status',
        params: SessionParams,
        querystring: CommandListQuery,
        response: { 200: ref(CommandList), ...errors(404) },
      },
    },
    async (request) => {
      await sessions.findAccessible(principalOf(request), request.params.id)
      return commands.list(request.params.id, { ...paging(request.query, 'createdAt'), status: request.query.status })
    },
  )

  // ── System information ────────────────────────────────────────────────────────────────────

  app.post(
    '/sessions/:id/system-info/refresh',
    {
      config: user,
      schema: {
        operationId: 'requestSystemInfo',
        tags,
        summary: 'Collect the customer’s system information now (asks for consent the first time)',
        description:
          'Queues a collection. Without an approved view_system_info consent the customer is asked first and the collection waits; once approved, the consent lasts for the session (until another computer is let in) and Refresh does not ask again. ' +
          '409: a collection is already waiting or running (ALREADY_QUEUED), or the session is not active. ' + ADMIN_OVERSIGHT_NOTE,
        params: SessionParams,
        response: { 202: ref(ActionAccepted), ...errors(404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await systemInfo.requestRefresh(principalOf(request), request.params.id)),
  )

  app.get(
    '/sessions/:id/snapshots',
    {
      config: user,
      schema: {
        operationId: 'listSnapshots',
        tags,
        summary: 'System-information snapshots of a session (newest first by default; order=asc for oldest first)',
        params: SessionParams,
        querystring: SnapshotListQuery,
        response: { 200: ref(SnapshotList), ...errors(404) },
      },
    },
    async (request) => systemInfo.list(principalOf(request), request.params.id, paging(request.query, 'collectedAt', 'desc')),
  )

  app.get(
    '/sessions/:id/snapshots/:itemId',
    {
      config: user,
      schema: {
        operationId: 'getSnapshot',
        tags,
        summary: 'One snapshot with every category',
        params: SessionItemParams,
        response: { 200: ref(Snapshot), ...errors(404) },
      },
    },
    async (request) => systemInfo.get(principalOf(request), request.params.id, request.params.itemId),
  )

  app.get(
    '/sessions/:id/snapshots/:itemId/text',
    {
      config: user,
      schema: {
        operationId: 'exportSnapshotText',
        tags,
        summary: 'One snapshot as a readable .txt file with every category, in English or Japanese',
        description: 'The headings are worded in the language of `lang` (en or ja), or else of Accept-Language; any other language reads English. Content-Language says which.',
        params: SessionItemParams,
        querystring: ExportLangQuery,
        response: {
          200: {
            description: 'Plain text, UTF-8, served as an attachment named system-info-<number>-<time>.txt',
            content: { 'text/plain': { schema: Type.String() } },
          },
          ...errors(404),
        },
      },
    },
    async (request, reply) => {
      const lang = exportLang(request.query.lang, request.headers['accept-language'])
      const { filename, text } = await systemInfo.exportText(principalOf(request), request.params.id, request.params.itemId, lang)
      return reply
        .type('text/plain; charset=utf-8')
        .header('content-language', lang).header('content-disposition', `attachment; filename="${filename}"`).send(text)
    },
  )

  // ── Chat ──────────────────────────────────────────────────────────────────────────────────

  app.get(
    '/sessions/:id/chat',
    {
      config: user,
      schema: {
        operationId: 'listChatMessages',
        tags,
        summary: 'Chat messages and system lines, in order',
        params: SessionParams,
        querystring: ChatListQuery,
        response: { 200: ref(ChatMessageList), ...errors(404) },
      },
    },
    async (request) => chat.list(principalOf(request), request.params.id, request.query.after ?? 0, request.query.limit ?? 200),
  )

  app.post(
    '/sessions/:id/chat',
    {
      config: user,
      schema: {
        operationId: 'postChatMessage',
        tags,
        summary: 'Send a chat message to the customer',
        description: ADMIN_OVERSIGHT_NOTE,
        params: SessionParams,
        body: ChatPost,
        response: { 201: ref(ChatMessage), ...errors(404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await chat.postAsCsr(principalOf(request), request.params.id, request.body.body)),
  )
}
