import { and, asc, count, eq, gt, inArray } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { chatMessages, supportSessions, users } from '../db/schema.ts'
import type { ChatMessage } from '../schemas/sessions.ts'
import type { Principal } from './auth.service.ts'
import type { SessionFeed } from './feed.ts'
import { noteAdminAction } from './oversight.ts'
import { sessionEnded, type SessionRow, type SessionsService } from './sessions.service.ts'

export type ChatRow = typeof chatMessages.$inferSelect

export const SYSTEM_AUTHOR = 'Helpline'

/** Chat between the CSR and the customer, with system lines for what happens in the session. */
export class ChatService {
  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
    private readonly sessions: SessionsService,
  ) {}

  async present(session: Pick<SessionRow, 'customerName'>, rows: ChatRow[]): Promise<ChatMessage[]> {
    const userIds = [...new Set(rows.flatMap((r) => (r.userId ? [r.userId] : [])))]
    const names = userIds.length ? await this.db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, userIds)) : []
    const nameOf = new Map(names.map((n) => [n.id, n.name]))
    return rows.map((r) => ({
      id: r.id,
      seq: r.seq,
      sender: r.sender,
      authorName: r.sender === 'system' ? SYSTEM_AUTHOR : r.sender === 'customer' ? session.customerName : (nameOf.get(r.userId ?? '') ?? ''),
      body: r.body,
      systemEvent: r.systemEvent ?? null,
      createdAt: r.createdAt.toISOString(),
    }))
  }

  async list(principal: Principal, sessionId: string, after: number, limit: number) {
    const session = await this.sessions.findAccessible(principal, sessionId)
    const where = and(eq(chatMessages.sessionId, sessionId), gt(chatMessages.seq, after))
    const [rows, [total]] = await Promise.all([
      this.db.select().from(chatMessages).where(where).orderBy(asc(chatMessages.seq)).limit(limit),
      this.db.select({ n: count() }).from(chatMessages).where(where),
    ])
    return { data: await this.present(session, rows), total: total?.n ?? 0 }
  }

  async postAsCsr(principal: Principal, sessionId: string, body: string): Promise<ChatMessage> {
    const session = await this.sessions.findAccessible(principal, sessionId)
    return this.post(session, { sender: 'csr', userId: principal.userId }, body, principal)
  }

  async postAsCustomer(agent: { agentId: string; sessionId: string }, body: string): Promise<ChatMessage> {
    const session = await this.sessions.findRow(agent.sessionId)
    return this.post(session, { sender: 'customer', userId: null }, body)
  }

  private async post(session: SessionRow, from: { sender: 'csr' | 'customer'; userId: string | null }, body: string, principal?: Principal) {
    const row = await this.feed.change(session.id, async (s) => {
      const seq = await s.next()
      // Checked under the session's lock, so no message slips in after the end.
      const [current] = await s.tx.select({ status: supportSessions.status }).from(supportSessions).where(eq(supportSessions.id, session.id))
      if (current?.status === 'ended') throw sessionEnded()
      if (principal) await noteAdminAction(s, principal, 'chat')
      const [inserted] = await s.tx
        .insert(chatMessages)
        .values({ sessionId: session.id, sender: from.sender, userId: from.userId, body: body.trim() || body, seq })
        .returning()
      return inserted!
    })
    return (await this.present(session, [row]))[0]!
  }
}
