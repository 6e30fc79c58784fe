import { and, desc, eq, inArray, lt } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { agents, commands, consentRequests } from '../db/schema.ts'
import { conflict, notFound } from '../errors.ts'
import { CREDENTIALS_ALGORITHM } from '../schemas/access.ts'
import type { Principal } from './auth.service.ts'
import { toCommand, type CommandQueue, type CommandRow } from './commands.service.ts'
import type { ConsentsService } from './consents.service.ts'
import type { SessionFeed, SessionTx } from './feed.ts'
import { noteAdminAction } from './oversight.ts'
import { agentStatus, sessionEnded, sessionNotActive, type AgentRow, type SessionsService } from './sessions.service.ts'

export interface AccessTimings {
  offlineAfterMs: number
  /** How long posted credentials wait for the agent before they are dropped. */
  credentialsTtlMs: number
  /** How long after the customer's approval credentials may still be sent (a mistyped password is retried). */
  approvalLifetimeMs: number
}

/** Sets of credentials one approval takes: a mistyped password does not use up the customer's consent. */
export const LOGON_ATTEMPTS = 3

const agentOffline = () => conflict('AGENT_OFFLINE', 'The customer’s agent is not connected; ask them to rejoin first')
const consentRequired = (why: string) => conflict('CONSENT_REQUIRED', why)
const FINAL_COMMAND: readonly string[] = ['succeeded', 'failed', 'cancelled']

/** What the customer is told (their agent words it in their language from the kind). */
const LOGON_EFFECT =
  'Your support representative will work on this computer as another user (for example an administrator account) until they log off or the session ends; ' +
  'then your own user comes back by itself. On Windows, open programs may close.'
const REBOOT_EFFECT = 'Restarts this computer. Save your work and close your programs first. The agent rejoins this support session by itself after the restart.'

/**
 * The agent's message may already start with "Logon failed:" (older agents always did): the line
 * says it once.
 */
export function withoutLogonPrefix(message: string): string {
  return message.replace(/^\s*(logon failed:\s*)+/i, '').trim()
}

/**
 * Log on as another user, log off, reboot. Each is a command behind the customer's consent
 * (log off returns to the customer's own user and needs none). Credentials are encrypted in the
 * browser for the agent's key: the server relays the ciphertext once and keeps none of it.
 */
export class AccessService {
  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
    private readonly sessions: SessionsService,
    private readonly consents: ConsentsService,
    private readonly commands: CommandQueue,
    private readonly timings: AccessTimings,
  ) {
    commands.observe('logon_as_user', {
      reported: async (s, row, report, agentId) => {
        if (report.status === 'succeeded') {
          const username = String(report.data?.username ?? '').slice(0, 200) || 'another user'
          await this.setAgent(s, agentId, { workingAs: username })
          await s.event('agent.logged_on', { type: 'agent', id: agentId }, { commandId: row.id, username })
          await s.systemLine(`Logged on to the customer’s computer as ${username}`, 'agent.logged_on', { username })
        } else if (report.status === 'failed') {
          const reason = String(report.data?.reason ?? 'failed')
          const message = withoutLogonPrefix(report.message ?? '')
          await s.event('agent.logon_failed', { type: 'agent', id: agentId }, { commandId: row.id, reason, message })
          await s.systemLine(`Logon failed: ${message || reason}`, 'agent.logon_failed', { reason, message })
        }
      },
    })
    commands.observe('logoff', {
      reported: async (s, row, report, agentId) => {
        if (report.status !== 'succeeded') return
        const [agent] = await s.tx.select({ workingAs: agents.workingAs }).from(agents).where(eq(agents.id, agentId))
        await this.setAgent(s, agentId, { workingAs: null })
        await s.event('agent.logged_off', { type: 'agent', id: agentId }, { commandId: row.id, username: agent?.workingAs ?? null })
        await s.systemLine(`Logged off${agent?.workingAs ? ` ${agent.workingAs}` : ''}: back to the customer’s own user`, 'agent.logged_off', {})
      },
    })
    commands.observe('reboot', {
      reported: async (s, row, report, agentId) => {
        if (report.data?.rebooting !== true) return
        await this.setAgent(s, agentId, { rebootingAt: new Date() })
        await s.event('agent.rebooting', { type: 'agent', id: agentId }, { commandId: row.id })
        await s.systemLine('The customer’s computer is restarting; the agent rejoins by itself', 'agent.rebooting', {})
      },
    })
  }

  private async setAgent(s: SessionTx, agentId: string, set: Partial<typeof agents.$inferInsert>) {
    await s.tx
      .update(agents)
      .set({ ...set, seq: await s.next() })
      .where(eq(agents.id, agentId))
  }

  /** The session's agent, online now, inside the change; 409 AGENT_OFFLINE otherwise. */
  private async onlineAgent(s: SessionTx): Promise<AgentRow> {
    const [agent] = await s.tx.select().from(agents).where(eq(agents.sessionId, s.sessionId)).orderBy(desc(agents.joinedAt)).limit(1)
    if (!agent || agentStatus(agent, this.timings.offlineAfterMs) !== 'online' || agent.rebootingAt) throw agentOffline()
    return agent
  }

  private async activeSession(principal: Principal, sessionId: string) {
    const session = await this.sessions.findAccessible(principal, sessionId)
    if (session.status === 'ended') throw sessionEnded()
    if (session.status !== 'active') throw sessionNotActive()
    return session
  }

  private async openOfKinds(s: SessionTx, kinds: string[]): Promise<CommandRow | undefined> {
    const [row] = await s.tx
      .select()
      .from(commands)
      .where(and(eq(commands.sessionId, s.sessionId), inArray(commands.kind, kinds), inArray(commands.status, ['awaiting_consent', 'queued', 'delivered', 'running'])))
      .limit(1)
    return row
  }

  async requestLogon(principal: Principal, sessionId: string) {
    await this.activeSession(principal, sessionId)
    const { consent, publicKey } = await this.feed.change(sessionId, async (s) => {
      await s.next()
      const agent = await this.onlineAgent(s)
      const latest = await this.consents.latestInTx(s, 'logon_as_user')
      if (latest?.status === 'pending') throw conflict('CONSENT_PENDING', 'The customer has not answered the previous logon request yet')
      if (await this.openOfKinds(s, ['logon_as_user', 'logoff'])) throw conflict('ALREADY_QUEUED', 'A logon or log off is already on its way to the agent')
      const consent = await this.consents.createInTx(s, 'logon_as_user', principal.userId, { effect: LOGON_EFFECT })
      await noteAdminAction(s, principal, 'logon')
      return { consent, publicKey: agent.publicKey }
    })
    return { command: null, consent: (await this.consents.toConsents([consent]))[0]!, publicKey, algorithm: CREDENTIALS_ALGORITHM }
  }

  /** One set of credentials per approval, relayed to the agent once. */
  async submitCredentials(principal: Principal, sessionId: string, input: { consentId: string; ciphertext: string }) {
    await this.activeSession(principal, sessionId)
    const command = await this.feed.change(sessionId, async (s) => {
      await s.next()
      const [consent] = await s.tx
        .select()
        .from(consentRequests)
        .where(and(eq(consentRequests.id, input.consentId), eq(consentRequests.sessionId, sessionId), eq(consentRequests.kind, 'logon_as_user')))
      if (!consent) throw notFound('Consent request', 'CONSENT_NOT_FOUND')
      if (consent.status !== 'approved') throw consentRequired(`The customer has not approved logging on as another user (the request is ${consent.status})`)
      await this.refuseSpentApproval(s, consent)
      await this.onlineAgent(s)
      await noteAdminAction(s, principal, 'logon_credentials')
      return this.commands.enqueue(s, {
        kind: 'logon_as_user',
        consentId: consent.id,
        payload: { ciphertext: input.ciphertext, algorithm: CREDENTIALS_ALGORITHM },
        createdBy: principal.userId,
      })
    })
    return { command: toCommand(command), consent: null }
  }

  /**
   * An approval takes up to LOGON_ATTEMPTS sets of credentials within its lifetime, one at a
   * time, and none after a logon succeeded with it.
   */
  private async refuseSpentApproval(s: SessionTx, consent: typeof consentRequests.$inferSelect) {
    const tries = await s.tx.select({ status: commands.status }).from(commands).where(eq(commands.consentId, consent.id))
    if (tries.some((c) => c.status === 'succeeded')) throw consentRequired('This approval was already used to log on; ask the customer again')
    if (tries.some((c) => !FINAL_COMMAND.includes(c.status))) throw conflict('ALREADY_QUEUED', 'Credentials for this approval are already on their way to the agent')
    if (tries.length >= LOGON_ATTEMPTS) throw consentRequired(`This approval allowed ${LOGON_ATTEMPTS} attempts and all were used; ask the customer again`)
    const approvedAt = consent.answeredAt ?? consent.createdAt
    if (approvedAt.getTime() + this.timings.approvalLifetimeMs < Date.now()) {
      throw consentRequired(`This approval is older than ${Math.round(this.timings.approvalLifetimeMs / 60_000)} minutes; ask the customer again`)
    }
  }

  async logoff(principal: Principal, sessionId: string) {
    await this.activeSession(principal, sessionId)
    const command = await this.feed.change(sessionId, async (s) => {
      await s.next()
      const agent = await this.onlineAgent(s)
      if (!agent.workingAs) throw conflict('NOT_LOGGED_ON', 'The agent already works as the customer’s own user')
      if (await this.openOfKinds(s, ['logoff'])) throw conflict('ALREADY_QUEUED', 'A log off is already on its way to the agent')
      await noteAdminAction(s, principal, 'logoff')
      return this.commands.enqueue(s, { kind: 'logoff', consentId: null, createdBy: principal.userId })
    })
    return { command: toCommand(command), consent: null }
  }

  async reboot(principal: Principal, sessionId: string) {
    await this.activeSession(principal, sessionId)
    const { command, consent } = await this.feed.change(sessionId, async (s) => {
      await s.next()
      await this.onlineAgent(s)
      if (await this.openOfKinds(s, ['reboot'])) throw conflict('ALREADY_QUEUED', 'A restart is already waiting or under way')
      const consent = await this.consents.createInTx(s, 'reboot', principal.userId, { effect: REBOOT_EFFECT })
      const command = await this.commands.enqueue(s, { kind: 'reboot', consentId: consent.id, createdBy: principal.userId })
      await noteAdminAction(s, principal, 'reboot')
      return { command, consent }
    })
    return { command: toCommand(command), consent: (await this.consents.toConsents([consent]))[0]! }
  }

  /** Credentials the agent did not pick up in time are dropped with their command. */
  async expireCredentials(now = Date.now()): Promise<number> {
    const due = await this.db
      .select({ id: commands.id, sessionId: commands.sessionId })
      .from(commands)
      .where(and(eq(commands.kind, 'logon_as_user'), inArray(commands.status, ['awaiting_consent', 'queued']), lt(commands.createdAt, new Date(now - this.timings.credentialsTtlMs))))
      .limit(200)
    for (const { id, sessionId } of due) {
      await this.feed.change(sessionId, async (s) => {
        await s.next()
        const [row] = await s.tx.select().from(commands).where(eq(commands.id, id)).for('update')
        if (row) await this.commands.finish(s, row, 'cancelled', 'The agent did not pick up the credentials in time; they were dropped')
      })
    }
    return due.length
  }
}
