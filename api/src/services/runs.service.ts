import { randomUUID } from 'node:crypto'
import { and, asc, count, desc, eq, exists, gt, inArray, isNotNull, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { isUniqueViolation, preparedRows, rows } from '../db/raw.ts'
import {
  agents,
  chatMessages,
  commands,
  consentRequests,
  runBatches,
  scriptOutputChunks,
  scriptRuns,
  supportSessions,
  users,
  type BatchScriptRecord,
} from '../db/schema.ts'
import { conflict, notFound, unprocessable } from '../errors.ts'
import { canonicalJson } from '../lib/audit-chain.ts'
import { sha256Hex } from '../lib/script-files.ts'
import { cleanText } from '../lib/text.ts'
import type { AgentConsent } from '../schemas/agent.ts'
import type { Paging } from '../schemas/common.ts'
import {
  MAX_ARGS_BYTES,
  MAX_BATCH_SCRIPTS,
  MAX_BATCH_SESSIONS,
  MAX_OUTPUT_BYTES,
  type RunFinish,
  type RunScriptsConsentDetails,
  type RunScriptsPayload,
  type ScriptBatch,
  type ScriptBatchCreate,
  type ScriptBatchSummary,
  type ScriptRun,
  type ScriptRunStatus,
  type SessionRun,
  type SessionRunStatus,
} from '../schemas/runs.ts'
import type { AgentOffer } from './agents.service.ts'
import type { Principal } from './auth.service.ts'
import { OPEN_COMMAND_STATUSES, type CommandQueue, type CommandRow } from './commands.service.ts'
import { consentTitles, type ConsentsService } from './consents.service.ts'
import { chunks, systemActor, type Actor, type BulkEvent, type BulkTx, type SessionFeed, type SessionTx } from './feed.ts'
import { ADMIN_ACTIONS, noteAdminAction } from './oversight.ts'
import type { ScriptsService } from './scripts.service.ts'
import { formatNumber } from './sessions.service.ts'

export type ScriptRunRow = typeof scriptRuns.$inferSelect
type BatchRow = typeof runBatches.$inferSelect
/** One session's part of a batch. */
type PartRef = { sessionId: string; commandId: string; consentId: string }

/** A run of a batch as `batchRuns` reads it. */
type BatchRun = {
  run: ScriptRunRow
  number: string
  customerName: string
  consentStatus: (typeof consentRequests.$inferSelect)['status']
  command: Pick<CommandRow, 'status' | 'kind' | 'dispatchSeq'>
}

/** The parts (a session's command and consent) with a run not finished, in the order of their first run. */
function openPartsOf(rows: readonly BatchRun[]): PartRef[] {
  const parts = new Map<string, PartRef>()
  for (const { run } of rows) {
    if (OPEN_RUN.includes(run.status) && !parts.has(run.commandId)) parts.set(run.commandId, { sessionId: run.sessionId, commandId: run.commandId, consentId: run.consentId })
  }
  return [...parts.values()]
}

const OPEN_RUN: ScriptRunStatus[] = ['awaiting_consent', 'queued', 'running']
const FINAL_RUN: ScriptRunStatus[] = ['denied', 'expired', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'lost']
export const isFinalRun = (status: ScriptRunStatus) => FINAL_RUN.includes(status)

/**
 * Whether the script may still be running on the computer, as far as the server knows: running,
 * or cancelled by the CSR while it ran and the agent has not yet said how it ended (the duration
 * it reports is what marks that). Its output is taken until then, and refused afterwards.
 */
function runsOnAgent(run: ScriptRunRow): boolean {
  return run.status === 'running' || (run.status === 'cancelled' && run.startedAt !== null && run.durationMs === null)
}

/** ES2024's String methods, in Node since 20 (the project's TypeScript library is ES2022). */
type WellFormed = string & { isWellFormed(): boolean; toWellFormed(): string }

/**
 * Output text as PostgreSQL and JSON can hold it: NUL (which text cannot hold) and lone UTF-16
 * surrogates (which JSON cannot) become U+FFFD, as the UTF-8 bytes would have said. Checking
 * first keeps the usual case (nothing to replace) to two native scans and no copy of the text.
 */
export function storableText(text: string): string {
  const noNul = text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text
  return (noNul as WellFormed).isWellFormed() ? noNul : (noNul as WellFormed).toWellFormed()
}

/** One output chunk as stored (`bytes`: what counts toward the run's limit; info notes count 0). */
type OutputRow = { sequence: number; stream: string; data: string; bytes: number }

/** The smallest power of two that holds `n` rows (1 for none). */
const paddedLength = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)))

/** What an output post reads of its run (and whether its command was handed out: no row when not). */
type OutputTarget = { status: string; started: boolean; unreported: boolean; next_seq: number; bytes: number; truncated: boolean }

/** The audit data of a run's end: what `finishRun` and `finish` record alike. */
function runEndData(
  run: Pick<ScriptRunRow, 'id' | 'batchId' | 'scriptName' | 'version'>,
  end: Pick<ScriptRunRow, 'status' | 'exitCode' | 'durationMs' | 'error'>,
): Record<string, unknown> {
  return {
    runId: run.id,
    batchId: run.batchId,
    scriptName: run.scriptName,
    version: run.version,
    status: end.status,
    exitCode: end.exitCode,
    durationMs: end.durationMs,
    ...(end.error ? { error: end.error } : {}),
  }
}

/** One script of a session's part, as `finish` reads them all. */
type Sibling = { id: string; position: number; status: ScriptRunStatus; scriptName: string; version: number }
/** What `finish` reads in its one statement. */
type FinishRead = { run: ScriptRunRow; siblings: string; tail: string | null; head: string | null }
/** What `finish` writes: the run's end, the scripts after it closed (`rest`), the command when it is done. */
type FinishPlan = {
  status: ScriptRunStatus
  facts: { exitCode?: number | null; durationMs?: number | null; error?: string | null; truncated?: boolean }
  actor: Actor
  completing: boolean
  rest?: { status: 'skipped' | 'cancelled'; error: string } | undefined
  command?: CommandRow
}

/** An output post with nothing new (a retried post): its answer, and its transaction rolled back. */
class NothingNew extends Error {
  constructor(readonly answer: { stored: number; duplicates: number; status: ScriptRunStatus }) {
    super('nothing new')
  }
}

/** The agent says how many output chunks it produced; the end of a run with some missing is refused. */
function assertOutputComplete(run: ScriptRunRow, produced: number | undefined) {
  if (produced === undefined || produced <= run.outputNextSeq) return
  throw conflict('OUTPUT_SEQUENCE_GAP', `The server holds ${run.outputNextSeq} of the ${produced} output chunks; send the rest before the end`, {
    expectedSequence: String(run.outputNextSeq),
  })
}

/** Open batches a session may have queued at once; more is 409 RUN_QUEUE_FULL. */
export const MAX_OPEN_RUNS_PER_SESSION = 5

const runNotFound = () => notFound('Script run', 'RUN_NOT_FOUND')
const batchNotFound = () => notFound('Script batch', 'BATCH_NOT_FOUND')

/** What the customer is told a run_scripts request will do (their agent words it in their language). */
const RUN_EFFECT =
  'Runs these scripts on this computer, one after another in this order, each in a new temporary folder that is removed afterwards. ' +
  'Their output is sent to your support representative.'

const statusWords: Record<ScriptRunStatus, string> = {
  awaiting_consent: 'waiting for the customer',
  queued: 'queued',
  denied: 'denied',
  expired: 'not answered in time',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed out',
  cancelled: 'cancelled',
  skipped: 'skipped',
  lost: 'lost (the agent went away)',
}

/** One session's part of a batch, from its consent and its scripts' statuses. */
export function sessionRunStatus(consent: string, runs: readonly { status: ScriptRunStatus }[]): SessionRunStatus {
  if (consent === 'pending') return 'awaiting_consent'
  if (consent === 'denied') return 'denied'
  if (consent === 'expired') return 'expired'
  const statuses = runs.map((r) => r.status)
  if (statuses.includes('running')) return 'running'
  if (statuses.includes('queued')) return statuses.some((s) => isFinalRun(s)) ? 'running' : 'queued'
  if (statuses.includes('awaiting_consent')) return 'awaiting_consent'
  if (statuses.includes('cancelled')) return 'cancelled'
  return statuses.every((s) => s === 'succeeded') ? 'succeeded' : 'failed'
}

export function toScriptRun(row: ScriptRunRow): ScriptRun {
  return {
    id: row.id,
    batchId: row.batchId,
    sessionId: row.sessionId,
    commandId: row.commandId,
    position: row.position,
    scriptId: row.scriptId,
    scriptName: row.scriptName,
    version: row.version,
    digest: row.digest,
    args: row.args,
    timeoutSeconds: row.timeoutSeconds,
    status: row.status,
    exitCode: row.exitCode,
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    durationMs: row.durationMs,
    error: row.error,
    outputBytes: row.outputBytes,
    outputTruncated: row.outputTruncated,
  }
}

/** How much of a run's output its chat line carries for API readers (the whole log: …/output). */
export const CHAT_TAIL_LINES = 10
export const CHAT_TAIL_CHARS = 2000
/** How many characters from the end of a run's output its tail is looked for in. */
const OUTPUT_TAIL_WINDOW = 16 * 1024

/** The last lines of a text, at most CHAT_TAIL_LINES and CHAT_TAIL_CHARS characters together. */
export function tailLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n+$/, '').split('\n').slice(-CHAT_TAIL_LINES)
  const kept: string[] = []
  let chars = 0
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = cleanText(lines[i]!)
    if (chars + line.length > CHAT_TAIL_CHARS) {
      if (kept.length === 0) kept.unshift(line.slice(-CHAT_TAIL_CHARS))
      break
    }
    chars += line.length
    kept.unshift(line)
  }
  return text === '' ? [] : kept
}

/**
 * The chat line of a run: one per script, written when it starts and rewritten when it ends.
 * When it ends it carries where its output is and its last lines (`tail`), so an integrator
 * reading /chat sees what the console shows.
 */
function chatLine(run: ScriptRunRow, count: number, tail?: string[]): { body: string; systemEvent: { type: string; data: Record<string, unknown> } } {
  const title = `"${run.scriptName}" v${run.version} (${run.position + 1}/${count})`
  let body = `Running ${title}`
  if (run.status !== 'running') {
    const facts = [run.exitCode !== null ? `exit ${run.exitCode}` : null, run.durationMs !== null ? `${(run.durationMs / 1000).toFixed(1)} s` : null].filter(Boolean)
    body = `${title}: ${statusWords[run.status]}${facts.length ? ` (${facts.join(', ')})` : ''}${run.error ? ` — ${run.error}` : ''}`
  }
  return {
    // Names and the agent's error text are interpolated: none of their control characters reach a reader.
    body: cleanText(body),
    systemEvent: {
      type: 'script_run',
      data: {
        runId: run.id,
        batchId: run.batchId,
        scriptName: run.scriptName,
        version: run.version,
        position: run.position,
        count,
        status: run.status,
        exitCode: run.exitCode,
        durationMs: run.durationMs,
        error: run.error,
        output: `/api/v1/script-runs/${run.id}/output`,
        outputBytes: run.outputBytes,
        outputTruncated: run.outputTruncated,
        ...(tail ? { tail } : {}),
      },
    },
  }
}

/** Cuts text to at most `bytes` UTF-8 bytes without splitting a character. */
function cutUtf8(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8')
  if (buf.length <= bytes) return text
  let end = bytes
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--
  return buf.subarray(0, end).toString('utf8')
}

export interface RunTimings {
  lostGraceMs: number
}

/**
 * Running library scripts: a batch records the exact versions once; each targeted session gets a
 * run_scripts consent and command and a script_runs row per script. The agent starts each run
 * (at most once: its journaled start id), streams output in numbered chunks (stored once),
 * and finishes it; the server keeps the order, stop-at-first-failure, cancellation and the
 * `lost` verdict for agents that went away.
 */
export class RunsService {
  constructor(
    private readonly db: Db,
    private readonly feed: SessionFeed,
    private readonly consents: ConsentsService,
    private readonly commands: CommandQueue,
    private readonly scripts: ScriptsService,
    private readonly timings: RunTimings,
  ) {
    commands.observe('run_scripts', {
      // The runs are queued with their command, taking its change number (its release): no number
      // of their own, so the release's offer to the agent's held poll stays whole (runs are the
      // console's). In SQL for a release written set-based (the consent's answer).
      released: async (s, command) => {
        await s.tx
          .update(scriptRuns)
          .set({ status: 'queued', seq: command.seq })
          .where(and(eq(scriptRuns.commandId, command.id), eq(scriptRuns.status, 'awaiting_consent')))
      },
      releasedSql: (released) =>
        sql`update script_runs x set status = 'queued', seq = r.seq from ${released} as r where x.command_id = r.id and x.status = 'awaiting_consent'`,
      consentClosed: async (s, command, outcome) => {
        const status = outcome === 'denied' ? 'denied' : outcome === 'expired' ? 'expired' : 'cancelled'
        const error = { denied: 'The customer denied the request', expired: 'The customer did not answer in time', cancelled: 'The request was withdrawn' }[outcome]
        await this.setRuns(s, and(eq(scriptRuns.commandId, command.id), eq(scriptRuns.status, 'awaiting_consent'))!, { status, error, finishedAt: new Date() })
      },
      finished: async (s, command, status, error) => {
        // Runs still open when their command ends: cancelled with it, or failed for the reason the agent gave.
        const open = await s.tx
          .select()
          .from(scriptRuns)
          .where(and(eq(scriptRuns.commandId, command.id), inArray(scriptRuns.status, OPEN_RUN)))
          .orderBy(asc(scriptRuns.position))
          .for('update')
        for (const run of open) {
          const final = status === 'cancelled' ? 'cancelled' : 'failed'
          // A script cancelled while it runs goes on until the agent has killed it: its duration
          // (and the end of its output) come with the agent's report.
          const facts = { error: error ?? (final === 'cancelled' ? 'Cancelled' : 'Failed'), ...(final === 'cancelled' && run.status === 'running' ? { durationMs: null } : {}) }
          await this.finishRun(s, run, final, facts, systemActor)
        }
      },
    })
  }

  // ── The CSR's side ──────────────────────────────────────────────────────────────────────

  /**
   * A new batch; or, when `idempotencyKey` names one this user created before with the same
   * request, that batch as it is now (`replayed`), nothing run again — whatever has changed since
   * (a session ended, a script was edited). The same key with another request is 422
   * IDEMPOTENCY_KEY_REUSED. A request refused (422, 404, 409) leaves no key behind: its retry is
   * a new attempt. Two requests with the same key at once: the second waits for the first's commit
   * (the unique index) and answers its batch.
   */
  async create(principal: Principal, input: ScriptBatchCreate, idempotencyKey?: string): Promise<{ batch: ScriptBatch; replayed: boolean }> {
    const key = idempotencyKey === undefined ? undefined : { key: idempotencyKey, hash: requestHash(input) }
    if (key) {
      const earlier = await this.batchOfKey(principal, key)
      if (earlier) return earlier
    }
    try {
      return { batch: await this.createNew(principal, input, key), replayed: false }
    } catch (err) {
      const earlier = key && isUniqueViolation(err) ? await this.batchOfKey(principal, key) : undefined
      if (earlier) return earlier
      throw err
    }
  }

  /** The batch this user created with `key`, as it is now; 422 when it was created by another request. */
  private async batchOfKey(principal: Principal, key: BatchKey): Promise<{ batch: ScriptBatch; replayed: true } | undefined> {
    const [row] = await this.db
      .select({ id: runBatches.id, requestHash: runBatches.requestHash })
      .from(runBatches)
      .where(and(eq(runBatches.createdBy, principal.userId), eq(runBatches.idempotencyKey, key.key)))
    if (!row) return undefined
    if (row.requestHash !== key.hash) {
      throw unprocessable('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for another request: use a new key for a new batch', {
        'idempotency-key': 'Already used for another request',
      })
    }
    return { batch: await this.get(principal, row.id), replayed: true }
  }

  private async createNew(principal: Principal, input: ScriptBatchCreate, key: BatchKey | undefined): Promise<ScriptBatch> {
    const count = input.scripts.length
    if (count === 0) throw unprocessable('NO_SCRIPTS', 'Choose at least one script to run', { scripts: 'Choose at least one script' })
    if (count > MAX_BATCH_SCRIPTS) {
      throw unprocessable('TOO_MANY_SCRIPTS', `A batch runs at most ${MAX_BATCH_SCRIPTS} scripts; ${count} were chosen`, { scripts: `At most ${MAX_BATCH_SCRIPTS}` })
    }
    const sessionIds = input.sessionIds
    if (sessionIds.length === 0) throw unprocessable('NO_SESSIONS', 'Choose at least one session', { sessionIds: 'Choose at least one session' })
    if (sessionIds.length > MAX_BATCH_SESSIONS) {
      throw unprocessable('TOO_MANY_SESSIONS', `A batch targets at most ${MAX_BATCH_SESSIONS} sessions; ${sessionIds.length} were chosen`, {
        sessionIds: `At most ${MAX_BATCH_SESSIONS}`,
      })
    }
    const seen = new Set<string>()
    sessionIds.forEach((id, i) => {
      if (seen.has(id)) throw unprocessable('DUPLICATE_SESSION', `Session ${id} is chosen twice`, { [`sessionIds.${i}`]: 'Chosen twice' })
      seen.add(id)
    })
    const argBytes = input.scripts.reduce((sum, s) => sum + (s.args ?? []).reduce((n, a) => n + Buffer.byteLength(a, 'utf8'), 0), 0)
    if (argBytes > MAX_ARGS_BYTES) {
      throw unprocessable('ARGUMENTS_TOO_LONG', `The arguments take ${argBytes} bytes together; the limit is ${MAX_ARGS_BYTES} bytes`, {
        scripts: `Arguments at most ${MAX_ARGS_BYTES} bytes in total`,
      })
    }
    input.scripts.forEach((s, i) => {
      if ((s.args ?? []).some((a) => a.includes('\u0000'))) {
        throw unprocessable('INVALID_ARGUMENT', 'An argument cannot contain a NUL character', { [`scripts.${i}.args`]: 'No NUL characters' })
      }
    })

    const library = await this.scripts.resolveForRun({ userId: principal.userId, role: principal.role }, input.scripts.map((s) => s.scriptId))
    const records: BatchScriptRecord[] = input.scripts.map((item, position) => {
      const script = library.get(item.scriptId)!
      return {
        position,
        scriptId: script.id,
        name: script.name,
        version: script.version,
        versionId: script.versionId,
        digest: script.digest,
        size: script.size,
        files: script.files.map((f) => ({ name: f.name, role: f.role, size: f.size, sha256: f.sha256 })),
        args: item.args ?? [],
        timeoutSeconds: item.timeoutSeconds ?? script.defaultTimeoutSeconds,
        signature: script.signature,
        signatureKeyId: script.signatureKeyId,
      }
    })

    await this.checkTargets(principal, sessionIds)
    // The answer is built from what was written: read back after the commit, it would queue
    // behind the polls of every agent the batch just woke.
    return this.feed.changeMany(sessionIds, (_of, bulk) => this.queueBatch(bulk, principal, records, input.stopOnFailure ?? false, sessionIds, key))
  }

  /** Every target must be the caller's (admins: anyone's) and active, with its customer still there. */
  private async checkTargets(principal: Principal, sessionIds: readonly string[]) {
    const rows = await this.db.select().from(supportSessions).where(inArray(supportSessions.id, [...sessionIds]))
    const latest = await this.db
      .selectDistinctOn([agents.sessionId], { sessionId: agents.sessionId, state: agents.state })
      .from(agents)
      .where(inArray(agents.sessionId, [...sessionIds]))
      .orderBy(agents.sessionId, desc(agents.joinedAt))
    const byId = new Map(rows.map((r) => [r.id, r]))
    const agentState = new Map(latest.map((a) => [a.sessionId, a.state]))
    const problems: Record<string, string> = {}
    const messages: string[] = []
    sessionIds.forEach((id, i) => {
      const row = byId.get(id)
      let problem: string | undefined
      if (!row || (principal.role !== 'admin' && row.csrId !== principal.userId)) problem = `Session ${id} is not one of your sessions`
      else if (row.status !== 'active') problem = `Session ${formatNumber(row.number)} (${row.customerName}) is not active`
      else if (agentState.get(id) === 'left' || agentState.get(id) === 'replaced') problem = `Session ${formatNumber(row.number)} (${row.customerName}): the customer left`
      if (problem) {
        problems[`sessionIds.${i}`] = problem
        messages.push(problem)
      }
    })
    if (messages.length > 0) throw unprocessable('SESSION_NOT_ACTIVE', messages.join('; '), problems)
  }

  /**
   * The batch and every session's part of it, set-based: a constant number of statements however
   * many sessions (the batch row, two checks, the sessions' change numbers, one multi-row insert
   * per table, the audit events). Each session gets what one session's request always got, with
   * the same change numbers in the same order: its consent request and chat line, its command
   * (awaiting the consent), its runs, the admin's line when an admin acts on another CSR's
   * session, and the audit events. All or nothing: one refused session refuses the batch.
   */
  private async queueBatch(
    bulk: BulkTx,
    principal: Principal,
    records: BatchScriptRecord[],
    stopOnFailure: boolean,
    sessionIds: readonly string[],
    key: BatchKey | undefined,
  ): Promise<ScriptBatch> {
    const { tx } = bulk
    // The key rides on the batch's own row, and its unique index makes a second request with it
    // wait for this one's commit and then fail (create answers it this batch). Its entry must be
    // taken after the sessions' locks, as a batch on several sessions takes them (changeMany, up
    // front): a one-session batch takes its session's lock only later (reserve), and two requests
    // with one key, one on [S1] and one on [S1, S2], would each wait for the other.
    if (key && sessionIds.length === 1) {
      await tx.select({ id: supportSessions.id }).from(supportSessions).where(eq(supportSessions.id, sessionIds[0]!)).for('update')
    }
    const [batch] = await tx
      .insert(runBatches)
      .values({ createdBy: principal.userId, stopOnFailure, scripts: records, sessionIds: [...sessionIds], idempotencyKey: key?.key ?? null, requestHash: key?.hash ?? null })
      .returning()
    const admin = await this.assertQueueable(tx, principal, sessionIds, batch!)
    // The session's lock, then one number per write (below); each session's offer counts them too.
    const numbers = (sessionId: string) => (admin.named.has(sessionId) ? 6 : 5)
    const first = await bulk.reserve(sessionIds, numbers)
    const user: Actor = { type: 'user', id: principal.userId }
    const expiresAt = new Date(Date.now() + this.consents.expiryMs)
    const consentRows: (typeof consentRequests.$inferInsert)[] = []
    const commandRows: (typeof commands.$inferInsert)[] = []
    const runRows: (typeof scriptRuns.$inferInsert)[] = []
    const chatRows: (typeof chatMessages.$inferInsert)[] = []
    const events: BulkEvent[] = []
    for (const sessionId of sessionIds) {
      // f is the session's lock (as `next()` first thing in a change), then one number per write.
      const f = first.get(sessionId)!
      const { scripts, details, payload } = this.partOf(batch!)
      const consentId = randomUUID()
      const commandId = randomUUID()
      const asked = { consentId, kind: 'run_scripts' as const }
      consentRows.push({ id: consentId, sessionId, kind: 'run_scripts', requestedBy: principal.userId, details: { ...details }, expiresAt, seq: f + 1 })
      events.push({ sessionId, type: 'consent.requested', actor: user, data: asked })
      chatRows.push({ sessionId, sender: 'system', body: cleanText(`Asked the customer: ${consentTitles.run_scripts}`), systemEvent: { type: 'consent.requested', data: asked }, seq: f + 2 })
      commandRows.push({ id: commandId, sessionId, kind: 'run_scripts', status: 'awaiting_consent', consentId, payload: { ...payload }, createdBy: principal.userId, seq: f + 3 })
      events.push({ sessionId, type: 'command.created', actor: user, data: { commandId, kind: 'run_scripts' } })
      for (const r of scripts) runRows.push(this.newRunRow(batch!, r, sessionId, commandId, consentId, f + 4))
      if (admin.named.has(sessionId)) {
        const data = { adminId: principal.userId, adminName: admin.name, action: 'run_scripts' }
        events.push({ sessionId, type: 'admin.acted', actor: user, data })
        chatRows.push({ sessionId, sender: 'system', body: cleanText(`Site admin ${admin.name} ${ADMIN_ACTIONS.run_scripts}`), systemEvent: { type: 'admin.acted', data }, seq: f + 5 })
      }
      events.push({
        sessionId,
        type: 'script_batch.requested',
        actor: user,
        data: {
          batchId: batch!.id,
          commandId,
          consentId,
          stopOnFailure: batch!.stopOnFailure,
          scripts: scripts.map((r) => ({ runId: r.runId, name: r.name, version: r.version, digest: r.digest, args: r.args, timeoutSeconds: r.timeoutSeconds })),
        },
      })
    }
    // Parents before children (foreign keys): requests, commands, runs; chat lines; the trail.
    for (const part of chunks(consentRows)) await tx.insert(consentRequests).values(part)
    for (const part of chunks(commandRows)) await tx.insert(commands).values(part)
    const written: ScriptRunRow[] = []
    for (const part of chunks(runRows, 1000)) written.push(...(await tx.insert(scriptRuns).values(part).returning()))
    for (const part of chunks(chatRows)) await tx.insert(chatMessages).values(part)
    await bulk.events(events)
    const [creator] = await tx.select({ name: users.name }).from(users).where(eq(users.id, principal.userId))
    // Each agent's whole feed from this change is its consent request (the chat lines are system
    // lines, the command waits for the consent, the runs are the console's): offered to its held
    // poll, which answers without a read. `read` names the requester as this does.
    for (const c of consentRows) {
      const consent: AgentConsent = { id: c.id!, kind: 'run_scripts', status: 'pending', requestedBy: creator?.name ?? '', details: c.details, expiresAt: expiresAt.toISOString() }
      bulk.offer(c.sessionId, { rows: [], commands: [], consents: [consent] } satisfies AgentOffer, numbers(c.sessionId))
    }
    return this.answer(batch!, creator?.name ?? '', written, admin.sessions)
  }

  /** A new batch as `get` would read it: every part waiting for its customer. */
  private answer(batch: BatchRow, creatorName: string, runs: ScriptRunRow[], sessions: Map<string, { number: string; customerName: string }>): ScriptBatch {
    const bySession = new Map<string, ScriptRunRow[]>()
    for (const run of runs) bySession.set(run.sessionId, [...(bySession.get(run.sessionId) ?? []), run])
    return {
      ...this.summaryProps(batch, creatorName, runs),
      scripts: batch.scripts,
      sessions: batch.sessionIds.map((sessionId) => {
        const list = (bySession.get(sessionId) ?? []).sort((a, b) => a.position - b.position)
        const session = sessions.get(sessionId)!
        return {
          sessionId,
          sessionNumber: formatNumber(session.number),
          customerName: session.customerName,
          commandId: list[0]!.commandId,
          consentId: list[0]!.consentId,
          status: sessionRunStatus('pending', list),
          runs: list.map(toScriptRun),
        }
      }),
    }
  }

  /**
   * Under the sessions' locks: each target still active and with room in its queue (the first
   * refused one, in the order chosen, refuses the batch). Also which sessions are another CSR's
   * when an admin asks (their chat names the admin).
   */
  private async assertQueueable(tx: Db, principal: Principal, sessionIds: readonly string[], batch: BatchRow) {
    const ids = [...sessionIds]
    const sessions = await tx
      .select({ id: supportSessions.id, status: supportSessions.status, number: supportSessions.number, customerName: supportSessions.customerName })
      .from(supportSessions)
      .where(inArray(supportSessions.id, ids))
    const open = await tx
      .select({ sessionId: commands.sessionId, n: count() })
      .from(commands)
      .where(and(inArray(commands.sessionId, ids), eq(commands.kind, 'run_scripts'), inArray(commands.status, OPEN_COMMAND_STATUSES)))
      .groupBy(commands.sessionId)
    const byId = new Map(sessions.map((r) => [r.id, r]))
    const openOf = new Map(open.map((r) => [r.sessionId, r.n]))
    for (const id of ids) {
      const session = byId.get(id)
      if (session?.status !== 'active') {
        throw unprocessable('SESSION_NOT_ACTIVE', `Session ${session ? formatNumber(session.number) : id} is not active`, {
          [`sessionIds.${batch.sessionIds.indexOf(id)}`]: 'Not active',
        })
      }
      if ((openOf.get(id) ?? 0) >= MAX_OPEN_RUNS_PER_SESSION) {
        throw conflict('RUN_QUEUE_FULL', `Session ${formatNumber(session.number)} already has ${MAX_OPEN_RUNS_PER_SESSION} script runs waiting or running; cancel one or wait`)
      }
    }
    return { ...(await this.adminNamed(tx, principal, ids)), sessions: new Map(sessions.map((r) => [r.id, r])) }
  }

  /** The sessions of another CSR an admin acts on (their chat names the admin, noteAdminAction), and the admin's name. */
  private async adminNamed(tx: Db, principal: Principal, sessionIds: readonly string[]): Promise<{ named: Set<string>; name: string }> {
    if (principal.role !== 'admin') return { named: new Set(), name: '' }
    const others = await tx
      .select({ id: supportSessions.id })
      .from(supportSessions)
      .where(and(inArray(supportSessions.id, [...sessionIds]), sql`${supportSessions.csrId} <> ${principal.userId}`))
    const named = new Set(others.map((r) => r.id))
    const [me] = named.size > 0 ? await tx.select({ name: users.name }).from(users).where(eq(users.id, principal.userId)) : []
    return { named, name: me?.name ?? '' }
  }

  /** One session's part of a batch: fresh run ids, what the customer is asked, what the agent gets. */
  private partOf(batch: BatchRow) {
    const scripts = batch.scripts.map((r) => ({ ...r, runId: randomUUID(), executable: r.files.find((f) => f.role === 'executable')!.name }))
    // The agent recomputes the digest from these files and checks the signature over
    // versionStatement({ scriptId, versionId, number: version, digest }) before asking the customer.
    const details: RunScriptsConsentDetails = {
      batchId: batch.id,
      stopOnFailure: batch.stopOnFailure,
      effect: RUN_EFFECT,
      scripts: scripts.map((r) => ({
        position: r.position,
        scriptId: r.scriptId,
        versionId: r.versionId,
        name: r.name,
        version: r.version,
        size: r.size,
        digest: r.digest,
        signature: r.signature ?? '',
        signatureKeyId: r.signatureKeyId ?? '',
        executable: r.executable,
        files: r.files,
        args: r.args,
        timeoutSeconds: r.timeoutSeconds,
      })),
    }
    const payload: RunScriptsPayload = {
      batchId: batch.id,
      stopOnFailure: batch.stopOnFailure,
      scripts: scripts.map((r) => ({
        runId: r.runId,
        position: r.position,
        name: r.name,
        version: r.version,
        executable: r.executable,
        files: r.files,
        args: r.args,
        timeoutSeconds: r.timeoutSeconds,
      })),
    }
    return { scripts, details, payload }
  }

  private newRunRow(batch: BatchRow, r: BatchScriptRecord & { runId: string }, sessionId: string, commandId: string, consentId: string, seq: number): typeof scriptRuns.$inferInsert {
    return {
      id: r.runId,
      batchId: batch.id,
      sessionId,
      commandId,
      consentId,
      position: r.position,
      scriptId: r.scriptId,
      versionId: r.versionId,
      scriptName: r.name,
      version: r.version,
      digest: r.digest,
      args: r.args,
      timeoutSeconds: r.timeoutSeconds,
      status: 'awaiting_consent',
      seq,
    }
  }

  private async batchRow(principal: Principal, id: string): Promise<BatchRow> {
    const [row] = await this.db.select().from(runBatches).where(eq(runBatches.id, id))
    if (!row || (principal.role !== 'admin' && row.createdBy !== principal.userId)) throw batchNotFound()
    return row
  }

  async get(principal: Principal, id: string): Promise<ScriptBatch> {
    const batch = await this.batchRow(principal, id)
    const [creator] = await this.db.select({ name: users.name }).from(users).where(eq(users.id, batch.createdBy))
    return this.toBatch(batch, creator?.name ?? '', await this.batchRuns(this.db, id))
  }

  /** Every run of a batch (by position) with its session, its consent's status and its command's. */
  private batchRuns(db: Db, batchId: string): Promise<BatchRun[]> {
    return db
      .select({
        run: scriptRuns,
        number: supportSessions.number,
        customerName: supportSessions.customerName,
        consentStatus: consentRequests.status,
        command: { status: commands.status, kind: commands.kind, dispatchSeq: commands.dispatchSeq },
      })
      .from(scriptRuns)
      .innerJoin(supportSessions, eq(supportSessions.id, scriptRuns.sessionId))
      .innerJoin(consentRequests, eq(consentRequests.id, scriptRuns.consentId))
      .innerJoin(commands, eq(commands.id, scriptRuns.commandId))
      .where(eq(scriptRuns.batchId, batchId))
      .orderBy(asc(scriptRuns.position))
  }

  private toBatch(batch: BatchRow, creatorName: string, runs: readonly BatchRun[]): ScriptBatch {
    const bySession = new Map<string, BatchRun[]>()
    for (const row of runs) {
      const list = bySession.get(row.run.sessionId)
      if (list) list.push(row)
      else bySession.set(row.run.sessionId, [row])
    }
    const sessions: SessionRun[] = batch.sessionIds.flatMap((sessionId) => {
      const list = bySession.get(sessionId)
      if (!list?.length) return []
      const first = list[0]!
      return [
        {
          sessionId,
          sessionNumber: formatNumber(first.number),
          customerName: first.customerName,
          commandId: first.run.commandId,
          consentId: first.run.consentId,
          status: sessionRunStatus(first.consentStatus, list.map((r) => r.run)),
          runs: list.map((r) => toScriptRun(r.run)),
        },
      ]
    })
    return {
      ...this.summaryProps(batch, creatorName, runs.map((r) => r.run)),
      scripts: batch.scripts,
      sessions,
    }
  }

  private summaryProps(batch: BatchRow, creatorName: string, runs: readonly Pick<ScriptRunRow, 'status' | 'finishedAt'>[]) {
    const counts: Record<string, number> = {}
    for (const r of runs) counts[r.status] = (counts[r.status] ?? 0) + 1
    const finished = runs.every((r) => isFinalRun(r.status))
    const last = runs.reduce<Date | null>((max, r) => (r.finishedAt && (!max || r.finishedAt > max) ? r.finishedAt : max), null)
    return {
      id: batch.id,
      createdBy: { id: batch.createdBy, name: creatorName },
      createdAt: batch.createdAt.toISOString(),
      stopOnFailure: batch.stopOnFailure,
      status: finished ? ('finished' as const) : ('running' as const),
      finishedAt: finished ? (last ?? batch.createdAt).toISOString() : null,
      cancelledAt: batch.cancelledAt?.toISOString() ?? null,
      scriptCount: batch.scripts.length,
      sessionCount: batch.sessionIds.length,
      counts,
    }
  }

  async list(
    principal: Principal,
    query: Paging<'createdAt'> & { status?: 'running' | 'finished' | undefined; sessionId?: string | undefined },
  ): Promise<{ data: ScriptBatchSummary[]; total: number }> {
    const where: SQL[] = []
    if (principal.role !== 'admin') where.push(eq(runBatches.createdBy, principal.userId))
    const openRuns = this.db
      .select({ one: sql`1` })
      .from(scriptRuns)
      .where(and(eq(scriptRuns.batchId, runBatches.id), inArray(scriptRuns.status, OPEN_RUN)))
    if (query.status === 'running') where.push(exists(openRuns))
    if (query.status === 'finished') where.push(sql`not ${exists(openRuns)}`)
    if (query.sessionId) where.push(sql`${runBatches.sessionIds} @> ${JSON.stringify([query.sessionId])}::jsonb`)
    const filter = where.length ? and(...where) : undefined
    const [rows, [total]] = await Promise.all([
      this.db
        .select({ batch: runBatches, creatorName: users.name })
        .from(runBatches)
        .innerJoin(users, eq(users.id, runBatches.createdBy))
        .where(filter)
        .orderBy(query.order === 'desc' ? desc(runBatches.createdAt) : asc(runBatches.createdAt), asc(runBatches.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(runBatches).where(filter),
    ])
    const ids = rows.map((r) => r.batch.id)
    const runs = ids.length
      ? await this.db.select({ batchId: scriptRuns.batchId, status: scriptRuns.status, finishedAt: scriptRuns.finishedAt }).from(scriptRuns).where(inArray(scriptRuns.batchId, ids))
      : []
    const byBatch = new Map<string, typeof runs>()
    for (const r of runs) {
      const list = byBatch.get(r.batchId)
      if (list) list.push(r)
      else byBatch.set(r.batchId, [r])
    }
    return {
      data: rows.map(({ batch, creatorName }) => ({
        ...this.summaryProps(batch, creatorName, byBatch.get(batch.id) ?? []),
        scriptNames: batch.scripts.map((s) => s.name),
      })),
      total: total?.n ?? 0,
    }
  }

  /**
   * Cancels every session's run that is not finished: the running script is killed, the rest
   * cancelled. The answer is built from what the change read under the sessions' locks and wrote,
   * not read back after the commit: that read would queue behind the polls of every agent the
   * cancel just woke.
   */
  async cancel(principal: Principal, id: string): Promise<ScriptBatch> {
    const [found] = await this.db
      .select({
        batch: runBatches,
        creatorName: users.name,
        open: sql<string[] | null>`(select json_agg(distinct ${scriptRuns.sessionId}) from ${scriptRuns} where ${scriptRuns.batchId} = ${runBatches.id} and ${inArray(scriptRuns.status, OPEN_RUN)})`,
      })
      .from(runBatches)
      .innerJoin(users, eq(users.id, runBatches.createdBy))
      .where(eq(runBatches.id, id))
    if (!found || (principal.role !== 'admin' && found.batch.createdBy !== principal.userId)) throw batchNotFound()
    const { batch, creatorName } = found
    const finished = () => conflict('BATCH_FINISHED', 'Every run of this batch has already finished')
    if (!found.open?.length) throw finished()
    const { rest, answer } = await this.feed.changeMany(found.open, async (of, bulk) => {
      // Read again under the locks: a part may have finished since.
      const runs = await this.batchRuns(bulk.tx, batch.id)
      const parts = openPartsOf(runs)
      if (parts.length === 0) throw finished()
      const done = await this.cancelParts(bulk, of(parts[0]!.sessionId), batch.id, runs, principal)
      const cancelled = { ...batch, cancelledAt: done.at }
      return { rest: done.rest, answer: this.toBatch(cancelled, creatorName, done.rows) }
    })
    if (rest.length === 0) return answer
    // Parts with a script already started take the one-session path (the agent must stop it).
    for (const part of rest) await this.feed.change(part.sessionId, (s) => this.cancelPart(s, part, principal))
    return this.get(principal, batch.id)
  }

  async cancelSession(principal: Principal, id: string, sessionId: string): Promise<ScriptBatch> {
    const batch = await this.batchRow(principal, id)
    if (!batch.sessionIds.includes(sessionId)) throw notFound('Session run', 'RUN_NOT_FOUND')
    const [part] = (await this.openParts(batch.id)).filter((p) => p.sessionId === sessionId)
    if (!part) throw conflict('RUN_FINISHED', 'This session’s run has already finished')
    await this.feed.change(sessionId, (s) => this.cancelPart(s, part, principal))
    return this.get(principal, batch.id)
  }

  private async openParts(batchId: string) {
    return this.db
      .selectDistinct({ sessionId: scriptRuns.sessionId, commandId: scriptRuns.commandId, consentId: scriptRuns.consentId })
      .from(scriptRuns)
      .where(and(eq(scriptRuns.batchId, batchId), inArray(scriptRuns.status, OPEN_RUN)))
  }

  /**
   * Cancels, set-based, every part of a batch that no script of has started: still waiting for
   * the customer (the request is withdrawn, its command and runs cancelled) or approved and not
   * yet started (the command and its runs cancelled). The same rows, change numbers, chat lines
   * and audit events as `cancelPart` writes one session at a time, in a constant number of
   * statements, and the batch marked cancelled. `read`: every run of the batch as read under the
   * sessions' locks (`batchRuns`); `s`: any session of the change (the statement of the rows
   * announces the commit through it). Returns the parts left for `cancelPart` (a script started or
   * running), the runs as written, and the instant written.
   */
  private async cancelParts(bulk: BulkTx, s: SessionTx, batchId: string, read: readonly BatchRun[], principal: Principal): Promise<{ rest: PartRef[]; rows: BatchRun[]; at: Date }> {
    const { tx } = bulk
    const parts = openPartsOf(read)
    const partRow = new Map<string, BatchRun>()
    const runsOf = new Map<string, ScriptRunRow[]>()
    for (const r of read) {
      partRow.set(r.run.commandId, r)
      if (OPEN_RUN.includes(r.run.status)) runsOf.set(r.run.commandId, [...(runsOf.get(r.run.commandId) ?? []), r.run])
    }
    const commandOf = (p: PartRef) => partRow.get(p.commandId)!.command
    const consentOf = (p: PartRef) => partRow.get(p.commandId)!.consentStatus
    const pending = (p: PartRef) => consentOf(p) === 'pending' && commandOf(p).status === 'awaiting_consent'
    const unstarted = (p: PartRef) =>
      consentOf(p) !== 'pending' &&
      OPEN_COMMAND_STATUSES.includes(commandOf(p).status) &&
      commandOf(p).kind === 'run_scripts' &&
      (runsOf.get(p.commandId) ?? []).every((r) => r.status === 'queued' && r.startedAt === null)
    const fast = parts.filter((p) => pending(p) || unstarted(p))
    const now = new Date()
    const admin = fast.length > 0 ? await this.adminNamed(tx, principal, fast.map((p) => p.sessionId)) : { named: new Set<string>(), name: '' }
    const count = (p: PartRef) => 1 + (admin.named.has(p.sessionId) ? 1 : 0) + (pending(p) ? 4 : 1 + (runsOf.get(p.commandId)?.length ?? 0))
    const partOf = new Map(fast.map((p) => [p.sessionId, p]))
    const first = await bulk.reserve(fast.map((p) => p.sessionId), (id) => count(partOf.get(id)!))
    const user: Actor = { type: 'user', id: principal.userId }
    const withdrawn = 'The support representative cancelled the run'
    const byCsr = 'Cancelled by the support representative'
    const consentSeqs: { id: string; seq: number }[] = []
    const commandSeqs: { id: string; seq: number; error: string }[] = []
    const runSeqs: { id: string; seq: number; error: string }[] = []
    const chatRows: (typeof chatMessages.$inferInsert)[] = []
    const events: BulkEvent[] = []
    for (const p of fast) {
      let seq = first.get(p.sessionId)! // the session's lock, as `next()` first thing in a change
      const sessionId = p.sessionId
      if (admin.named.has(sessionId)) {
        const data = { adminId: principal.userId, adminName: admin.name, action: 'cancel_scripts' }
        events.push({ sessionId, type: 'admin.acted', actor: user, data })
        chatRows.push({ sessionId, sender: 'system', body: cleanText(`Site admin ${admin.name} ${ADMIN_ACTIONS.cancel_scripts}`), systemEvent: { type: 'admin.acted', data }, seq: ++seq })
      }
      if (pending(p)) {
        // ConsentsService.close(cancelled) → CommandQueue.cancelForConsent → the runs' consentClosed, then finish.
        const data = { consentId: p.consentId, kind: 'run_scripts', reason: withdrawn }
        consentSeqs.push({ id: p.consentId, seq: ++seq })
        events.push({ sessionId, type: 'consent.cancelled', actor: user, data })
        chatRows.push({ sessionId, sender: 'system', body: cleanText(`Request withdrawn: ${consentTitles.run_scripts}`), systemEvent: { type: 'consent.cancelled', data }, seq: ++seq })
        for (const r of runsOf.get(p.commandId) ?? []) runSeqs.push({ id: r.id, seq: seq + 1, error: 'The request was withdrawn' })
        seq++
        commandSeqs.push({ id: p.commandId, seq: ++seq, error: 'Consent cancelled' })
        events.push({ sessionId, type: 'command.cancelled', actor: systemActor, data: { commandId: p.commandId, kind: 'run_scripts', error: 'Consent cancelled' } })
      } else {
        // CommandQueue.finish(cancelled) → the runs' `finished` observer, one run at a time in order.
        commandSeqs.push({ id: p.commandId, seq: ++seq, error: byCsr })
        events.push({ sessionId, type: 'command.cancelled', actor: systemActor, data: { commandId: p.commandId, kind: 'run_scripts', error: byCsr } })
        for (const r of runsOf.get(p.commandId) ?? []) {
          runSeqs.push({ id: r.id, seq: ++seq, error: byCsr })
          events.push({
            sessionId,
            type: 'script_run.cancelled',
            actor: systemActor,
            data: { runId: r.id, batchId: r.batchId, scriptName: r.scriptName, version: r.version, status: 'cancelled', exitCode: null, durationMs: null, error: byCsr },
          })
        }
        // The agent's whole feed from this session's numbers (a held poll here answers without a
        // read): the command cancelled, when it was released (`cancelledSince`); the rest of what
        // this change writes (runs, system lines, events) is not in the feed.
        if (commandOf(p).dispatchSeq !== null) bulk.offer(sessionId, { rows: [], commands: [], cancelledCommands: [p.commandId] } satisfies AgentOffer, count(p))
      }
    }
    // The rows and the batch in one statement, before the events: a webhook built from an event
    // reads the batch's runs (script_batch.finished). Every number and offer is known by now, so
    // it also announces the commit (the events and chat lines after it change neither).
    const at = now.toISOString()
    const announce = s.announceSql()
    const [result] = await preparedRows<{ announced: number | null }>(
      tx,
      sql`with consents_done as (
            update consent_requests c set status = 'cancelled', answered_at = null, seq = r.seq
            from jsonb_to_recordset(${JSON.stringify(consentSeqs)}::jsonb) as r(id uuid, seq integer)
            where c.id = r.id and c.status = 'pending' returning 1),
          commands_done as (
            update commands c set status = 'cancelled', error = r.error, finished_at = ${at}::timestamptz, seq = r.seq
            from jsonb_to_recordset(${JSON.stringify(commandSeqs)}::jsonb) as r(id uuid, seq integer, error text)
            where c.id = r.id returning 1),
          runs_done as (
            update script_runs x set status = 'cancelled', error = r.error, finished_at = ${at}::timestamptz, seq = r.seq, exit_code = null, duration_ms = null
            from jsonb_to_recordset(${JSON.stringify(runSeqs)}::jsonb) as r(id uuid, seq integer, error text)
            where x.id = r.id returning 1),
          batch_done as (update run_batches set cancelled_at = ${at}::timestamptz where id = ${batchId}::uuid returning 1)
        select ${announce ?? sql`null::integer`} as announced`,
    )
    if (announce) s.announced(result?.announced)
    for (const part of chunks(chatRows)) await tx.insert(chatMessages).values(part)
    await bulk.events(events)
    // What was written, as `batchRuns` would read it now.
    const runDone = new Map(runSeqs.map((r) => [r.id, r]))
    const consentDone = new Set(consentSeqs.map((c) => c.id))
    const written = read.map((r) => {
      const run = runDone.get(r.run.id)
      if (!run) return r
      return {
        ...r,
        consentStatus: consentDone.has(r.run.consentId) ? ('cancelled' as const) : r.consentStatus,
        run: { ...r.run, status: 'cancelled' as const, error: run.error, finishedAt: now, seq: run.seq, exitCode: null, durationMs: null },
      }
    })
    return { rest: parts.filter((p) => !fast.includes(p)), rows: written, at: now }
  }

  private async cancelPart(s: SessionTx, part: { commandId: string; consentId: string }, principal: Principal) {
    await s.next()
    const actor: Actor = { type: 'user', id: principal.userId }
    await noteAdminAction(s, principal, 'cancel_scripts')
    // Still waiting for the customer: withdrawing the request closes their prompt and cancels the runs.
    if (await this.consents.withdrawInTx(s, part.consentId, actor, 'The support representative cancelled the run')) return
    const [command] = await s.tx.select().from(commands).where(eq(commands.id, part.commandId)).for('update')
    if (command) await this.commands.finish(s, command, 'cancelled', 'Cancelled by the support representative')
  }

  private async runRow(principal: Principal, runId: string): Promise<ScriptRunRow> {
    const [row] = await this.db
      .select({ run: scriptRuns, csrId: supportSessions.csrId })
      .from(scriptRuns)
      .innerJoin(supportSessions, eq(supportSessions.id, scriptRuns.sessionId))
      .where(eq(scriptRuns.id, runId))
    if (!row || (principal.role !== 'admin' && row.csrId !== principal.userId)) throw runNotFound()
    return row.run
  }

  async getRun(principal: Principal, runId: string): Promise<ScriptRun> {
    return toScriptRun(await this.runRow(principal, runId))
  }

  async output(principal: Principal, runId: string, after: number, limit: number) {
    const run = await this.runRow(principal, runId)
    const chunks = await this.db
      .select()
      .from(scriptOutputChunks)
      .where(and(eq(scriptOutputChunks.runId, runId), gt(scriptOutputChunks.sequence, after)))
      .orderBy(asc(scriptOutputChunks.sequence))
      .limit(limit + 1)
    const page = chunks.slice(0, limit)
    return {
      runId,
      status: run.status,
      outputBytes: run.outputBytes,
      outputTruncated: run.outputTruncated,
      chunks: page.map((c) => ({ sequence: c.sequence, stream: c.stream, data: c.data, createdAt: c.createdAt.toISOString() })),
      next: chunks.length > limit ? page[page.length - 1]!.sequence : null,
    }
  }

  /** A session's script runs, oldest first, in each batch's order (the report reads them). */
  async listForSession(sessionId: string, query: Paging<'position'>) {
    const where = eq(scriptRuns.sessionId, sessionId)
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(scriptRuns)
        .where(where)
        .orderBy(query.order === 'desc' ? desc(scriptRuns.createdAt) : asc(scriptRuns.createdAt), asc(scriptRuns.position))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(scriptRuns).where(where),
    ])
    return { data: rows.map(toScriptRun), total: total?.n ?? 0 }
  }

  // ── The agent's side ────────────────────────────────────────────────────────────────────

  /**
   * The bytes of one file of a run's script version, while the run may still start or runs. Only
   * files the customer was asked about are served, and only when their bytes still hash to the
   * sha256 in the batch (what the customer approved) and in the file's row: otherwise 422
   * DIGEST_MISMATCH, recorded in the site audit trail.
   */
  async agentFile(agent: { agentId: string; sessionId: string }, runId: string, name: string) {
    const [row] = await this.db
      .select({ run: scriptRuns, consentStatus: consentRequests.status, batchScripts: runBatches.scripts })
      .from(scriptRuns)
      .innerJoin(commands, eq(commands.id, scriptRuns.commandId))
      .innerJoin(consentRequests, eq(consentRequests.id, scriptRuns.consentId))
      .innerJoin(runBatches, eq(runBatches.id, scriptRuns.batchId))
      .where(and(eq(scriptRuns.id, runId), eq(scriptRuns.sessionId, agent.sessionId), isNotNull(commands.dispatchSeq)))
    if (!row || row.consentStatus !== 'approved') throw runNotFound()
    const { run } = row
    if (run.status !== 'queued' && run.status !== 'running') throw conflict('RUN_FINISHED', `This run is ${run.status}; its files are no longer served`)
    const approved = row.batchScripts.find((s) => s.position === run.position)?.files.find((f) => f.name === name)
    const file = approved && (await this.scripts.versionFile(run.versionId, name))
    if (!approved || !file) throw notFound('Script file', 'FILE_NOT_FOUND')
    const actual = sha256Hex(file.content)
    if (actual !== approved.sha256 || actual !== file.sha256 || file.content.length !== approved.size) {
      const problem = { reason: 'file' as const, file: name, expected: `sha256 ${approved.sha256}, ${approved.size} bytes`, actual: `sha256 ${actual}, ${file.content.length} bytes` }
      const version = { id: run.versionId, scriptId: run.scriptId, scriptName: run.scriptName, number: run.version }
      await this.scripts.integrity.record({ type: 'agent', id: agent.agentId }, version, problem, 'download')
      throw this.scripts.integrity.mismatch(version, problem, 'name', 'It is not served.')
    }
    return file
  }

  /**
   * Four statements between BEGIN and COMMIT: the change number (the session's lock), one read of
   * the run with what its checks need (its command handed out, an earlier script still open, the
   * number of scripts, the head of the audit trail), one write of the chat line, the run and its
   * command (with the same change numbers one after another as when they were separate), and the
   * audit events.
   */
  async start(agent: { agentId: string; sessionId: string }, runId: string, startId: string): Promise<{ duplicate: boolean; status: ScriptRunStatus }> {
    return this.feed.change(agent.sessionId, async (s) => {
      await s.next()
      s.consoleOnly() // a system line, the run's and its command's status: nothing in the agent's feed
      const [row] = await s.tx
        .select({
          run: scriptRuns,
          commandStatus: commands.status,
          commandKind: commands.kind,
          earlier: sql<number | null>`(select min(e.position) from script_runs e
            where e.command_id = ${scriptRuns.commandId} and e.position < ${scriptRuns.position} and e.status in ('awaiting_consent', 'queued', 'running'))`,
          total: sql<number>`(select count(*) from script_runs t where t.command_id = ${scriptRuns.commandId})::integer`,
          head: sql<string | null>`${s.headSql}`,
        })
        .from(scriptRuns)
        // A command not handed out makes the run not exist for the agent.
        .innerJoin(commands, and(eq(commands.id, scriptRuns.commandId), eq(commands.sessionId, s.sessionId), isNotNull(commands.dispatchSeq)))
        .where(and(eq(scriptRuns.id, runId), eq(scriptRuns.sessionId, s.sessionId)))
        .for('update', { of: scriptRuns })
      if (!row) throw runNotFound()
      const { run } = row
      if (run.startId !== null) {
        if (run.startId === startId) return { duplicate: true, status: run.status }
        throw conflict('RUN_ALREADY_STARTED', `This script was already started (now ${run.status}); a script runs at most once per approval`)
      }
      if (run.status === 'cancelled') throw conflict('RUN_CANCELLED', 'This run was cancelled; do not start it')
      if (run.status === 'skipped') throw conflict('RUN_SKIPPED', 'This run was skipped after an earlier script failed; do not start it')
      if (run.status === 'awaiting_consent') throw conflict('CONSENT_REQUIRED', 'The customer has not approved this run')
      if (run.status !== 'queued') throw conflict('RUN_FINISHED', `This run already ${run.status}`)
      if (row.earlier !== null) {
        throw conflict('RUN_OUT_OF_ORDER', `Script ${Number(row.earlier) + 1} of this batch has not finished; scripts run one after another in order`)
      }
      s.knowHead(row.head)
      const started: ScriptRunRow = { ...run, status: 'running', startId, startedAt: new Date() }
      const line = chatLine(started, Number(row.total))
      // The command becomes running with its first script (commands.markRunning, in this statement).
      const markRunning = row.commandStatus !== 'running'
      const numbers = markRunning ? 3 : 2
      const command = markRunning
        ? sql`, c as (update commands set status = 'running', seq = (select base + 3 from n)
              where id = ${run.commandId}::uuid and status in ('queued', 'delivered', 'running') returning id)
            select exists (select 1 from c) as running`
        : sql` select false as running`
      const [written] = await rows<{ running: boolean }>(
        s.tx,
        sql`with n as (${s.take(numbers)}),
            m as (insert into chat_messages (session_id, sender, body, system_event, seq)
              select ${s.sessionId}::uuid, 'system'::chat_sender, ${line.body}::text, ${JSON.stringify(line.systemEvent)}::jsonb, n.base + 1 from n
              returning id),
            r as (update script_runs set status = 'running', start_id = ${startId}::text, started_at = ${started.startedAt!.toISOString()}::timestamptz,
              chat_message_id = (select id from m), seq = (select base + 2 from n)
              where id = ${run.id}::uuid returning id)${command}`,
      )
      if (written?.running) await s.event('command.running', { type: 'agent', id: agent.agentId }, { commandId: run.commandId, kind: row.commandKind })
      await s.event('script_run.started', { type: 'agent', id: agent.agentId }, {
        runId,
        batchId: run.batchId,
        scriptName: run.scriptName,
        version: run.version,
        digest: run.digest,
        args: run.args,
      })
      return { duplicate: false, status: 'running' as const }
    })
  }

  /**
   * Output chunks, stored once per (run, sequence) and without gaps: sequences continue from the
   * run's `outputNextSeq`; chunks below it are duplicates (a retried post), a post whose new chunks
   * do not continue exactly from it is refused with the sequence to resend from. Up to the per-run
   * limit; chunks past it still count as received.
   */
  async appendOutput(agent: { agentId: string; sessionId: string }, runId: string, chunks: { sequence: number; stream: 'stdout' | 'stderr' | 'info'; data: string }[]) {
    try {
      return await this.feed.change(agent.sessionId, (s) => this.appendIn(s, runId, chunks))
    } catch (err) {
      if (err instanceof NothingNew) return err.answer
      throw err
    }
  }

  /**
   * Three statements between BEGIN and COMMIT, whatever the number of chunks (and a `set local`
   * sent with the first): the change number (the session row's lock: every change of a run takes
   * it first, so posts of one session are serialised and a CSR's cancel waits instead of
   * deadlocking), the run with the handed-out check of its command (read after the lock, so it
   * sees the latest post), the chunks with the run's counters and, on PostgreSQL, the commit's
   * wake-up. A post with nothing new is rolled back: no change number spent, nobody woken.
   */
  private async appendIn(s: SessionTx, runId: string, chunks: { sequence: number; stream: 'stdout' | 'stderr' | 'info'; data: string }[]) {
    // Sent behind the lock without waiting: the chunks' statement below is planned generically
    // from its first run on a connection (PostgreSQL's default plans the first five with every
    // parameter's value copied in as a constant: 512 KiB of text several times over per post).
    const [seq] = await Promise.all([s.next(), s.tx.execute(sql`set local plan_cache_mode = force_generic_plan`)])
    s.consoleOnly() // output is the console's: the agent's held poll is not woken for it
    const [run] = await preparedRows<OutputTarget>(
      s.tx,
      sql`select r.status::text as status, r.started_at is not null as started, r.duration_ms is null as unreported,
            r.output_next_seq as next_seq, r.output_bytes as bytes, r.output_truncated as truncated
          from script_runs r join commands c on c.id = r.command_id and c.session_id = r.session_id and c.dispatch_seq is not null
          where r.id = ${runId}::uuid and r.session_id = ${s.sessionId}::uuid
          for update of r`,
    )
    // A run of another session, or of a command not handed out, does not exist for the agent.
    if (!run) throw runNotFound()
    const status = run.status as ScriptRunStatus
    if (!run.started) throw conflict('RUN_NOT_STARTED', 'Start the run before sending its output')
    // runsOnAgent(): running, or cancelled while it ran and its end not yet reported.
    if (!(status === 'running' || (status === 'cancelled' && run.unreported))) throw conflict('RUN_FINISHED', `This run already ${status}: its output is complete`)
    const expected = Number(run.next_seq)
    const fresh = [...new Map(chunks.map((c) => [c.sequence, c])).values()].filter((c) => c.sequence >= expected).sort((a, b) => a.sequence - b.sequence)
    if (fresh.length === 0) throw new NothingNew({ stored: 0, duplicates: chunks.length, status })
    const hole = fresh.findIndex((c, i) => c.sequence !== expected + i)
    if (hole !== -1) {
      const missing = hole === 0 ? expected : fresh[hole - 1]!.sequence + 1
      throw conflict('OUTPUT_SEQUENCE_GAP', `Output chunk ${missing} is missing; the server expects chunk ${expected} next: send again from there`, {
        expectedSequence: String(expected),
      })
    }
    let room = MAX_OUTPUT_BYTES - Number(run.bytes)
    let truncated = run.truncated
    const list: OutputRow[] = []
    for (const c of fresh) {
      // The agent cuts output at the limit itself; this keeps a misbehaving one to it too.
      // Its own short notes (info) are kept past it.
      // A script that prints NUL or a lone surrogate still gets its output kept.
      const clean = storableText(c.data)
      let data = c.stream === 'info' ? cutUtf8(clean, 4096) : clean
      let bytes = Buffer.byteLength(data, 'utf8')
      if (c.stream !== 'info' && bytes > room) {
        truncated = true
        if (room <= 0) continue
        data = cutUtf8(data, room)
        bytes = Buffer.byteLength(data, 'utf8')
      }
      if (c.stream !== 'info') room -= bytes
      list.push({ sequence: c.sequence, stream: c.stream, data, bytes: c.stream === 'info' ? 0 : bytes })
    }
    // One statement whatever the number of chunks: the chunks stored once each, and the run's
    // counters moved by what was really stored. Each chunk's text is its own parameter (at most
    // 64 chunks, 4 parameters each): no JSON document to build here and parse again in the
    // database, which for 512 KiB of output was most of a post's time. The unique index on
    // (run, sequence) stays the backstop of exactly-once.
    //
    // Prepared, with the rows padded to a power of two (unused ones null, left out): at most seven
    // texts per connection. Unprepared, PostgreSQL planned each post with its 512 KiB of text
    // copied into the plan as constants (4.5 ms of a backend's CPU per post, most of it page
    // faults, and a Parse/Describe round trip before the data went out); prepared and planned
    // generically (the `set local` above), it binds the texts as they are (0.2 ms).
    const padded: (OutputRow | undefined)[] = [...list, ...Array<undefined>(paddedLength(list.length) - list.length).fill(undefined)]
    const stored = list.length === 0 ? sql`select null::integer as bytes where false` : sql`insert into script_output_chunks (run_id, session_id, sequence, stream, data, bytes, seq)
            select ${runId}::uuid, ${s.sessionId}::uuid, r.sequence, r.stream, r.data, r.bytes, ${seq}
            from (values ${sql.join(
              padded.map((c) => sql`(${c?.sequence ?? null}::integer, ${c?.stream ?? null}::output_stream, ${c?.data ?? null}::text, ${c?.bytes ?? null}::integer)`),
              sql`, `,
            )}) as r (sequence, stream, data, bytes)
            where r.sequence is not null
            on conflict do nothing
            returning bytes`
    // The commit's wake-up rides on this last statement where the notifier can (PostgreSQL).
    const announce = s.announceSql()
    const [done] = await preparedRows<{ stored: number; announced: number | null }>(
      s.tx,
      sql`with stored as (${stored})
          update script_runs set output_bytes = output_bytes + (select coalesce(sum(bytes), 0) from stored),
            output_truncated = ${truncated}, output_next_seq = ${expected + fresh.length}
          where id = ${runId}::uuid
          returning (select count(*) from stored)::integer as stored, ${announce ?? sql`null::integer`} as announced`,
    )
    s.announced(done?.announced)
    return { stored: Number(done?.stored ?? 0), duplicates: chunks.length - fresh.length, status }
  }

  /**
   * Four statements between BEGIN and COMMIT however the batch goes on: the change number (the
   * session's lock), one read (the run, its command, its batch's stop-on-failure, its siblings,
   * the tail of its output, the head of the audit trail), one write (the run, its chat line, the
   * scripts after it that will not run, the command when this was its last open script, with the
   * change numbers one after another as `finishRun`/`closeRest`/`completeCommand` took them), and
   * the audit events.
   */
  async finish(agent: { agentId: string; sessionId: string }, runId: string, body: RunFinish): Promise<{ duplicate: boolean; status: ScriptRunStatus }> {
    return this.feed.change(agent.sessionId, async (s) => {
      await s.next()
      const [row] = await s.tx
        .select({
          run: scriptRuns,
          command: commands,
          stopOnFailure: runBatches.stopOnFailure,
          // Every script of the session's part, this one included, in order.
          siblings: sql<string>`(select coalesce(json_agg(json_build_object('id', o.id, 'position', o.position, 'status', o.status,
              'scriptName', o.script_name, 'version', o.version) order by o.position), '[]')::text
            from script_runs o where o.command_id = ${scriptRuns.commandId})`,
          tail: sql<string | null>`(${this.tailSql(runId)})`,
          head: sql<string | null>`${s.headSql}`,
        })
        .from(scriptRuns)
        // A command not handed out makes the run not exist for the agent.
        .innerJoin(commands, and(eq(commands.id, scriptRuns.commandId), eq(commands.sessionId, s.sessionId), isNotNull(commands.dispatchSeq)))
        .innerJoin(runBatches, eq(runBatches.id, scriptRuns.batchId))
        .where(and(eq(scriptRuns.id, runId), eq(scriptRuns.sessionId, s.sessionId)))
        .for('update', { of: scriptRuns })
      if (!row) throw runNotFound()
      const { run, command } = row
      const facts = { exitCode: body.exitCode ?? null, durationMs: body.durationMs, error: body.error ?? null, truncated: body.truncated ?? false }
      const agentActor: Actor = { type: 'agent', id: agent.agentId }
      if (run.status === 'cancelled' && runsOnAgent(run)) {
        // Cancelled by the CSR while it ran: the agent's report of how it ended completes the record.
        assertOutputComplete(run, body.outputChunks)
        await this.finishWrite(s, row, { status: 'cancelled', facts: { ...facts, error: run.error }, actor: agentActor, completing: true })
        return { duplicate: false, status: 'cancelled' as const }
      }
      if (isFinalRun(run.status)) {
        if (run.status === body.status) return { duplicate: true, status: run.status }
        throw conflict('RUN_FINISHED', `This run already ${run.status}`)
      }
      if (run.status === 'awaiting_consent') throw conflict('CONSENT_REQUIRED', 'The customer has not approved this run')
      // lost may come for a start the agent journaled but never got an answer to: it may have run.
      const needsStart = body.status === 'succeeded' || body.status === 'timed_out'
      if (needsStart && !run.startedAt) throw conflict('RUN_NOT_STARTED', `A run that never started cannot have ${body.status}`)
      assertOutputComplete(run, body.outputChunks)
      let rest: FinishPlan['rest']
      if (body.status === 'lost') {
        rest = { status: 'cancelled', error: 'Not run: the agent restarted while an earlier script of this batch was running' }
      } else if (body.status !== 'succeeded' && body.status !== 'skipped' && row.stopOnFailure) {
        rest = { status: 'skipped', error: `Skipped: "${run.scriptName}" ${statusWords[body.status]} and the batch stops at the first failure` }
      }
      await this.finishWrite(s, row, { status: body.status, facts, actor: agentActor, completing: false, rest, command })
      return { duplicate: false, status: body.status }
    })
  }

  /**
   * The writes of `finish` in one statement: what `finishRun` does for the run, `closeRest` for
   * the queued scripts after it, and `completeCommand` (commands.finish) for its command when no
   * script of it stays open. The command's own observer (this class's `finished`) has nothing to
   * do then (no run left open), so it is not called.
   */
  private async finishWrite(s: SessionTx, row: FinishRead, plan: FinishPlan) {
    const { run } = row
    s.knowHead(row.head)
    const siblings = JSON.parse(row.siblings) as Sibling[]
    const now = new Date()
    const finishedAt = plan.completing ? (run.finishedAt ?? now) : now
    const durationMs = plan.facts.durationMs !== undefined ? plan.facts.durationMs : run.startedAt ? now.getTime() - run.startedAt.getTime() : null
    const done: ScriptRunRow = {
      ...run,
      status: plan.status,
      exitCode: plan.facts.exitCode ?? null,
      durationMs,
      error: plan.facts.error ?? null,
      finishedAt,
      outputTruncated: run.outputTruncated || (plan.facts.truncated ?? false),
    }
    // Change numbers in the order the separate writes took them: the run, its chat line, each
    // closed script, the command.
    let offset = 0
    const parts: SQL[] = [
      sql`r as (update script_runs set status = ${done.status}::script_run_status, exit_code = ${done.exitCode}::integer, duration_ms = ${done.durationMs}::integer,
        error = ${done.error}::text, finished_at = ${finishedAt.toISOString()}::timestamptz, output_truncated = ${done.outputTruncated}::boolean,
        seq = (select base from n) + ${++offset}::integer where id = ${run.id}::uuid)`,
    ]
    if (done.chatMessageId) {
      const line = chatLine(done, siblings.length, tailLines(row.tail ?? ''))
      parts.push(sql`m as (update chat_messages set body = ${line.body}::text, system_event = ${JSON.stringify(line.systemEvent)}::jsonb,
        seq = (select base from n) + ${++offset}::integer where id = ${done.chatMessageId}::uuid)`)
    }
    const closed = plan.rest ? siblings.filter((o) => o.position > run.position && o.status === 'queued') : []
    if (closed.length > 0) {
      const values = sql.join(
        closed.map((o) => sql`(${o.id}::uuid, ${++offset}::integer)`),
        sql`, `,
      )
      parts.push(sql`x as (update script_runs set status = ${plan.rest!.status}::script_run_status, exit_code = null, duration_ms = null, error = ${plan.rest!.error}::text,
        finished_at = ${now.toISOString()}::timestamptz, seq = (select base from n) + v.o
        from (values ${values}) as v (id, o) where script_runs.id = v.id)`)
    }
    // Every script of the part final after this change: the command is done.
    const after = (o: Sibling) => (o.id === run.id ? plan.status : closed.some((c) => c.id === o.id) ? plan.rest!.status : o.status)
    const command = plan.command && siblings.every((o) => isFinalRun(after(o))) ? plan.command : undefined
    const bad = siblings.filter((o) => after(o) !== 'succeeded').length
    const commandStatus = bad === 0 ? 'succeeded' : 'failed'
    const commandError = bad === 0 ? null : `${bad} of ${siblings.length} scripts did not succeed`
    if (command) {
      parts.push(sql`c as (update commands set status = ${commandStatus}::command_status, error = ${commandError}::text, finished_at = ${now.toISOString()}::timestamptz,
        seq = (select base from n) + ${++offset}::integer
        where id = ${command.id}::uuid and status in (${sql.join(OPEN_COMMAND_STATUSES.map((st) => sql`${st}::command_status`), sql`, `)}) returning id)`)
    }
    const [written] = await rows<{ command_finished: boolean }>(
      s.tx,
      sql`with n as (${s.take(offset)}),
          ${sql.join(parts, sql`, `)}
          select ${command ? sql`exists (select 1 from c)` : sql`false`} as command_finished`,
    )
    await s.event(plan.completing ? 'script_run.ended' : `script_run.${plan.status}`, plan.actor, runEndData(run, done))
    for (const o of closed) {
      const end = { status: plan.rest!.status, exitCode: null, durationMs: null, error: plan.rest!.error }
      await s.event(`script_run.${end.status}`, systemActor, runEndData({ ...o, batchId: run.batchId }, end))
    }
    if (command && written?.command_finished) {
      await s.event(`command.${commandStatus}`, systemActor, { commandId: command.id, kind: command.kind, ...(commandError ? { error: commandError } : {}) })
    }
  }

  /**
   * The last lines a run wrote (stdout and stderr as they came), read from the last
   * OUTPUT_TAIL_WINDOW characters of its last chunks only: the database cuts them, so finishing a
   * run that wrote 1 MiB does not read its last 640 KiB back. The window holds the last lines
   * unless the output ends in thousands of blank lines or control characters.
   */
  private async outputTail(s: SessionTx, runId: string): Promise<string[]> {
    const [row] = await rows<{ tail: string | null }>(s.tx, sql`select (${this.tailSql(runId)}) as tail`)
    return tailLines(row?.tail ?? '')
  }

  /**
   * A scalar subquery: the last OUTPUT_TAIL_WINDOW characters of a run's output (null when it has
   * none). Characters are counted only in the last chunks that can hold them: a character is at
   * most 4 bytes, so a chunk with 4 × the window's bytes after it is not needed, and its length
   * in bytes is known without reading it (octet_length looks at the stored value's header). Counting
   * characters in all 20 chunks read and scanned 640 KiB per finished run (a quarter of PGlite's
   * time while output streamed).
   */
  private tailSql(runId: string): SQL {
    return sql`select string_agg(case when w.before + w.len > ${OUTPUT_TAIL_WINDOW}::integer then right(w.data, ${OUTPUT_TAIL_WINDOW}::integer - w.before::integer) else w.data end, '' order by w.sequence)
          from (select l.data, l.sequence, char_length(l.data) as len,
                  coalesce(sum(char_length(l.data)) over (order by l.sequence desc rows between unbounded preceding and 1 preceding), 0) as before
                from (select data, sequence,
                        coalesce(sum(octet_length(data)) over (order by sequence desc rows between unbounded preceding and 1 preceding), 0) as bytes_after
                      from (select data, sequence from script_output_chunks where run_id = ${runId}::uuid order by sequence desc limit 20) as k) as l
                where l.bytes_after < ${4 * OUTPUT_TAIL_WINDOW}::integer) as w
          where w.before < ${OUTPUT_TAIL_WINDOW}::integer`
  }

  private async scriptCount(s: SessionTx, commandId: string): Promise<number> {
    const [row] = await s.tx.select({ n: count() }).from(scriptRuns).where(eq(scriptRuns.commandId, commandId))
    return row?.n ?? 0
  }

  private async setRuns(s: SessionTx, where: SQL, set: Partial<typeof scriptRuns.$inferInsert>) {
    await s.tx
      .update(scriptRuns)
      .set({ ...set, seq: await s.next() })
      .where(where)
  }

  /** A run reaches a final status: its row, its chat line, the audit trail. */
  private async finishRun(
    s: SessionTx,
    run: ScriptRunRow,
    status: ScriptRunStatus,
    facts: { exitCode?: number | null; durationMs?: number | null; error?: string | null; truncated?: boolean },
    actor: Actor,
    completing = false,
  ) {
    const now = new Date()
    const finishedAt = completing ? (run.finishedAt ?? now) : now
    // An explicit null keeps the duration unknown (a cancel while the script still runs: the
    // agent's report brings it); otherwise the server's own clock stands in for a missing one.
    const durationMs = facts.durationMs !== undefined ? facts.durationMs : run.startedAt ? now.getTime() - run.startedAt.getTime() : null
    const [done] = await s.tx
      .update(scriptRuns)
      .set({
        status,
        exitCode: facts.exitCode ?? null,
        durationMs,
        error: facts.error ?? null,
        finishedAt,
        outputTruncated: run.outputTruncated || (facts.truncated ?? false),
        seq: await s.next(),
      })
      .where(eq(scriptRuns.id, run.id))
      .returning()
    if (!done) return
    if (done.chatMessageId) {
      const line = chatLine(done, await this.scriptCount(s, run.commandId), await this.outputTail(s, run.id))
      await s.tx
        .update(chatMessages)
        .set({ body: line.body, systemEvent: line.systemEvent, seq: await s.next() })
        .where(eq(chatMessages.id, done.chatMessageId))
    }
    await s.event(completing ? 'script_run.ended' : `script_run.${status}`, actor, runEndData(run, done))
  }

  /** The runs after this one in its command that have not started: skipped or cancelled. */
  private async closeRest(s: SessionTx, run: ScriptRunRow, status: 'skipped' | 'cancelled', error: string) {
    const rest = await s.tx
      .select()
      .from(scriptRuns)
      .where(and(eq(scriptRuns.commandId, run.commandId), gt(scriptRuns.position, run.position), eq(scriptRuns.status, 'queued')))
      .orderBy(asc(scriptRuns.position))
    for (const r of rest) await this.finishRun(s, r, status, { error }, systemActor)
  }

  /** When every run of a session's part is final, its command is done. */
  private async completeCommand(s: SessionTx, command: CommandRow) {
    const runs = await s.tx.select({ status: scriptRuns.status }).from(scriptRuns).where(eq(scriptRuns.commandId, command.id))
    if (runs.some((r) => !isFinalRun(r.status))) return
    const bad = runs.filter((r) => r.status !== 'succeeded').length
    await this.commands.finish(s, command, bad === 0 ? 'succeeded' : 'failed', bad === 0 ? null : `${bad} of ${runs.length} scripts did not succeed`)
  }

  /**
   * Runs still `running` well past their timeout: the agent went away without a result. They are
   * marked lost and never handed out again; the rest of their batch on that session is cancelled.
   */
  async markLost(now = new Date()): Promise<number> {
    const graceSeconds = Math.round(this.timings.lostGraceMs / 1000)
    const due = await this.db
      .select({ id: scriptRuns.id, sessionId: scriptRuns.sessionId })
      .from(scriptRuns)
      .where(
        and(
          eq(scriptRuns.status, 'running'),
          // The instant as text with a cast: postgres.js cannot encode a Date inside raw SQL.
          sql`${scriptRuns.startedAt} + (${scriptRuns.timeoutSeconds} + ${graceSeconds}) * interval '1 second' < ${now.toISOString()}::timestamptz`,
        ),
      )
      .limit(200)
    let n = 0
    for (const { id, sessionId } of due) {
      await this.feed.change(sessionId, async (s) => {
        await s.next()
        const [run] = await s.tx.select().from(scriptRuns).where(eq(scriptRuns.id, id)).for('update')
        if (run?.status !== 'running') return
        await this.finishRun(s, run, 'lost', { error: `No result from the agent within the timeout (${run.timeoutSeconds} s) and ${graceSeconds} s more; it was not run again` }, systemActor)
        await this.closeRest(s, run, 'cancelled', 'Not run: the agent went away during an earlier script of this batch')
        const [command] = await s.tx.select().from(commands).where(eq(commands.id, run.commandId)).for('update')
        if (command) await this.completeCommand(s, command)
        n++
      })
    }
    return n
  }

  /** Commands of a session cancelled after a cursor (the agent stops what it runs for them). */
  async cancelledSince(sessionId: string, after: number, upTo: number): Promise<string[]> {
    const rows = await this.db
      .select({ id: commands.id })
      .from(commands)
      .where(
        and(
          eq(commands.sessionId, sessionId),
          eq(commands.status, 'cancelled'),
          isNotNull(commands.dispatchSeq),
          gt(commands.seq, after),
          sql`${commands.seq} <= ${upTo}`,
        ),
      )
    return rows.map((r) => r.id)
  }
}

/** What tells a retry of a batch request from another request with the same Idempotency-Key (keys sorted, as the audit chain hashes). */
const requestHash = (input: ScriptBatchCreate): string => sha256Hex(canonicalJson(input))

/** A request's Idempotency-Key and the hash of its body. */
type BatchKey = { key: string; hash: string }
