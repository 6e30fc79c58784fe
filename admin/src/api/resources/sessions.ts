import type { operations, Schemas } from '@helpline/sdk'
import type { ListQuery, ResourceAdapter } from '../data-provider.ts'
import { call } from '../errors.ts'
import { dataOf, type HelplineClient } from '../client.ts'
import type { ScriptRun } from './script-batches.ts'

export type Session = Schemas['Session']
export type SessionStatus = Schemas['SessionStatus']
export type AgentInfo = Schemas['AgentInfo']
export type AgentStatus = Schemas['AgentStatus']
export type Consent = Schemas['Consent']
export type ConsentKind = Schemas['ConsentKind']
export type ConsentStatus = Schemas['ConsentStatus']
export type Command = Schemas['Command']
export type ChatMessage = Schemas['ChatMessage']
export type SnapshotSummary = Schemas['SnapshotSummary']
export type Snapshot = Schemas['Snapshot']
export type SystemInfoCategory = Schemas['SystemInfoCategory']
export type SessionEvent = Schemas['SessionEvent']
export type SessionReport = Schemas['SessionReport']
export type ReportScriptRun = Schemas['ReportScriptRun']
/** Every action that queues work (logon, credentials, log off, restart, system information) answers 202 with this. */
export type ActionAccepted = Schemas['ActionAccepted']
export type SystemInfoRequested = ActionAccepted
export type LogonRequested = ActionAccepted
export type CommandQueued = ActionAccepted
export type RebootRequested = ActionAccepted
export type JoinAttempt = Schemas['JoinAttempt']
export type AgentAdmission = Schemas['AgentAdmission']

type SessionQuery = NonNullable<operations['listSessions']['parameters']['query']>

const sortable = ['createdAt', 'status', 'customerName', 'endedAt'] as const satisfies readonly NonNullable<SessionQuery['sort']>[]
export const sessionStatuses = ['waiting', 'active', 'ended'] as const satisfies readonly SessionStatus[]

function isOneOf<T extends string>(choices: readonly T[], value: unknown): value is T {
  return choices.includes(value as T)
}

const dayPattern = /^(\d{4})-(\d{2})-(\d{2})$/

/**
 * A date filter as the API wants it (an ISO date-time). A day picked in a date input
 * (`2026-05-01`) means that day in the browser's time zone: `from` is its first moment, `to` the
 * first moment of the next day, so the day picked as "to" is included. A full date-time is
 * passed as it is; anything else is dropped.
 */
export function dayBoundary(value: unknown, edge: 'from' | 'to'): string | undefined {
  if (typeof value !== 'string' || !value.trim()) return undefined
  const day = dayPattern.exec(value.trim())
  if (day) {
    const [, y, m, d] = day
    const at = new Date(Number(y), Number(m) - 1, Number(d) + (edge === 'to' ? 1 : 0))
    return Number.isNaN(at.getTime()) ? undefined : at.toISOString()
  }
  const at = new Date(value)
  return /T/.test(value) && !Number.isNaN(at.getTime()) ? at.toISOString() : undefined
}

/** react-admin's filters arrive untyped: keep only those the endpoint knows, in its types. */
export function toSessionQuery(query: ListQuery): SessionQuery {
  const out: SessionQuery = {
    page: query.page,
    perPage: query.perPage,
    sort: isOneOf(sortable, query.sort) ? query.sort : 'createdAt',
    order: query.order ?? 'desc',
  }
  if (typeof query.q === 'string' && query.q.trim()) out.q = query.q.trim()
  if (isOneOf(sessionStatuses, query.status)) out.status = query.status
  if (query.mine === true) out.mine = true
  if (typeof query.csrId === 'string' && /^[0-9a-f-]{36}$/i.test(query.csrId)) out.csrId = query.csrId
  const from = dayBoundary(query.from, 'from')
  const to = dayBoundary(query.to, 'to')
  if (from) out.from = from
  if (to) out.to = to
  return out
}

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const trimmed = value.trim()
  return trimmed === '' ? undefined : trimmed
}

export function sessionsAdapter(client: HelplineClient): ResourceAdapter<Session> {
  const path = (id: unknown) => ({ path: { id: String(id) } })
  return {
    async getList(query) {
      return dataOf(await client.GET('/api/v1/sessions', { params: { query: toSessionQuery(query) } }))
    },
    async getOne(id) {
      return dataOf(await client.GET('/api/v1/sessions/{id}', { params: path(id) }))
    },
    async create(data) {
      const customerName = text(data.customerName)
      if (!customerName) throw new Error('customerName is required')
      const customerEmail = text(data.customerEmail)
      const description = text(data.description)
      const body = { customerName, ...(customerEmail ? { customerEmail } : {}), ...(description ? { description } : {}) }
      return dataOf(await client.POST('/api/v1/sessions', { body }))
    },
  }
}

/**
 * The Reports page lists sessions (each row opens that session's report): the same list
 * endpoint, under a resource of its own so its filters and page are kept apart from Sessions'.
 */
export function reportsAdapter(client: HelplineClient): ResourceAdapter<Session> {
  const { getList } = sessionsAdapter(client)
  return { getList }
}

/** The largest page the API serves; whole lists are read page by page. */
const PAGE = 100
/** A guard against a list that never ends (a bug, or a session with absurd history). */
const MAX_PAGES = 50

async function allPages<T>(fetchPage: (page: number) => Promise<{ data: T[]; total: number }>): Promise<T[]> {
  const out: T[] = []
  for (let page = 1; page <= MAX_PAGES; page++) {
    const { data, total } = await fetchPage(page)
    out.push(...data)
    if (data.length < PAGE || out.length >= total) break
  }
  return out
}

/** Everything the session page shows, read in one go (see `loadSessionView`). */
export interface SessionView {
  session: Session
  chat: ChatMessage[]
  consents: Consent[]
  commands: Command[]
  snapshots: SnapshotSummary[]
  /** The session's script runs as they are now; their chat lines may still carry an older status. */
  scriptRuns: ScriptRun[]
}

/** Calls on a session that are not CRUD; exposed on the data provider. */
export function sessionActions(client: HelplineClient) {
  const path = (id: string) => ({ path: { id } })
  const item = (id: string, itemId: string) => ({ path: { id, itemId } })

  const listChat = async (id: string): Promise<ChatMessage[]> => {
    const out: ChatMessage[] = []
    let after = 0
    for (let i = 0; i < MAX_PAGES; i++) {
      const { data } = dataOf(await client.GET('/api/v1/sessions/{id}/chat', { params: { ...path(id), query: { after, limit: 500 } } }))
      out.push(...data)
      if (data.length < 500) break
      after = data[data.length - 1]!.seq
    }
    return out
  }
  const listConsents = (id: string) =>
    allPages(async (page) =>
      dataOf(
        await client.GET('/api/v1/sessions/{id}/consents', {
          params: { ...path(id), query: { page, perPage: PAGE, sort: 'createdAt', order: 'asc' } },
        }),
      ),
    )
  const listSnapshots = (id: string) =>
    allPages(async (page) =>
      dataOf(
        await client.GET('/api/v1/sessions/{id}/snapshots', {
          params: { ...path(id), query: { page, perPage: PAGE, sort: 'collectedAt', order: 'asc' } },
        }),
      ),
    )
  // Only the latest commands matter to the page (is a collection waiting or running?).
  const recentCommands = async (id: string) =>
    dataOf(
      await client.GET('/api/v1/sessions/{id}/commands', {
        params: { ...path(id), query: { page: 1, perPage: PAGE, sort: 'createdAt', order: 'desc' } },
      }),
    ).data
  const listScriptRuns = (id: string) =>
    allPages(async (page) =>
      dataOf(await client.GET('/api/v1/sessions/{id}/script-runs', { params: { ...path(id), query: { page, perPage: PAGE } } })),
    )

  return {
    /**
     * The session first, then its lists: the session's `cursor` is then no newer than the lists,
     * so a stream opened after the cursor misses nothing (it may repeat a little, which the page
     * merges by id).
     */
    loadSessionView: (id: string): Promise<SessionView> =>
      call(async () => {
        const session = dataOf(await client.GET('/api/v1/sessions/{id}', { params: path(id) }))
        const [chat, consents, commands, snapshots, scriptRuns] = await Promise.all([
          listChat(id),
          listConsents(id),
          recentCommands(id),
          listSnapshots(id),
          // The runs only sharpen what the chat lines say: without them the page still works.
          listScriptRuns(id).catch(() => []),
        ])
        return { session, chat, consents, commands, snapshots, scriptRuns }
      }),
    endSession: (id: string): Promise<Session> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/end', { params: path(id) }))),
    /** Lets one new computer join with the number (it replaces the current agent). */
    admitAgent: (id: string): Promise<AgentAdmission> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/admit-agent', { params: path(id) }))),
    postChat: (id: string, body: string): Promise<ChatMessage> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/chat', { params: path(id), body: { body } }))),
    cancelConsent: (id: string, consentId: string): Promise<Consent> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/consents/{itemId}/cancel', { params: item(id, consentId) }))),
    requestSystemInfo: (id: string): Promise<SystemInfoRequested> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/system-info/refresh', { params: path(id) }))),
    getSnapshot: (id: string, snapshotId: string): Promise<Snapshot> =>
      call(async () => dataOf(await client.GET('/api/v1/sessions/{id}/snapshots/{itemId}', { params: item(id, snapshotId) }))),
    /** The API's own .txt rendering of a snapshot: every category, headings, aligned columns. */
    snapshotText: (id: string, snapshotId: string, lang?: string): Promise<string> =>
      call(async () =>
        dataOf(
          await client.GET('/api/v1/sessions/{id}/snapshots/{itemId}/text', {
            params: { ...item(id, snapshotId), query: lang ? { lang } : {} },
            parseAs: 'text',
          }),
        ),
      ),

    /** Asks the customer to allow logging on as another user; the answer carries the agent's public key. */
    requestLogon: (id: string): Promise<LogonRequested> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/logon', { params: path(id) }))),
    /**
     * Sends credentials already encrypted for the agent (see `encryptCredentials`): this call never
     * sees the password, so neither does anything that records calls and their arguments.
     */
    submitLogonCredentials: (id: string, consentId: string, ciphertext: string): Promise<CommandQueued> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/logon/credentials', { params: path(id), body: { consentId, ciphertext } }))),
    logoff: (id: string): Promise<CommandQueued> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/logoff', { params: path(id) }))),
    requestReboot: (id: string): Promise<RebootRequested> =>
      call(async () => dataOf(await client.POST('/api/v1/sessions/{id}/reboot', { params: path(id) }))),
    getSessionReport: (id: string): Promise<SessionReport> =>
      call(async () => dataOf(await client.GET('/api/v1/sessions/{id}/report', { params: path(id) }))),
    /** The API's .txt rendering of the report, for a ticket or an archive. */
    sessionReportText: (id: string, lang?: string): Promise<string> =>
      call(async () =>
        dataOf(await client.GET('/api/v1/sessions/{id}/report/text', { params: { ...path(id), query: lang ? { lang } : {} }, parseAs: 'text' })),
      ),
  }
}
