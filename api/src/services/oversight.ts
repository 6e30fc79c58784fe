import { and, eq, sql } from 'drizzle-orm'
import { chatMessages, supportSessions, users } from '../db/schema.ts'
import type { Principal } from './auth.service.ts'
import type { SessionTx } from './feed.ts'

/** What a site admin can do on another CSR's session, each named in the CSR's chat. */
export const ADMIN_ACTIONS = {
  chat: 'is writing in this chat',
  system_info: 'asked for the customer’s system information',
  run_scripts: 'asked to run scripts',
  cancel_scripts: 'cancelled script runs',
  logon: 'asked to log on as another user',
  logon_credentials: 'sent logon credentials',
  logoff: 'logged the other user off',
  reboot: 'asked to restart the customer’s computer',
  end: 'ended the session',
  cancel_consent: 'withdrew a request to the customer',
  admit_agent: 'let a new computer join this session',
} as const
export type AdminAction = keyof typeof ADMIN_ACTIONS

/** What the contract says on each route an admin may use on someone else's session. */
export const ADMIN_OVERSIGHT_NOTE =
  'The session’s CSR or a site admin; when a site admin acts on another CSR’s session, that session’s chat names the admin and the action and its audit trail gets an admin.acted event (docs/access.md).'

/**
 * Site admins may act on any CSR's session, and the CSR always sees it: the one place that
 * guarantees it. Called inside the change that acts; when the user is an admin who is not the
 * session's CSR, the change also gets an `admin.acted` audit event (the admin as actor) and a
 * system line naming the admin and the action. Chat is named once per admin and session (the
 * admin's messages carry their name already); the audit event is written every time.
 */
export async function noteAdminAction(s: SessionTx, principal: Principal, action: AdminAction): Promise<void> {
  if (principal.role !== 'admin') return
  const [session] = await s.tx.select({ csrId: supportSessions.csrId }).from(supportSessions).where(eq(supportSessions.id, s.sessionId))
  if (!session || session.csrId === principal.userId) return
  const [admin] = await s.tx.select({ name: users.name }).from(users).where(eq(users.id, principal.userId))
  const data = { adminId: principal.userId, adminName: admin?.name ?? '', action }
  await s.event('admin.acted', { type: 'user', id: principal.userId }, data)
  if (action === 'chat' && (await alreadyNamed(s, principal.userId))) return
  await s.systemLine(`Site admin ${data.adminName} ${ADMIN_ACTIONS[action]}`, 'admin.acted', data)
}

async function alreadyNamed(s: SessionTx, adminId: string): Promise<boolean> {
  const [line] = await s.tx
    .select({ id: chatMessages.id })
    .from(chatMessages)
    .where(
      and(
        eq(chatMessages.sessionId, s.sessionId),
        eq(chatMessages.sender, 'system'),
        sql`${chatMessages.systemEvent}->>'type' = 'admin.acted'`,
        sql`${chatMessages.systemEvent}->'data'->>'adminId' = ${adminId}`,
        sql`${chatMessages.systemEvent}->'data'->>'action' = 'chat'`,
      ),
    )
    .limit(1)
  return line !== undefined
}
