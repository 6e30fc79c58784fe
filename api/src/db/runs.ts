import { sql } from 'drizzle-orm'
import { bigserial, boolean, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { users } from './accounts.ts'
import { scripts, scriptVersions } from './scripts.ts'
import { chatMessages, commands, consentRequests, supportSessions } from './sessions.ts'

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const scriptRunStatus = pgEnum('script_run_status', [
  'awaiting_consent',
  'queued',
  'denied',
  'expired',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'skipped',
  'lost',
])
export const outputStream = pgEnum('output_stream', ['stdout', 'stderr', 'info'])

/** One script of a batch as recorded when the CSR asked: the exact version, its files and the run's settings. */
export interface BatchScriptRecord {
  position: number
  scriptId: string
  name: string
  version: number
  versionId: string
  digest: string
  size: number
  files: { name: string; role: 'executable' | 'input'; size: number; sha256: string }[]
  args: string[]
  timeoutSeconds: number
  /** The version's signature (base64) and its key, as checked when the batch was made; absent in batches made before signing. */
  signature?: string
  signatureKeyId?: string
}

/**
 * What a CSR asked to run: the scripts in order with their exact versions, on one or more
 * sessions. Each session gets its own run_scripts command (and consent), and a script_runs row
 * per script.
 */
export const runBatches = pgTable(
  'run_batches',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    stopOnFailure: boolean('stop_on_failure').notNull().default(false),
    scripts: jsonb('scripts').$type<BatchScriptRecord[]>().notNull(),
    /** The targeted sessions, in the order the CSR gave them (the grid's rows). */
    sessionIds: jsonb('session_ids').$type<string[]>().notNull(),
    cancelledAt: ts('cancelled_at'),
    /**
     * The creator's Idempotency-Key, when the request had one: a request repeated with it (a
     * retry after a timeout) answers this batch instead of running the scripts again. Unique per
     * creator; `request_hash` (sha256 of the request, its keys sorted) tells a retry from another
     * request that reused the key.
     */
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
  },
  // Whether a batch is finished is read from its runs: sessions finish concurrently, so a stored
  // flag would need a lock across sessions to stay true.
  (t) => [
    index('run_batches_creator_idx').on(t.createdBy, t.createdAt),
    uniqueIndex('run_batches_idempotency_idx').on(t.createdBy, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
)

/**
 * One script of a batch on one session. `seq` is the session's change number of its latest
 * change (the console's stream follows it); `start_id` is the agent's journaled start, which makes
 * a start at most once.
 */
export const scriptRuns = pgTable(
  'script_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    batchId: uuid('batch_id')
      .notNull()
      .references(() => runBatches.id),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    commandId: uuid('command_id')
      .notNull()
      .references(() => commands.id),
    consentId: uuid('consent_id')
      .notNull()
      .references(() => consentRequests.id),
    position: integer('position').notNull(),
    scriptId: uuid('script_id')
      .notNull()
      .references(() => scripts.id),
    versionId: uuid('version_id')
      .notNull()
      .references(() => scriptVersions.id),
    scriptName: text('script_name').notNull(),
    version: integer('version').notNull(),
    digest: text('digest').notNull(),
    args: jsonb('args').$type<string[]>().notNull(),
    timeoutSeconds: integer('timeout_seconds').notNull(),
    status: scriptRunStatus('status').notNull().default('awaiting_consent'),
    exitCode: integer('exit_code'),
    startId: text('start_id'),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
    durationMs: integer('duration_ms'),
    error: text('error'),
    outputBytes: integer('output_bytes').notNull().default(0),
    outputTruncated: boolean('output_truncated').notNull().default(false),
    /** The output chunk sequence the server expects next: a post that skips ahead is refused (no silent gaps). */
    outputNextSeq: integer('output_next_seq').notNull().default(0),
    chatMessageId: uuid('chat_message_id').references(() => chatMessages.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    seq: integer('seq').notNull(),
  },
  (t) => [
    uniqueIndex('script_runs_command_position_idx').on(t.commandId, t.position),
    index('script_runs_batch_idx').on(t.batchId, t.sessionId, t.position),
    index('script_runs_session_idx').on(t.sessionId, t.seq),
    index('script_runs_running_idx').on(t.startedAt).where(sql`${t.status} = 'running'`),
  ],
)

/** Output as it arrived, per run; (run, sequence) is unique so a retried post stores nothing twice. */
export const scriptOutputChunks = pgTable(
  'script_output_chunks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id')
      .notNull()
      .references(() => scriptRuns.id),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    sequence: integer('sequence').notNull(),
    stream: outputStream('stream').notNull(),
    data: text('data').notNull(),
    bytes: integer('bytes').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    seq: integer('seq').notNull(),
  },
  (t) => [uniqueIndex('script_output_chunks_run_seq_idx').on(t.runId, t.sequence), index('script_output_chunks_session_idx').on(t.sessionId, t.seq)],
)
