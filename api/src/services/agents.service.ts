import { and, asc, desc, eq, gt, inArray, isNotNull, lt, ne, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { rows } from '../db/raw.ts'
import { agents, chatMessages, consentRequests, supportSessions, users, type AgentPlatform, type JoinAttempt } from '../db/schema.ts'
import { conflict, notFound, unauthorized, unprocessable } from '../errors.ts'
import { hashToken, newToken } from '../lib/crypto.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { SessionChange } from '../lib/notifier.ts'
import { AGENT_PROTOCOL, type AgentFeed, type AgentJoined } from '../schemas/agent.ts'
import { version } from '../version.ts'
import type { CommandQueue, CommandRow } from './commands.service.ts'
import type { ConsentsService } from './consents.service.ts'
import type { RunsService } from './runs.service.ts'
import { systemActor, type HoldStop, type SessionFeed, type SessionTx } from './feed.ts'
import { agentStatus, formatNumber, normalizeNumber, type SessionRow } from './sessions.service.ts'

/** Who is calling an agent route: one agent, in one session. */
export interface AgentPrincipal {
  agentId: string
  sessionId: string
}

export interface AgentTimings {
  pollWaitMs: number
  offlineAfterMs: number
  rejoinWindowMs: number
}

// Writing last-seen on every request would turn every poll into two writes; this is precise enough
// for an offline threshold measured in tens of seconds.
const TOUCH_INTERVAL_MS = 5_000
const CHAT_BATCH = 200

const sessionInUse = () =>
  conflict(
    'SESSION_IN_USE',
    'This session already has a computer; a new one can join only after the support representative lets it in (the attempt was shown to them)',
  )
/** Refused joins of one computer within this long are one attempt to the CSR (one chat line). */
const JOIN_ATTEMPT_QUIET_MS = 10 * 60_000

export interface JoinInput {
  number: string
  protocol: number
  agentVersion: string
  platform: AgentPlatform
  publicKey: string
}

const invalidAgentToken = () => unauthorized('INVALID_TOKEN', 'The agent token is missing, invalid, or no longer valid for this session')
const invalidRejoin = () =>
  unauthorized('INVALID_REJOIN_TOKEN', 'This rejoin token is not valid (already used, too late, or the session ended); join again with the session number')
// A wrong, expired and ended number all look the same, so the answer tells a guesser nothing.
const sessionNotFound = () => notFound('Session', 'SESSION_NOT_FOUND')

/**
 * The agent side: join with the number, rejoin with the single-use token, authenticate agent
 * tokens, the long-poll feed, leave, and presence (online / offline after two missed polls).
 */
export class AgentsService {
  private readonly memory = new AgentMemory()
  /** Agents seen since the last write of last-seen, and when (written together, see `touch`). */
  private readonly seen = new Map<string, Date>()
  private flushing: NodeJS.Timeout | undefined

  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
    private readonly commands: CommandQueue,
    private readonly consents: ConsentsService,
    private readonly runs: RunsService,
    private readonly timings: AgentTimings,
    private readonly keyring: Keyring,
    /** Changes of users' accounts (TokensService.onCredentialsChange): a CSR's name is in their sessions' answers. */
    accountChanges?: (listener: (userId: string | null) => void) => unknown,
  ) {
    feed.onChange((sessionId, change) => this.memory.forget(sessionId, change))
    // null: a site setting changed or announcements may have been lost; the latter reaches
    // `forget(null)` through the feed as well, the former changes no name.
    accountChanges?.((userId) => {
      if (userId !== null) this.memory.forgetCsr(userId)
    })
  }

  private checkProtocol(protocol: number) {
    if (protocol !== AGENT_PROTOCOL) {
      throw unprocessable('UNSUPPORTED_PROTOCOL', `This server speaks agent protocol ${AGENT_PROTOCOL} (server ${version}); the agent sent ${protocol}`, {
        protocol: `Must be ${AGENT_PROTOCOL}`,
      })
    }
  }

  private async joined(session: SessionRow, agentId: string, agentToken: string, rejoinToken: string): Promise<AgentJoined> {
    return {
      agentId,
      agentToken,
      rejoinToken,
      session: await this.sessionInfo(session),
      pollWaitSeconds: Math.round(this.timings.pollWaitMs / 1000),
      protocol: AGENT_PROTOCOL,
      serverVersion: version,
      signingKey: { algorithm: 'ed25519', keyId: this.keyring.signingKeyId, publicKey: this.keyring.signingPublicKey },
    }
  }

  private async sessionInfo(session: SessionRow): Promise<AgentFeed['session']> {
    const [csr] = await this.db.select({ name: users.name }).from(users).where(eq(users.id, session.csrId))
    return { id: session.id, number: formatNumber(session.number), status: session.status, customerName: session.customerName, csrName: csr?.name ?? '' }
  }

  /**
   * Join with the number. A session that never had an agent takes the first computer that joins.
   * After that the number alone is not enough, whatever state the earlier agent is in (online,
   * offline, restarting, past its rejoin window, left): the join is refused with 409
   * SESSION_IN_USE and shown to the CSR, unless the CSR has let a new computer in. That join uses
   * the admission up and replaces the earlier agent (its tokens stop working). The earlier
   * agent's own way back is its rejoin token, which needs no admission.
   */
  async join(input: JoinInput, from: { address: string }): Promise<AgentJoined> {
    this.checkProtocol(input.protocol)
    const number = normalizeNumber(input.number)
    const [found] = await this.db
      .select()
      .from(supportSessions)
      .where(and(eq(supportSessions.number, number), ne(supportSessions.status, 'ended')))
    if (!found || (found.status === 'waiting' && found.expiresAt <= new Date())) throw sessionNotFound()
    const agentToken = newToken('hla')
    const rejoinToken = newToken('hlr')
    const agentId = await this.feed.change(found.id, async (s) => {
      await s.next()
      const [session] = await s.tx.select().from(supportSessions).where(eq(supportSessions.id, found.id))
      if (!session || session.status === 'ended') throw sessionNotFound()
      const [previous] = await s.tx.select().from(agents).where(eq(agents.sessionId, session.id)).orderBy(desc(agents.joinedAt)).limit(1)
      const admitted = session.admitUntil !== null && session.admitUntil > new Date()
      // Refused, but the refusal is kept (the CSR must see it): the change commits, then 409.
      if (previous && !admitted) return this.noteRefusedJoin(s, session, input.platform, from.address)
      const [agent] = await s.tx
        .insert(agents)
        .values({
          sessionId: session.id,
          tokenHash: hashToken(agentToken),
          rejoinTokenHash: hashToken(rejoinToken),
          agentVersion: input.agentVersion,
          platform: input.platform,
          publicKey: input.publicKey,
          seq: await s.next(),
        })
        .returning({ id: agents.id })
      if (session.status === 'waiting') {
        await s.tx
          .update(supportSessions)
          .set({ status: 'active', startedAt: new Date(), statusSeq: await s.next() })
          .where(eq(supportSessions.id, session.id))
      }
      const where = [input.platform.hostname, input.platform.osVersion].filter(Boolean).join(', ')
      if (previous) await this.replace(s, session, agent!.id, where)
      await s.event('agent.joined', { type: 'agent', id: agent!.id }, { agentVersion: input.agentVersion, platform: input.platform, address: from.address })
      await s.systemLine(`${session.customerName} joined${where ? ` from ${where}` : ''}`, 'agent.joined', { agentId: agent!.id })
      return agent!.id
    })
    if (agentId === undefined) throw sessionInUse()
    const session = await this.sessionRow(found.id)
    return this.joined(session, agentId, agentToken, rejoinToken)
  }

  /**
   * The admitted computer takes the session over: the admission is used up, every earlier agent
   * is replaced (its tokens stop working), and nothing the earlier computer's customer was asked
   * or allowed carries over to the new one: open requests and commands are cancelled and the
   * system-information consent must be given again.
   */
  private async replace(s: SessionTx, session: SessionRow, agentId: string, where: string) {
    const replaced = await s.tx
      .update(agents)
      .set({ state: 'replaced', rejoinTokenHash: null, rebootingAt: null, seq: await s.next() })
      .where(and(eq(agents.sessionId, session.id), ne(agents.id, agentId), inArray(agents.state, ['online', 'offline', 'left'])))
      .returning({ id: agents.id })
    const admittedBy = session.admittedBy ? await this.userName(s.tx, session.admittedBy) : ''
    await s.tx
      .update(supportSessions)
      .set({ admitUntil: null, admittedBy: null, joinAttempt: null, statusSeq: await s.next() })
      .where(eq(supportSessions.id, session.id))
    await this.consents.cancelOpen(s, 'agent_replaced')
    await this.commands.cancelOpen(s, 'Another computer took the session over')
    await this.consents.expireLasting(s, 'agent_replaced')
    const data = { agentId, replacedAgentIds: replaced.map((r) => r.id), admittedBy: session.admittedBy }
    await s.event('agent.replaced', systemActor, data)
    await s.systemLine(
      `A new computer${where ? ` (${where})` : ''} took the session over, let in by ${admittedBy || 'the support representative'}; the previous computer can no longer act in this session`,
      'agent.replaced',
      { agentId, admittedByName: admittedBy },
    )
  }

  /**
   * Records a refused join for the CSR: the session's `joinAttempt` (what the console's banner
   * shows) on every attempt, and a chat line and an audit event only for a new computer or after
   * a quiet spell, so an agent retrying every 10 s does not flood the chat or the trail.
   */
  private async noteRefusedJoin(s: SessionTx, session: SessionRow, platform: AgentPlatform, address: string): Promise<undefined> {
    const now = new Date()
    const last = session.joinAttempt
    // The same computer retrying (same host name and address, not long after its last try).
    const retry = last && last.hostname === platform.hostname && last.address === address && now.getTime() - Date.parse(last.lastAt) < JOIN_ATTEMPT_QUIET_MS ? last : undefined
    const note = !retry || now.getTime() - Date.parse(retry.notedAt) >= JOIN_ATTEMPT_QUIET_MS
    const attempt: JoinAttempt = {
      firstAt: retry?.firstAt ?? now.toISOString(),
      lastAt: now.toISOString(),
      attempts: (retry?.attempts ?? 0) + 1,
      hostname: platform.hostname,
      os: platform.os,
      osVersion: platform.osVersion,
      address,
      notedAt: note ? now.toISOString() : retry.notedAt,
    }
    await s.tx.update(supportSessions).set({ joinAttempt: attempt, statusSeq: await s.next() }).where(eq(supportSessions.id, session.id))
    if (!note) return undefined
    const computer = [platform.hostname, platform.osVersion || platform.os].filter(Boolean).join(', ')
    const data = { hostname: platform.hostname, os: platform.os, osVersion: platform.osVersion, address }
    await s.event('agent.join_refused', systemActor, data)
    await s.systemLine(
      `Another computer tried to join this session with its number${computer ? ` (${computer})` : ''} from ${address}; it was refused. If the customer changed computers, let it in from the session page`,
      'agent.join_refused',
      data,
    )
    return undefined
  }

  private async userName(tx: Db, id: string): Promise<string> {
    const [row] = await tx.select({ name: users.name }).from(users).where(eq(users.id, id))
    return row?.name ?? ''
  }

  /** Single use: the token presented is replaced, and so is the agent token. */
  async rejoin(input: { rejoinToken: string; protocol: number; agentVersion: string }): Promise<AgentJoined> {
    this.checkProtocol(input.protocol)
    if (!/^hlr_[A-Za-z0-9_-]{20,}$/.test(input.rejoinToken)) throw invalidRejoin()
    const oldHash = hashToken(input.rejoinToken)
    const [found] = await this.db.select().from(agents).where(eq(agents.rejoinTokenHash, oldHash))
    if (!found) throw invalidRejoin()
    const agentToken = newToken('hla')
    const rejoinToken = newToken('hlr')
    await this.feed.change(found.sessionId, async (s) => {
      await s.next()
      const [session] = await s.tx.select().from(supportSessions).where(eq(supportSessions.id, found.sessionId))
      const cutoff = new Date(Date.now() - this.timings.rejoinWindowMs)
      // The conditional update is what makes the token single-use when two rejoins race.
      const [agent] = await s.tx
        .update(agents)
        .set({
          tokenHash: hashToken(agentToken),
          rejoinTokenHash: hashToken(rejoinToken),
          agentVersion: input.agentVersion,
          state: 'online',
          lastSeenAt: new Date(),
          rebootingAt: null,
          // A restarted agent works as the customer's own user again.
          workingAs: null,
          seq: await s.next(),
        })
        .where(and(eq(agents.id, found.id), eq(agents.rejoinTokenHash, oldHash), inArray(agents.state, ['online', 'offline']), gt(agents.lastSeenAt, cutoff)))
        .returning()
      if (!agent || !session || session.status === 'ended') throw invalidRejoin()
      const afterReboot = found.rebootingAt !== null
      if (found.workingAs) await s.event('agent.logged_off', { type: 'agent', id: agent.id }, { username: found.workingAs, reason: 'agent_restarted' })
      await s.event('agent.rejoined', { type: 'agent', id: agent.id }, { agentVersion: input.agentVersion, afterReboot })
      await s.systemLine(`${session.customerName} rejoined${afterReboot ? ' after the restart' : ''}`, 'agent.rejoined', { agentId: agent.id, afterReboot })
    })
    return this.joined(await this.sessionRow(found.sessionId), found.id, agentToken, rejoinToken)
  }

  private async sessionRow(id: string): Promise<SessionRow> {
    const [row] = await this.db.select().from(supportSessions).where(eq(supportSessions.id, id))
    if (!row) throw sessionNotFound()
    return row
  }

  /**
   * Resolves an agent token, and records that the agent was seen. From memory after the first
   * lookup: a token stops working the moment its agent row changes (left, replaced, rejoined),
   * since every such change is a change of its session, which drops the session's tokens here
   * and, through the notifier, on every instance.
   */
  async authenticate(token: string): Promise<AgentPrincipal> {
    if (!/^hla_[A-Za-z0-9_-]{20,}$/.test(token)) throw invalidAgentToken()
    const hash = hashToken(token)
    let known = this.memory.token(hash)
    if (!known) {
      const since = this.memory.epoch
      const [row] = await rows<{ id: string; session_id: string; state: string; last_seen_at: string | Date }>(
        this.db,
        sql`select id::text as id, session_id::text as session_id, state::text as state, last_seen_at from agents where token_hash = ${hash}`,
      )
      if (!row || (row.state !== 'online' && row.state !== 'offline')) throw invalidAgentToken()
      known = { agentId: row.id, sessionId: row.session_id, state: row.state, lastSeenAt: new Date(row.last_seen_at).getTime(), principal: { agentId: row.id, sessionId: row.session_id } }
      if (row.state === 'offline') {
        await this.markOnline(row.id, row.session_id)
        return { agentId: row.id, sessionId: row.session_id }
      }
      this.memory.rememberToken(hash, known, since)
    }
    this.touch(known)
    return known.principal
  }

  /**
   * Last-seen, written for all agents seen at once, at most every second, and for each agent at
   * most every TOUCH_INTERVAL_MS: a poll writes nothing itself. Precise enough for an offline
   * threshold measured in tens of seconds.
   */
  private touch(known: KnownToken) {
    const now = Date.now()
    if (now - known.lastSeenAt <= TOUCH_INTERVAL_MS) return
    known.lastSeenAt = now
    this.seen.set(known.agentId, new Date(now))
    this.flushing ??= setTimeout(() => void this.flushSeen(), 1000).unref()
  }

  /** Writes the pending last-seen instants in one statement (also called when the server closes). */
  async flushSeen(): Promise<void> {
    clearTimeout(this.flushing)
    this.flushing = undefined
    if (this.seen.size === 0) return
    const list = [...this.seen].map(([id, at]) => ({ id, at: at.toISOString() }))
    this.seen.clear()
    try {
      await this.db.execute(sql`
        update agents a set last_seen_at = greatest(a.last_seen_at, r.at)
        from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as r(id uuid, at timestamptz)
        where a.id = r.id`)
    } catch {
      // The database is away (or closed): the next sign of life writes it; at worst an agent
      // shows offline for a moment.
    }
  }

  private async markOnline(agentId: string, sessionId: string) {
    await this.feed.change(sessionId, async (s) => {
      const [back] = await s.tx
        .update(agents)
        .set({ state: 'online', lastSeenAt: new Date(), seq: await s.next() })
        .where(and(eq(agents.id, agentId), eq(agents.state, 'offline')))
        .returning({ id: agents.id })
      if (back) await s.event('agent.online', { type: 'agent', id: agentId })
    })
  }

  async leave(agent: AgentPrincipal): Promise<void> {
    await this.feed.change(agent.sessionId, async (s) => {
      const [current] = await s.tx.select({ workingAs: agents.workingAs }).from(agents).where(eq(agents.id, agent.agentId))
      const workingAs = current?.workingAs ?? null
      const [row] = await s.tx
        .update(agents)
        .set({ state: 'left', leftAt: new Date(), rejoinTokenHash: null, workingAs: null, seq: await s.next() })
        .where(and(eq(agents.id, agent.agentId), inArray(agents.state, ['online', 'offline'])))
        .returning()
      if (!row) return
      // The agent gives the customer their own user back as it leaves; the record says so.
      if (workingAs) await s.event('agent.logged_off', { type: 'agent', id: agent.agentId }, { username: workingAs, reason: 'customer_left' })
      const [session] = await s.tx.select({ customerName: supportSessions.customerName }).from(supportSessions).where(eq(supportSessions.id, agent.sessionId))
      await s.event('agent.left', { type: 'agent', id: agent.agentId })
      await s.systemLine(`${session?.customerName ?? 'The customer'} left the session`, 'agent.left', { agentId: agent.agentId })
    })
  }

  /**
   * The long-poll: what is new for the agent after its cursor, at once if there is anything,
   * otherwise when a change wakes it or the wait is over.
   */
  poll(agent: AgentPrincipal, cursor: number, waitMs: number, stop?: HoldStop): Promise<AgentFeed> {
    // Caught up and not waiting: the answer from memory, without subscribing to wake-ups.
    if (waitMs <= 0) {
      const quiet = this.memory.quiet(agent.sessionId, cursor)
      return quiet ? Promise.resolve(quiet) : this.read(agent, cursor)
    }
    // Not an async function: a held poll is the hold's one promise, not a chain of three.
    return this.feed.hold(agent.sessionId, Math.min(waitMs, this.timings.pollWaitMs), stop, () => this.heldRead(agent, cursor), isEmptyFeed)
  }

  /** One look of a held poll: from memory when it can (no promise then), else a read. */
  private heldRead(agent: AgentPrincipal, cursor: number): AgentFeed | Promise<AgentFeed> {
    // A change this instance committed released, asked, answered or cancelled what the agent is
    // waiting for, and its commit said exactly what that is: the answer without a read (a release's
    // delivery is still recorded, and a secret still wiped, before it leaves; consents and
    // cancellations have nothing to record).
    const offered = this.memory.offered(agent.sessionId, cursor)
    if (offered) return offered.rows.length === 0 ? offered.feed : this.deliverOffered(agent, cursor, offered)
    // Nothing for the agent in the session since a read that ended at this cursor (or only
    // console-only changes since): no query at all.
    return this.memory.quiet(agent.sessionId, cursor) ?? this.read(agent, cursor)
  }

  /** An offer, once its delivery is recorded; read instead when a command was closed before that (the closing change won). */
  private async deliverOffered(agent: AgentPrincipal, cursor: number, offered: { feed: AgentFeed; rows: CommandRow[] }): Promise<AgentFeed> {
    const handed = await this.commands.markDelivered(agent.sessionId, offered.rows)
    return offered.rows.every((r) => handed.has(r.id)) ? offered.feed : this.read(agent, cursor)
  }

  /** One read of the agent's feed: everything after the cursor up to the session's change number now. */
  async read(agent: AgentPrincipal, after: number): Promise<AgentFeed> {
    const since = this.memory.epoch
    // What a read hands out is recorded as delivered here: an offer of the same items is spent.
    this.memory.spend(agent.sessionId)
    // Hand-written: the one query every poll runs (the session and its CSR's name).
    const [row] = await rows<{ id: string; number: string; status: AgentFeed['session']['status']; customer_name: string; feed_seq: number; csr_id: string; csr_name: string | null }>(
      this.db,
      sql`select s.id::text as id, s.number, s.status::text as status, s.customer_name, s.feed_seq, s.csr_id::text as csr_id, u.name as csr_name
          from support_sessions s left join users u on u.id = s.csr_id where s.id = ${agent.sessionId}`,
    )
    if (!row) throw sessionNotFound()
    const upTo = Number(row.feed_seq)
    const csr = row.csr_name ?? ''
    const session = { id: row.id, number: formatNumber(row.number), status: row.status, customerName: row.customer_name, csrName: csr }
    if (after === upTo && row.status !== 'ended') {
      // Nothing after the cursor: no item query, and later polls at this cursor need none either.
      return this.memory.rememberQuiet(agent.sessionId, upTo, session, row.csr_id, since)
    }
    // A cursor from the future (a database restored from a backup, a hand-edited file) would
    // hide everything, and holding on it would answer at once again and again: refused, with the
    // session's current change number.
    if (after > upTo) {
      throw conflict('CURSOR_AHEAD', `The cursor ${after} is ahead of this session’s changes (${upTo}); poll again from 0 (or ${upTo})`, { cursor: String(upTo) })
    }
    const cursor = after
    const [consents, commandRows, chat, cancelled] = await Promise.all([
      this.db
        .select({ consent: consentRequests, csrName: users.name })
        .from(consentRequests)
        .innerJoin(users, eq(users.id, consentRequests.requestedBy))
        .where(and(eq(consentRequests.sessionId, agent.sessionId), gt(consentRequests.seq, cursor), lt(consentRequests.seq, upTo + 1)))
        .orderBy(asc(consentRequests.seq)),
      this.commands.takeForAgent(agent.sessionId, cursor, upTo),
      // Each message with its own author's name: an admin writing in the chat is not the CSR.
      this.db
        .select({ id: chatMessages.id, seq: chatMessages.seq, body: chatMessages.body, createdAt: chatMessages.createdAt, authorName: users.name })
        .from(chatMessages)
        .leftJoin(users, eq(users.id, chatMessages.userId))
        .where(and(eq(chatMessages.sessionId, agent.sessionId), eq(chatMessages.sender, 'csr'), gt(chatMessages.seq, cursor), lt(chatMessages.seq, upTo + 1)))
        .orderBy(asc(chatMessages.seq))
        .limit(CHAT_BATCH),
      this.runs.cancelledSince(agent.sessionId, cursor, upTo),
    ])
    // A full chat batch means there may be more: resume right after the last one sent.
    const next = chat.length === CHAT_BATCH ? chat[chat.length - 1]!.seq : upTo
    if (consents.length === 0 && commandRows.length === 0 && chat.length === 0 && cancelled.length === 0 && row.status !== 'ended') {
      // Nothing for the agent from its cursor up to now (changes it does not see, such as its own
      // reports): memory knows that whole range, so a held poll at this cursor needs no read again.
      return this.memory.rememberQuiet(agent.sessionId, upTo, session, row.csr_id, since, cursor)
    }
    // The answer takes the agent to `upTo`, where nothing follows yet: known before the delivery
    // mark, whose console-only change then moves it on, so the agent's next poll holds without a
    // read (else every command handed out by a read costs a second read that finds nothing).
    if (next === upTo && row.status !== 'ended') this.memory.rememberQuiet(agent.sessionId, upTo, session, row.csr_id, since)
    // Only what is recorded as delivered leaves (a command closed since this read is not handed out).
    const handed = await this.commands.markDelivered(agent.sessionId, commandRows)
    return {
      cursor: next,
      session,
      consents: consents
        .filter(({ consent }) => consent.seq <= next)
        .map(({ consent, csrName }) => ({
          id: consent.id,
          kind: consent.kind,
          status: consent.status,
          requestedBy: csrName,
          details: consent.details,
          expiresAt: consent.expiresAt.toISOString(),
        })),
      commands: commandRows.filter((c) => (c.dispatchSeq ?? 0) <= next && handed.has(c.id)).map((c) => this.commands.toAgentCommand(c)),
      chat: chat.map((m) => ({ id: m.id, authorName: m.authorName ?? csr, body: m.body, createdAt: m.createdAt.toISOString() })),
      cancelledCommands: cancelled,
    }
  }

  /** Marks agents that missed two polls offline. Returns how many. */
  async markSilentOffline(now = Date.now()): Promise<number> {
    const cutoff = new Date(now - this.timings.offlineAfterMs)
    const silent = await this.db
      .select({ id: agents.id, sessionId: agents.sessionId })
      .from(agents)
      .where(and(eq(agents.state, 'online'), lt(agents.lastSeenAt, cutoff)))
      .limit(500)
    let n = 0
    for (const { id, sessionId } of silent) {
      await this.feed.change(sessionId, async (s: SessionTx) => {
        const [row] = await s.tx
          .update(agents)
          .set({ state: 'offline', seq: await s.next() })
          .where(and(eq(agents.id, id), eq(agents.state, 'online'), lt(agents.lastSeenAt, cutoff)))
          .returning({ id: agents.id })
        if (!row) return
        n++
        await s.event('agent.offline', systemActor)
      })
    }
    return n
  }

  /**
   * A computer that restarted and did not come back within the rejoin window: its rejoin token no
   * longer works (the rejoin refuses it anyway), and the session says so instead of "restarting".
   */
  async expireRejoins(now = Date.now()): Promise<number> {
    const cutoff = new Date(now - this.timings.rejoinWindowMs)
    const late = await this.db
      .select({ id: agents.id, sessionId: agents.sessionId })
      .from(agents)
      .where(and(isNotNull(agents.rebootingAt), lt(agents.lastSeenAt, cutoff), inArray(agents.state, ['online', 'offline'])))
      .limit(200)
    for (const { id, sessionId } of late) {
      await this.feed.change(sessionId, async (s) => {
        const [row] = await s.tx
          .update(agents)
          .set({ rebootingAt: null, rejoinTokenHash: null, state: 'offline', seq: await s.next() })
          .where(and(eq(agents.id, id), isNotNull(agents.rebootingAt), lt(agents.lastSeenAt, cutoff)))
          .returning({ id: agents.id })
        if (!row) return
        const minutes = Math.round(this.timings.rejoinWindowMs / 60_000)
        await s.event('agent.rejoin_expired', systemActor, { agentId: id, minutes })
        await s.systemLine(
          `The customer’s computer did not come back within ${minutes} min of restarting; ask the customer to join again with the session number`,
          'agent.rejoin_expired',
          { minutes },
        )
      })
    }
    return late.length
  }

  async publicKey(agentId: string): Promise<string | undefined> {
    const [row] = await this.db.select({ key: agents.publicKey }).from(agents).where(eq(agents.id, agentId))
    return row?.key
  }
}

interface KnownToken {
  agentId: string
  sessionId: string
  state: string
  /** Last-seen as this instance knows it (ms). */
  lastSeenAt: number
  /** What `authenticate` answers, one object for all the agent's requests (a held poll keeps it). */
  principal: AgentPrincipal
}

/** Entries kept at most; past it memory starts over (a lookup each is all a miss costs). */
const MEMORY_LIMIT = 200_000
/**
 * How long "nothing after this change number" is believed without a query. Not for lost
 * notifications: a change is announced by its own commit (Notifier.publishIn), a re-listen or a
 * LISTEN connection that hears nothing (not even its heartbeat) drops all memory. Nor for a
 * rename of the CSR, which shows in the answer without changing the session's number: it is
 * announced as a change of the CSR's account (TokensService.onCredentialsChange) and drops that
 * CSR's sessions. This bounds only a hand edit in the database. At 5 minutes it cost a fleet of
 * 20,000 quiet agents ~70 reads a second, a large part of its idle CPU at a 50 s hold
 * (docs/notes/issue-13-hold-3.md); at 30, ~11.
 */
const QUIET_TTL_MS = 30 * 60_000

/**
 * What the agent's feed is, as a change's commit declared it (SessionTx.offer, BulkTx.offer), as
 * `read` would return it: the commands released (CommandQueue.recordApproved, a consent's answer),
 * the consents asked or answered (a script batch, a consent's answer), or the released commands
 * cancelled (RunsService.cancelParts; none released then).
 */
export interface AgentOffer {
  rows: CommandRow[]
  commands: AgentFeed['commands']
  consents?: AgentFeed['consents']
  cancelledCommands?: AgentFeed['cancelledCommands']
}

/**
 * A session known to have nothing for its agent after `low` up to `seq` (the newest change number
 * known): an agent at any cursor in between is answered "nothing, cursor `seq`".
 */
interface Quiet {
  low: number
  seq: number
  session: AgentFeed['session']
  /**
   * The answer "nothing, cursor `seq`", made once and shared by the polls it answers instead of a
   * copy per poll, which each held poll kept for its whole hold (frozen, being shared).
   */
  feed?: AgentFeed
  /** The session's CSR, whose name `session` carries: a change of their account drops this. */
  csrId: string
  at: number
}

/**
 * What this instance derived from the database about sessions' agents: their tokens, the
 * sessions known to have nothing after a change number, and what a change committed here released
 * to an agent waiting at its start. Dropped per session on its every change the agent may see
 * (SessionFeed.onChange), everything when notifications may have been lost. A console-only change
 * moves "nothing after" over its numbers when it follows on what is known (else it is dropped too:
 * a missed or reordered wake-up costs a read, never an item). `epoch` guards against remembering
 * what a read found when a change came in while it ran.
 */
class AgentMemory {
  epoch = 0
  private readonly tokens = new Map<string, KnownToken>()
  private readonly tokensOf = new Map<string, Set<string>>()
  private readonly quietAt = new Map<string, Quiet>()
  /** `low`..`high`: the cursors the offer answers; `seq`: the newest change number known (its cursor). */
  private readonly offers = new Map<string, { low: number; high: number; seq: number; feed: AgentFeed; rows: CommandRow[]; csrId: string }>()
  private readonly changedAt = new Map<string, number>()
  /**
   * Per session, its latest console-only changes with consecutive numbers, `from`..`to`, since
   * the last change the agent sees: what a read that ran meanwhile (its snapshot before them) is
   * remembered up to (`rememberQuiet`). Typically the agent's report, committed while its
   * re-poll's read runs; without this, the next change finds the memory one number behind, does
   * not follow on it, and the held poll reads instead of taking the commit's offer.
   */
  private readonly consoleRuns = new Map<string, { from: number; to: number }>()
  /** The epoch of each CSR account's last change (their name is in their sessions' answers). */
  private readonly csrChangedAt = new Map<string, number>()
  private everyCsrChangedAt = 0

  forget(sessionId: string | null, change?: SessionChange) {
    if (sessionId === null) {
      this.epoch++
      this.tokens.clear()
      this.tokensOf.clear()
      this.quietAt.clear()
      this.offers.clear()
      this.changedAt.clear()
      this.csrChangedAt.clear()
      this.consoleRuns.clear()
      return
    }
    const q = this.quietAt.get(sessionId)
    const follows = change !== undefined && q !== undefined && q.seq === change.from - 1 && Date.now() - q.at < QUIET_TTL_MS
    if (change && !change.agentSees) {
      // Nothing the agent sees, nor its tokens, changed. A read in flight is not stale for it either.
      const run = this.consoleRuns.get(sessionId)
      if (run && run.to === change.from - 1) run.to = change.to
      else {
        if (this.consoleRuns.size >= MEMORY_LIMIT) this.consoleRuns.clear()
        this.consoleRuns.set(sessionId, { from: change.from, to: change.to })
      }
      if (follows) {
        q.seq = change.to
        q.feed = undefined
      } else this.quietAt.delete(sessionId)
      const o = this.offers.get(sessionId)
      if (o && o.seq === change.from - 1) {
        o.seq = change.to
        o.feed = { ...o.feed, cursor: change.to }
      } else this.offers.delete(sessionId)
      return
    }
    this.epoch++
    this.changedAt.set(sessionId, this.epoch)
    this.quietAt.delete(sessionId)
    this.offers.delete(sessionId)
    this.consoleRuns.delete(sessionId)
    const offer = change?.offer as AgentOffer | undefined
    if (offer && follows) {
      // The change's whole effect on the agent is the offer (SessionTx.offer): its tokens stand.
      const feed = { ...emptyFeed(change.to, q.session), commands: offer.commands, consents: offer.consents ?? NONE, cancelledCommands: offer.cancelledCommands ?? NONE }
      this.offers.set(sessionId, { low: q.low, high: q.seq, seq: change.to, rows: offer.rows, csrId: q.csrId, feed })
      return
    }
    for (const hash of this.tokensOf.get(sessionId) ?? []) this.tokens.delete(hash)
    this.tokensOf.delete(sessionId)
    if (this.changedAt.size > MEMORY_LIMIT) this.changedAt.clear()
  }

  /**
   * A user's account changed (their name, among others): the sessions whose answers carry them as
   * the CSR are no longer known to be quiet, and a read in flight does not make them so.
   */
  forgetCsr(userId: string) {
    this.epoch++
    if (this.csrChangedAt.size >= MEMORY_LIMIT) {
      this.csrChangedAt.clear()
      this.everyCsrChangedAt = this.epoch
    }
    this.csrChangedAt.set(userId, this.epoch)
    for (const [sessionId, q] of this.quietAt) if (q.csrId === userId) this.quietAt.delete(sessionId)
    for (const [sessionId, o] of this.offers) if (o.csrId === userId) this.offers.delete(sessionId)
  }

  /** Whether the session changed after `since` (what a read begun then found may be stale). */
  private stale(sessionId: string, since: number): boolean {
    return (this.changedAt.get(sessionId) ?? 0) > since
  }

  token(hash: string): KnownToken | undefined {
    return this.tokens.get(hash)
  }

  rememberToken(hash: string, known: KnownToken, since: number) {
    if (this.stale(known.sessionId, since)) return
    if (this.tokens.size >= MEMORY_LIMIT) this.forget(null)
    this.tokens.set(hash, known)
    let set = this.tokensOf.get(known.sessionId)
    if (!set) this.tokensOf.set(known.sessionId, (set = new Set()))
    set.add(hash)
  }

  /** An empty answer at `cursor` when the session is known to have nothing for the agent after it. */
  quiet(sessionId: string, cursor: number): AgentFeed | undefined {
    const q = this.quietAt.get(sessionId)
    if (!q || cursor < q.low || cursor > q.seq || Date.now() - q.at >= QUIET_TTL_MS) return undefined
    return (q.feed ??= Object.freeze(emptyFeed(q.seq, q.session)))
  }

  /**
   * What a change committed here released to an agent at `cursor` (taken once): afterwards the
   * session is quiet at the answer's cursor, so the delivery's own console-only change keeps it so.
   */
  offered(sessionId: string, cursor: number): { feed: AgentFeed; rows: CommandRow[] } | undefined {
    const o = this.offers.get(sessionId)
    if (!o || cursor < o.low || cursor > o.high) return undefined
    this.offers.delete(sessionId)
    this.quietAt.set(sessionId, { low: o.seq, seq: o.seq, session: o.feed.session, csrId: o.csrId, at: Date.now() })
    return o
  }

  spend(sessionId: string) {
    this.offers.delete(sessionId)
  }

  /** A read found nothing for the agent after `low` up to `seq`, the session's number then. */
  rememberQuiet(sessionId: string, seq: number, session: AgentFeed['session'], csrId: string, since: number, low = seq): AgentFeed {
    const csrChanged = Math.max(this.everyCsrChangedAt, this.csrChangedAt.get(csrId) ?? 0) > since
    const feed = Object.freeze(emptyFeed(seq, session))
    if (!this.stale(sessionId, since) && !csrChanged) {
      if (this.quietAt.size >= MEMORY_LIMIT) this.quietAt.clear()
      if (this.offers.size >= MEMORY_LIMIT) this.offers.clear()
      // Console-only changes numbered on from what the read saw came in while it ran: nothing for
      // the agent up to their end either (each number in the run is one of theirs; a change the
      // agent sees would have made the read stale).
      const run = this.consoleRuns.get(sessionId)
      const known = run && run.from <= seq + 1 && run.to > seq ? run.to : seq
      this.quietAt.set(sessionId, { low, seq: known, session, ...(known === seq ? { feed } : {}), csrId, at: Date.now() })
    }
    return feed
  }
}

/** Nothing for the agent in it: a held poll keeps holding. */
function isEmptyFeed(feed: AgentFeed): boolean {
  return feed.consents.length === 0 && feed.commands.length === 0 && feed.chat.length === 0 && feed.cancelledCommands.length === 0 && feed.session.status !== 'ended'
}

/** The lists of an empty answer: one frozen array for all of them (thousands of quiet sessions). */
const NONE = Object.freeze([]) as never[]

function emptyFeed(cursor: number, session: AgentFeed['session']): AgentFeed {
  return { cursor, session, consents: NONE, commands: NONE, chat: NONE, cancelledCommands: NONE }
}
