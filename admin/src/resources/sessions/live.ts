import type { SessionStreamEvent } from '../../api/session-stream.ts'
import type { OutputChunk, ScriptRun, ScriptRunOutput, ScriptRunStatus } from '../../api/resources/script-batches.ts'
import type {
  ChatMessage,
  Command,
  Consent,
  ConsentStatus,
  SessionView,
  SnapshotSummary,
} from '../../api/resources/sessions.ts'
import { laterStatus, mergeChunks } from '../script-batches/status.ts'

/**
 * The session page's state: what `loadSessionView` read, then kept current by the stream and by
 * the answers to the page's own calls. Everything is merged by id, so an item seen twice (in a
 * list and again in the stream's replay) is one item, in its latest form. Script runs are kept by
 * id, their output by run id (each chunk once, in sequence order).
 */
export interface LiveState extends Omit<SessionView, 'scriptRuns'> {
  runs: Record<string, ScriptRun>
  output: Record<string, OutputChunk[]>
}

/** What changes the state: a stream event, or a run's output the page read itself. */
export type LiveChange = SessionStreamEvent | { event: 'script_output_read'; data: ScriptRunOutput }

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

/** Of two reports of one run, the later: a replayed or late report does not undo a finish. */
function laterRun(current: ScriptRun | undefined, next: ScriptRun): ScriptRun {
  if (!current) return next
  return laterStatus(current.status, next.status) === next.status ? next : current
}

function addOutput(state: LiveState, runId: string, chunks: OutputChunk[]): LiveState {
  const current = state.output[runId] ?? []
  const merged = mergeChunks(current, chunks)
  return merged === current ? state : { ...state, output: { ...state.output, [runId]: merged } }
}

export function initialState(view: SessionView): LiveState {
  const { scriptRuns, ...rest } = view
  const runs: Record<string, ScriptRun> = {}
  for (const run of scriptRuns) runs[run.id] = laterRun(runs[run.id], run)
  return {
    ...rest,
    chat: [...view.chat].sort(bySeq),
    consents: [...view.consents].sort(byCreated),
    commands: [...view.commands].sort(byCreated),
    snapshots: [...view.snapshots].sort(byCollected),
    runs,
    output: {},
  }
}

export function liveReducer(state: LiveState, change: LiveChange): LiveState {
  // After a 401 react-admin's proxy resolves calls with `{ data: {} }`: not a change to apply.
  if (typeof change.data !== 'object' || change.data === null || !('id' in change.data || 'runId' in change.data)) return state
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
    case 'script_run': {
      if (change.data.sessionId !== state.session.id) return state
      const run = laterRun(state.runs[change.data.id], change.data)
      return run === state.runs[run.id] ? state : { ...state, runs: { ...state.runs, [run.id]: run } }
    }
    case 'script_output': {
      const { runId, ...chunk } = change.data
      return addOutput(state, runId, [chunk])
    }
    case 'script_output_read': {
      const next = addOutput(state, change.data.runId, change.data.chunks)
      const run = next.runs[change.data.runId]
      // The read's status is newer than a run record the page has not heard about since.
      if (!run || laterStatus(run.status, change.data.status) === run.status) return next
      return { ...next, runs: { ...next.runs, [run.id]: { ...run, status: change.data.status, outputBytes: change.data.outputBytes, outputTruncated: change.data.outputTruncated } } }
    }
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

/** A script run's chat line, with what the page has heard of the run since: the chat's log box. */
export interface ScriptRunView {
  runId: string
  batchId: string | undefined
  scriptName: string
  version: number | undefined
  /** From 0, of `count` scripts in the batch. */
  position: number | undefined
  count: number | undefined
  status: ScriptRunStatus
  exitCode: number | null
  durationMs: number | null
  error: string | null
  outputTruncated: boolean
  chunks: OutputChunk[]
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined)
const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined)

/**
 * The log box of a `script_run` system line, or undefined for any other line. The line is
 * rewritten when the run ends; the run's own record (from the stream) may be further along.
 */
export function scriptRunView(state: Pick<LiveState, 'runs' | 'output'>, message: ChatMessage): ScriptRunView | undefined {
  const event = message.systemEvent
  if (message.sender !== 'system' || event?.type !== 'script_run') return undefined
  const d = event.data
  const runId = text(d.runId)
  const lineStatus = text(d.status) as ScriptRunStatus | undefined
  if (!runId || !lineStatus) return undefined
  const run = state.runs[runId]
  const fromRun = run !== undefined && laterStatus(lineStatus, run.status) === run.status
  return {
    runId,
    batchId: text(d.batchId) ?? run?.batchId,
    scriptName: run?.scriptName ?? text(d.scriptName) ?? message.body,
    version: run?.version ?? int(d.version),
    position: run?.position ?? int(d.position),
    count: int(d.count),
    status: fromRun ? run.status : lineStatus,
    exitCode: fromRun ? run.exitCode : (int(d.exitCode) ?? null),
    durationMs: fromRun ? run.durationMs : (int(d.durationMs) ?? null),
    error: run?.error ?? null,
    outputTruncated: run?.outputTruncated ?? false,
    chunks: state.output[runId] ?? [],
  }
}
