import type { SessionStreamEvent } from '../../api/session-stream.ts'
import type {
  ChatMessage,
  Command,
  Consent,
  ConsentStatus,
  SessionView,
  SnapshotSummary,
} from '../../api/resources/sessions.ts'

/**
 * The session page's state: what `loadSessionView` read, then kept current by the stream and by
 * the answers to the page's own calls. Everything is merged by id, so an item seen twice (in a
 * list and again in the stream's replay) is one item, in its latest form.
 */
export type LiveState = SessionView

const time = (iso: string) => new Date(iso).getTime()

function upsert<T extends { id: string }>(items: T[], item: T, order: (a: T, b: T) => number): T[] {
  const rest = items.filter((i) => i.id !== item.id)
  return [...rest, item].sort(order)
}

const bySeq = (a: ChatMessage, b: ChatMessage) => a.seq - b.seq
const byCreated = <T extends { createdAt: string }>(a: T, b: T) => time(a.createdAt) - time(b.createdAt)
const byCollected = (a: SnapshotSummary, b: SnapshotSummary) => time(a.collectedAt) - time(b.collectedAt) || byCreated(a, b)

/** The latest view_system_info request's status: what `Session.systemInfoConsent` says. */
function systemInfoConsent(consents: Consent[]): ConsentStatus | null {
  const latest = consents.filter((c) => c.kind === 'view_system_info').sort(byCreated).at(-1)
  return latest?.status ?? null
}

export function initialState(view: SessionView): LiveState {
  return {
    ...view,
    chat: [...view.chat].sort(bySeq),
    consents: [...view.consents].sort(byCreated),
    commands: [...view.commands].sort(byCreated),
    snapshots: [...view.snapshots].sort(byCollected),
  }
}

export function liveReducer(state: LiveState, change: SessionStreamEvent): LiveState {
  // After a 401 react-admin's proxy resolves calls with `{ data: {} }`: not a change to apply.
  if (typeof change.data !== 'object' || change.data === null || !('id' in change.data)) return state
  switch (change.event) {
    case 'session':
      if (change.data.id !== state.session.id) return state
      return { ...state, session: { ...change.data, systemInfoConsent: systemInfoConsent(state.consents) ?? change.data.systemInfoConsent } }
    case 'agent': {
      const current = state.session.agent
      // The session shows its latest agent: a rejoin after a restart may be a new agent row.
      if (current && current.id !== change.data.id && time(change.data.joinedAt) < time(current.joinedAt)) return state
      return { ...state, session: { ...state.session, agent: change.data } }
    }
    case 'chat':
      return { ...state, chat: upsert(state.chat, change.data, bySeq) }
    case 'consent': {
      const consents = upsert(state.consents, change.data, byCreated)
      return { ...state, consents, session: { ...state.session, systemInfoConsent: systemInfoConsent(consents) } }
    }
    case 'command':
      return { ...state, commands: upsert(state.commands, change.data, byCreated) }
    case 'snapshot':
      return { ...state, snapshots: upsert(state.snapshots, change.data, byCollected) }
  }
}

/** What the System information view says about the latest collection. */
export type Activity =
  | { kind: 'idle' }
  | { kind: 'waiting_consent'; consent: Consent | undefined }
  | { kind: 'collecting'; command: Command }
  | { kind: 'collected'; command: Command }
  | { kind: 'denied' | 'expired' | 'cancelled'; consent: Consent | undefined }
  | { kind: 'failed'; command: Command }

/** The latest collection's state, from the commands and consents (so a reload shows the same). */
export function systemInfoActivity(state: LiveState): Activity {
  const command = state.commands.filter((c) => c.kind === 'collect_system_info').sort(byCreated).at(-1)
  if (!command) return { kind: 'idle' }
  const consent = command.consentId ? state.consents.find((c) => c.id === command.consentId) : undefined
  switch (command.status) {
    case 'awaiting_consent':
      return { kind: 'waiting_consent', consent }
    case 'queued':
    case 'delivered':
    case 'running':
      return { kind: 'collecting', command }
    case 'succeeded':
      return { kind: 'collected', command }
    case 'failed':
      return { kind: 'failed', command }
    case 'cancelled': {
      const status = consent?.status
      return { kind: status === 'denied' || status === 'expired' ? status : 'cancelled', consent }
    }
  }
}
