import { and, asc, eq, gt, lte } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'
import type { Db } from '../db/client.ts'
import { agents, chatMessages, commands, consentRequests, scriptOutputChunks, scriptRuns, systemInfoSnapshots } from '../db/schema.ts'
import type { Principal } from './auth.service.ts'
import type { ChatService } from './chat.service.ts'
import { toCommand } from './commands.service.ts'
import { toScriptRun } from './runs.service.ts'
import type { ConsentsService } from './consents.service.ts'
import type { SessionFeed } from './feed.ts'
import { toAgentInfo, type SessionsService } from './sessions.service.ts'
import { snapshotSummaryColumns, toSummary } from './system-info.service.ts'

/** One message of the console's live stream: `event:` name, `id:` change number, JSON data. */
export interface StreamEvent {
  seq: number
  event: 'session' | 'agent' | 'chat' | 'consent' | 'command' | 'snapshot' | 'script_run' | 'script_output'
  data: unknown
}

/**
 * The console's live view of a session: every change after a change number, in order. The same
 * change numbers as the agent's cursor, so a reconnect with Last-Event-ID misses nothing.
 */
export class SessionStream {
  constructor(
    private readonly db: Db,
    readonly feed: SessionFeed,
    private readonly sessions: SessionsService,
    private readonly chat: ChatService,
    private readonly consents: ConsentsService,
    private readonly offlineAfterMs: number,
  ) {}

  /** Checks access once, when the stream opens. */
  async open(principal: Principal, sessionId: string) {
    return this.sessions.findAccessible(principal, sessionId)
  }

  async read(sessionId: string, after: number): Promise<{ cursor: number; events: StreamEvent[] }> {
    const session = await this.sessions.findRow(sessionId)
    const upTo = session.feedSeq
    const from = after > upTo ? 0 : after
    const range = (col: AnyPgColumn) => and(gt(col, from), lte(col, upTo))
    const [chat, consents, commandRows, snapshots, agentRows, runRows, chunks] = await Promise.all([
      this.db.select().from(chatMessages).where(and(eq(chatMessages.sessionId, sessionId), range(chatMessages.seq))).orderBy(asc(chatMessages.seq)),
      this.db.select().from(consentRequests).where(and(eq(consentRequests.sessionId, sessionId), range(consentRequests.seq))),
      this.db.select().from(commands).where(and(eq(commands.sessionId, sessionId), range(commands.seq))),
      this.db
        .select({ ...snapshotSummaryColumns, seq: systemInfoSnapshots.seq })
        .from(systemInfoSnapshots)
        .where(and(eq(systemInfoSnapshots.sessionId, sessionId), range(systemInfoSnapshots.seq))),
      this.db.select().from(agents).where(and(eq(agents.sessionId, sessionId), range(agents.seq))),
      this.db.select().from(scriptRuns).where(and(eq(scriptRuns.sessionId, sessionId), range(scriptRuns.seq))),
      this.db
        .select()
        .from(scriptOutputChunks)
        .where(and(eq(scriptOutputChunks.sessionId, sessionId), range(scriptOutputChunks.seq)))
        .orderBy(asc(scriptOutputChunks.seq), asc(scriptOutputChunks.runId), asc(scriptOutputChunks.sequence)),
    ])
    const events: StreamEvent[] = []
    if (session.statusSeq > from) events.push({ seq: session.statusSeq, event: 'session', data: await this.sessions.getRow(session) })
    const chatOut = await this.chat.present(session, chat)
    chat.forEach((row, i) => events.push({ seq: row.seq, event: 'chat', data: chatOut[i] }))
    const consentOut = await this.consents.toConsents(consents)
    consents.forEach((row, i) => events.push({ seq: row.seq, event: 'consent', data: consentOut[i] }))
    for (const row of commandRows) events.push({ seq: row.seq, event: 'command', data: toCommand(row) })
    for (const { seq, ...row } of snapshots) events.push({ seq, event: 'snapshot', data: toSummary(row) })
    for (const row of agentRows) events.push({ seq: row.seq, event: 'agent', data: toAgentInfo(row, this.offlineAfterMs, session.status === 'ended' ? session.endedAt : null) })
    for (const row of runRows) events.push({ seq: row.seq, event: 'script_run', data: toScriptRun(row) })
    for (const c of chunks) {
      events.push({ seq: c.seq, event: 'script_output', data: { runId: c.runId, sequence: c.sequence, stream: c.stream, data: c.data, createdAt: c.createdAt.toISOString() } })
    }
    // Stable: events of one change number keep the order they were read in (a post's chunks in sequence).
    events.sort((a, b) => a.seq - b.seq)
    return { cursor: upTo, events }
  }
}
