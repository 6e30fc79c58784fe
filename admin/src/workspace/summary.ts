import type { AgentInfo } from '../api/resources/sessions.ts'
import type { LiveState } from '../resources/sessions/live.ts'
import { agentDisplayStatus } from '../resources/sessions/format.ts'
import { isFinal } from '../resources/script-batches/status.ts'

/** What a workspace tab says about its session at a glance. */
export interface PaneSummary {
  id: string
  customerName: string
  status: LiveState['session']['status']
  agentStatus: AgentInfo['status'] | 'none' | 'disconnected'
  agent: AgentInfo | null
  /** Customer messages after the last one the CSR saw on this tab. */
  unread: number
  /** Consent requests the customer has not answered yet. */
  pendingConsents: number
  /** Script runs not finished (waiting for consent, queued or running). */
  runningScripts: number
  /** The newest chat message's seq: what "seen" moves to when the tab is looked at. */
  lastSeq: number
}

/** The newest chat seq of the session, or -1 when it has no chat yet. */
export function lastChatSeq(live: Pick<LiveState, 'chat'>): number {
  return live.chat.at(-1)?.seq ?? -1
}

/** The tab's badges from the session's live state; `seenSeq` is the last chat seq the CSR saw here. */
export function summarize(live: LiveState, seenSeq: number): PaneSummary {
  const { session } = live
  return {
    id: session.id,
    customerName: session.customerName,
    status: session.status,
    agentStatus: agentDisplayStatus(session.agent, session.status),
    agent: session.agent,
    unread: live.chat.filter((m) => m.sender === 'customer' && m.seq > seenSeq).length,
    pendingConsents: live.consents.filter((c) => c.status === 'pending').length,
    runningScripts: Object.values(live.runs).filter((r) => !isFinal(r.status)).length,
    lastSeq: lastChatSeq(live),
  }
}

/** Two summaries say the same: no re-render of the tab list for an unrelated change. */
export function sameSummary(a: PaneSummary | undefined, b: PaneSummary): boolean {
  return (
    a !== undefined &&
    a.customerName === b.customerName &&
    a.status === b.status &&
    a.agentStatus === b.agentStatus &&
    a.unread === b.unread &&
    a.pendingConsents === b.pendingConsents &&
    a.runningScripts === b.runningScripts &&
    a.lastSeq === b.lastSeq
  )
}

/** Something a CSR looking at another tab (or window) should hear about. */
export type News =
  | { kind: 'message'; body: string }
  | { kind: 'consent'; consentKind: string; status: 'approved' | 'denied' | 'expired' }
  | { kind: 'agent_left' }
  | { kind: 'ended' }

/**
 * What happened between two states of one session that is worth a notification: the customer
 * wrote, answered (or let expire) a consent request, the agent went away, the session ended.
 */
export function newsBetween(before: LiveState, after: LiveState): News[] {
  const news: News[] = []
  const lastSeq = lastChatSeq(before)
  for (const m of after.chat) {
    if (m.sender === 'customer' && m.seq > lastSeq) news.push({ kind: 'message', body: m.body })
  }
  const was = new Map(before.consents.map((c) => [c.id, c.status]))
  for (const c of after.consents) {
    const previous = was.get(c.id)
    if ((previous === 'pending' || previous === undefined) && (c.status === 'approved' || c.status === 'denied' || c.status === 'expired')) {
      // A consent first seen already answered was answered before this page knew of it: not news.
      if (previous === 'pending') news.push({ kind: 'consent', consentKind: c.kind, status: c.status })
    }
  }
  const agentBefore = agentDisplayStatus(before.session.agent, before.session.status)
  const agentAfter = agentDisplayStatus(after.session.agent, after.session.status)
  const ended = before.session.status !== 'ended' && after.session.status === 'ended'
  if (ended) news.push({ kind: 'ended' })
  else if (agentBefore === 'online' && (agentAfter === 'offline' || agentAfter === 'left')) news.push({ kind: 'agent_left' })
  return news
}

/** The tab after (or before) `current` in `ids`, wrapping around; the first when none is current. */
export function neighbour(ids: readonly string[], current: string | undefined, step: 1 | -1): string | undefined {
  if (ids.length === 0) return undefined
  const at = current === undefined ? -1 : ids.indexOf(current)
  if (at === -1) return ids[0]
  return ids[(at + step + ids.length) % ids.length]
}

/** `?open=a,b` of the workspace's URL: the sessions a link asked for (ids only, at most 20). */
export function parseOpen(search: string): string[] {
  const value = new URLSearchParams(search).get('open') ?? ''
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^[0-9a-f-]{36}$/i.test(s))
    .slice(0, 20)
}

/** The workspace's route, optionally with sessions to open. */
export function workspacePath(open: readonly string[] = []): string {
  return open.length > 0 ? `/workspace?open=${open.join(',')}` : '/workspace'
}
