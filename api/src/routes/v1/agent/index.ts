import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { tooManyRequests } from '../../../errors.ts'
import { agentOf } from '../../../plugins/app/auth.ts'
import {
  AgentChatPost,
  AgentFeed,
  AgentItemParams,
  AgentJoined,
  CommandReport,
  ConsentAnswer,
  JoinRequest,
  PollQuery,
  RejoinRequest,
  ReportAck,
  SnapshotAck,
} from '../../../schemas/agent.ts'
import { errors, ref } from '../../../schemas/common.ts'
import { ChatMessage, SystemInfoUpload } from '../../../schemas/sessions.ts'
import { HoldStop } from '../../../services/feed.ts'
import { normalizeNumber } from '../../../services/sessions.service.ts'
import { SNAPSHOT_MAX_BYTES } from '../../../services/system-info.service.ts'

/**
 * The agent's own route group (/api/v1/agent). Join and rejoin are public and rate-limited;
 * everything else takes the agent token, which reaches only its own session: an id from another
 * session is simply not found.
 */
export default async function agentRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { agents, consents, commands, systemInfo, chat } = app.services
  const tags = ['agent']
  const agent = { auth: 'agent' as const }
  const c = app.config

  // Held polls end when the server closes instead of holding the close up for the whole hold (50 s by default).
  const held = new Set<() => void>()
  app.addHook('preClose', async () => {
    for (const stop of [...held]) stop()
    await agents.flushSeen()
  })

  const window = c.JOIN_WINDOW_SECONDS * 1000
  const perAddress = app.createRateLimit({ max: c.JOIN_MAX_ATTEMPTS_PER_IP, timeWindow: window, keyGenerator: (r: FastifyRequest) => `join-ip:${r.ip}` })
  const perNumber = app.createRateLimit({
    max: c.JOIN_MAX_ATTEMPTS_PER_NUMBER,
    timeWindow: window,
    keyGenerator: (r: FastifyRequest) => `join-number:${normalizeNumber(String((r.body as { number?: unknown })?.number ?? ''))}`,
  })
  // Guessing numbers from one address, and guessing one number from many, both run out.
  const limitJoin = async (request: FastifyRequest) => {
    for (const limit of [perAddress, perNumber]) {
      const result = await limit(request)
      if (!result.isAllowed && result.isExceeded) {
        throw tooManyRequests(`Too many attempts to join; try again in ${result.ttlInSeconds} s`, result.ttlInSeconds)
      }
    }
  }
  const limitRejoin = async (request: FastifyRequest) => {
    const result = await perAddress(request)
    if (!result.isAllowed && result.isExceeded) throw tooManyRequests(`Too many attempts; try again in ${result.ttlInSeconds} s`, result.ttlInSeconds)
  }

  app.post(
    '/agent/join',
    {
      config: { auth: 'public', rateLimited: true },
      bodyLimit: 16 * 1024,
      preHandler: limitJoin,
      schema: {
        operationId: 'joinSession',
        tags,
        summary: 'Join a support session with its number',
        description:
          'Returns the agent token for the other agent routes and a single-use rejoin token. A wrong number, an ended session and an expired one all answer 404 SESSION_NOT_FOUND. ' +
          '409 SESSION_IN_USE: the session already has (or had) a computer — online, offline, restarting or gone — and the CSR has not let a new one in: the number alone never takes a session over. ' +
          'The attempt is shown to the CSR (a chat line with the host name, OS and address, and the session’s joinAttempt); the agent should wait and retry (every 10 s, up to 10 minutes) while the customer asks for it to be let in (POST /sessions/{id}/admit-agent). ' +
          'The join that uses such an admission replaces the earlier agent: its tokens stop working, its open requests and commands are cancelled. An agent that restarted rejoins with its rejoin token instead (no admission). ' +
          '422 UNSUPPORTED_PROTOCOL: the agent speaks another protocol version. Rate-limited per address and per number (429).',
        body: JoinRequest,
        response: { 201: ref(AgentJoined), ...errors(404, 409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await agents.join(request.body, { address: request.ip })),
  )

  app.post(
    '/agent/rejoin',
    {
      config: { auth: 'public', rateLimited: true },
      bodyLimit: 4 * 1024,
      preHandler: limitRejoin,
      schema: {
        operationId: 'rejoinSession',
        tags,
        summary: 'Rejoin the same session after a crash or reboot, with the rejoin token',
        description:
          'The token works once: the answer carries a new agent token and a new rejoin token. A used, unknown or too old token (or an ended session) is 401 INVALID_REJOIN_TOKEN; join again with the number.',
        body: RejoinRequest,
        response: { 200: ref(AgentJoined), ...errors(401, 422) },
      },
    },
    async (request) => agents.rejoin(request.body),
  )

  app.get(
    '/agent/poll',
    {
      config: agent,
      // A fleet polls thousands of times a second: its two request lines ("incoming request",
      // "request completed") show at debug, not at the default info. Warnings and errors stay.
      childLoggerFactory: (logger, bindings, options) => new DeferredLogger(logger, bindings, options.level ?? (c.LOG_LEVEL === 'info' ? 'warn' : logger.level)),
      schema: {
        operationId: 'pollAgent',
        tags,
        summary: 'Long-poll for consent prompts, commands and chat after a cursor',
        description:
          'Answers at once when something is new after `cursor`, or when the session has ended; otherwise holds the request up to `wait` seconds (at most the server’s hold, `pollWaitSeconds` in the join answer: 50 s unless configured, up to 60) and answers as soon as something arrives. ' +
          'Send the returned cursor with the next poll. Items can come again after a lost answer: deduplicate by id. Every poll counts as a sign of life (offline after two missed polls). ' +
          '409 CURSOR_AHEAD: the cursor is ahead of the session’s changes (the server’s database was restored, or the agent’s state is from elsewhere); `errors.cursor` is the current one. Poll again from 0 to see everything there is (deduplicating by id).',
        querystring: PollQuery,
        response: { 200: ref(AgentFeed), ...errors(409) },
      },
    },
    // Not async: a held poll keeps the hold's one promise alive, not a suspended frame of its own.
    (request, reply) => {
      const wait = (request.query.wait ?? c.AGENT_POLL_WAIT_SECONDS) * 1000
      const agent = agentOf(request)
      const cursor = request.query.cursor ?? 0
      // Nothing to hold (wait=0): no stop, no listener, no entry in `held`.
      if (wait === 0) return agents.poll(agent, cursor, 0)
      return agents.poll(agent, cursor, wait, new HeldPoll(reply.raw, held))
    },
  )

  app.post(
    '/agent/consents/:id/answer',
    {
      config: agent,
      bodyLimit: 1024,
      schema: {
        operationId: 'answerConsent',
        tags,
        summary: 'The customer’s answer to a consent request',
        description: '409 when it was already answered (CONSENT_ALREADY_ANSWERED), expired (CONSENT_EXPIRED) or withdrawn (CONSENT_CANCELLED).',
        params: AgentItemParams,
        body: ConsentAnswer,
        response: { 204: Type.Null({ description: 'Recorded' }), ...errors(404, 409) },
      },
    },
    async (request, reply) => {
      await consents.answer(agentOf(request), request.params.id, request.body.approved)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/agent/commands/:id/reports',
    {
      config: agent,
      bodyLimit: 64 * 1024,
      schema: {
        operationId: 'reportCommand',
        tags,
        summary: 'Report progress or the result of a command (idempotent by command id + sequence)',
        description:
          'A repeated (command, sequence) answers 200 with duplicate=true and changes nothing. 409 when the command was cancelled (COMMAND_CANCELLED: stop working on it) or already finished (COMMAND_FINISHED).',
        params: AgentItemParams,
        body: CommandReport,
        response: { 200: ref(ReportAck), ...errors(404, 409) },
      },
    },
    async (request) => commands.report(agentOf(request), request.params.id, request.body),
  )

  app.post(
    '/agent/commands/:id/system-info',
    {
      config: agent,
      bodyLimit: SNAPSHOT_MAX_BYTES,
      schema: {
        operationId: 'submitSystemInfo',
        tags,
        summary: 'Upload the system information a collect_system_info command asked for',
        description:
          'At most 5 MiB (413 beyond, nothing stored). Every category must be present once, each read or saying why not (400 SNAPSHOT_MALFORMED). ' +
          'Idempotent per command: a retried upload answers 200 with duplicate=true.',
        params: AgentItemParams,
        body: SystemInfoUpload,
        response: { 200: ref(SnapshotAck), ...errors(404, 409) },
      },
    },
    async (request) => {
      const size = Number(request.headers['content-length'] ?? JSON.stringify(request.body).length)
      return systemInfo.store(agentOf(request), request.params.id, request.body, size)
    },
  )

  app.post(
    '/agent/chat',
    {
      config: agent,
      bodyLimit: 16 * 1024,
      schema: {
        operationId: 'postAgentChat',
        tags,
        summary: 'A chat message from the customer',
        body: AgentChatPost,
        response: { 201: ref(ChatMessage), ...errors(409) },
      },
    },
    async (request, reply) => reply.code(201).send(await chat.postAsCustomer(agentOf(request), request.body.body)),
  )

  app.post(
    '/agent/leave',
    {
      config: agent,
      schema: {
        operationId: 'leaveSession',
        tags,
        summary: 'The customer leaves: the CSR sees it, the agent and rejoin tokens stop working',
        response: { 204: Type.Null({ description: 'Left' }) },
      },
    },
    async (request, reply) => {
      await agents.leave(agentOf(request))
      return reply.code(204).send(null)
    },
  )
}

/** A held poll's stop, called when its agent hangs up or the server closes (`held`), until the hold ends. */
class HeldPoll extends HoldStop {
  constructor(
    private readonly raw: ServerResponse,
    private readonly held: Set<() => void>,
  ) {
    super()
    raw.on('close', this.stop) // the agent hung up
    held.add(this.stop)
  }

  override ended() {
    this.held.delete(this.stop)
    this.raw.off('close', this.stop)
  }
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

/**
 * A poll's request logger, made only when the poll logs something at a level that shows. A
 * pino child per request is CPU for every poll and memory for every held one, and a quiet poll
 * logs nothing at all. Logs at `level` and above, with the request id, like any request's logger.
 */
export class DeferredLogger {
  private made: FastifyBaseLogger | undefined
  private threshold = 0

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private initial: string,
  ) {
    this.level = initial
  }

  get level(): string {
    return this.made?.level ?? this.initial
  }

  set level(level: string) {
    this.initial = level
    this.threshold = LEVELS[level] ?? Number.POSITIVE_INFINITY // 'silent'
    if (this.made) this.made.level = level
  }

  private get logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, { level: this.initial }))
  }

  private log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal', args: unknown[]) {
    if (LEVELS[level]! < this.threshold) return
    ;(this.logger[level] as (...a: unknown[]) => void)(...args)
  }

  trace(...args: unknown[]) {
    this.log('trace', args)
  }
  debug(...args: unknown[]) {
    this.log('debug', args)
  }
  info(...args: unknown[]) {
    this.log('info', args)
  }
  warn(...args: unknown[]) {
    this.log('warn', args)
  }
  error(...args: unknown[]) {
    this.log('error', args)
  }
  fatal(...args: unknown[]) {
    this.log('fatal', args)
  }
  silent() {}
  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options)
  }
}

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1]
