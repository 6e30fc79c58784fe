import { Type, type Static } from 'typebox'
import { DateTime, listQuery, page, ref, Uuid } from './common.ts'
import { ScriptFile } from './scripts.ts'

// ── Running library scripts: batches, per-session runs, per-script runs, output ─────────────

/** The most scripts one batch may run, and the most bytes their arguments may take together. */
export const MAX_BATCH_SCRIPTS = 50
export const MAX_BATCH_SESSIONS = 100
export const MAX_ARGS_BYTES = 8 * 1024
/** Output kept per script run (stdout and stderr together); the agent drops the rest with a marker. */
export const MAX_OUTPUT_BYTES = 1024 * 1024

export const ScriptRunStatus = Type.Enum(
  ['awaiting_consent', 'queued', 'denied', 'expired', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'lost'],
  {
    $id: 'ScriptRunStatus',
    description:
      'awaiting_consent: the customer has not answered yet; queued: approved, waiting its turn; denied/expired: the consent was refused or not answered; ' +
      'running; succeeded: exit code 0; failed: another exit code, a missing interpreter, a refused file; timed_out: killed after its timeout; ' +
      'cancelled: by the CSR or because the session ended; skipped: an earlier script failed and the batch stops at the first failure; ' +
      'lost: the agent went away while it ran (never run again)',
  },
)
export type ScriptRunStatus = Static<typeof ScriptRunStatus>

export const SessionRunStatus = Type.Enum(['awaiting_consent', 'queued', 'denied', 'expired', 'running', 'succeeded', 'failed', 'cancelled'], {
  $id: 'SessionRunStatus',
  description:
    'One session’s part of a batch: awaiting_consent, denied, expired follow the consent; then running until every script is done; ' +
    'succeeded when every script succeeded, cancelled when the CSR cancelled it or the session ended, failed otherwise',
})
export type SessionRunStatus = Static<typeof SessionRunStatus>

export const OutputStream = Type.Enum(['stdout', 'stderr', 'info'], {
  $id: 'OutputStream',
  description: 'info: a line from the agent itself (output cut at the limit, killed after the timeout, interpreter missing)',
})

const Args = Type.Array(Type.String({ maxLength: MAX_ARGS_BYTES }), {
  maxItems: 100,
  description: `Command-line arguments, passed as they are (no shell); all arguments of a batch together at most ${MAX_ARGS_BYTES} bytes`,
})

export const ScriptRunRequestItem = Type.Object(
  {
    scriptId: Uuid,
    args: Type.Optional(Args),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'Default: the script’s own default timeout' })),
  },
  { additionalProperties: false },
)

export const ScriptBatchCreate = Type.Object(
  {
    scripts: Type.Array(ScriptRunRequestItem, {
      maxItems: 1000,
      description: `In the order they run, 1 to ${MAX_BATCH_SCRIPTS} (422 otherwise); the same script may appear twice`,
    }),
    sessionIds: Type.Array(Uuid, { maxItems: 1000, description: `Your active sessions, 1 to ${MAX_BATCH_SESSIONS}; each gets its own run and consent request` }),
    stopOnFailure: Type.Optional(Type.Boolean({ default: false, description: 'Skip the rest of a session’s scripts after the first that does not succeed' })),
  },
  { additionalProperties: false },
)
export type ScriptBatchCreate = Static<typeof ScriptBatchCreate>

/** One script of a batch as it was recorded: the exact version, its files and the run's settings. */
export const BatchScript = Type.Object(
  {
    position: Type.Integer({ minimum: 0 }),
    scriptId: Uuid,
    name: Type.String(),
    version: Type.Integer({ minimum: 1 }),
    versionId: Uuid,
    digest: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The version digest (docs/scripts.md)' }),
    size: Type.Integer({ minimum: 0 }),
    files: Type.Array(ref(ScriptFile)),
    args: Type.Array(Type.String()),
    timeoutSeconds: Type.Integer({ minimum: 1 }),
  },
  { $id: 'BatchScript', additionalProperties: false },
)
export type BatchScript = Static<typeof BatchScript>

export const ScriptRun = Type.Object(
  {
    id: Uuid,
    batchId: Uuid,
    sessionId: Uuid,
    commandId: Uuid,
    position: Type.Integer({ minimum: 0, description: 'Its place in the batch, from 0' }),
    scriptId: Uuid,
    scriptName: Type.String(),
    version: Type.Integer(),
    digest: Type.String(),
    args: Type.Array(Type.String()),
    timeoutSeconds: Type.Integer(),
    status: ref(ScriptRunStatus),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    startedAt: Type.Union([DateTime, Type.Null()]),
    finishedAt: Type.Union([DateTime, Type.Null()]),
    durationMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    outputBytes: Type.Integer({ minimum: 0, description: 'Bytes of output stored' }),
    outputTruncated: Type.Boolean({ description: `true when the script wrote more than ${MAX_OUTPUT_BYTES} bytes and the rest was dropped` }),
  },
  { $id: 'ScriptRun', additionalProperties: false },
)
export type ScriptRun = Static<typeof ScriptRun>
export const ScriptRunList = page(ScriptRun, 'ScriptRunList')
export const ScriptRunListQuery = listQuery(['position'], {})

export const SessionRun = Type.Object(
  {
    sessionId: Uuid,
    sessionNumber: Type.String(),
    customerName: Type.String(),
    commandId: Uuid,
    consentId: Uuid,
    status: ref(SessionRunStatus),
    runs: Type.Array(ref(ScriptRun), { description: 'One per script, in the batch’s order' }),
  },
  { $id: 'SessionRun', additionalProperties: false },
)
export type SessionRun = Static<typeof SessionRun>

const BatchCounts = Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Script runs by status, e.g. {"succeeded": 4, "running": 1}' })

const batchProps = {
  id: Uuid,
  createdBy: Type.Object({ id: Uuid, name: Type.String() }, { additionalProperties: false }),
  createdAt: DateTime,
  stopOnFailure: Type.Boolean(),
  status: Type.Enum(['running', 'finished'], { description: 'finished: every session’s run reached a final status' }),
  finishedAt: Type.Union([DateTime, Type.Null()]),
  cancelledAt: Type.Union([DateTime, Type.Null()]),
  scriptCount: Type.Integer({ minimum: 1 }),
  sessionCount: Type.Integer({ minimum: 1 }),
  counts: BatchCounts,
}

export const ScriptBatchSummary = Type.Object(
  { ...batchProps, scriptNames: Type.Array(Type.String(), { description: 'In order' }) },
  { $id: 'ScriptBatchSummary', additionalProperties: false },
)
export type ScriptBatchSummary = Static<typeof ScriptBatchSummary>
export const ScriptBatchList = page(ScriptBatchSummary, 'ScriptBatchList')
export const ScriptBatchListQuery = listQuery(['createdAt'], {
  status: Type.Optional(Type.Enum(['running', 'finished'])),
  sessionId: Type.Optional(Uuid),
})

export const ScriptBatch = Type.Object(
  { ...batchProps, scripts: Type.Array(ref(BatchScript)), sessions: Type.Array(ref(SessionRun)) },
  { $id: 'ScriptBatch', additionalProperties: false },
)
export type ScriptBatch = Static<typeof ScriptBatch>

export const BatchParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export const BatchSessionParams = Type.Object({ id: Uuid, sessionId: Uuid }, { additionalProperties: false })

export const OutputChunk = Type.Object(
  {
    sequence: Type.Integer({ minimum: 0, description: 'Per run, from 0, in the order it was written' }),
    stream: ref(OutputStream),
    data: Type.String(),
    createdAt: DateTime,
  },
  { $id: 'OutputChunk', additionalProperties: false },
)
export const ScriptRunOutput = Type.Object(
  {
    runId: Uuid,
    status: ref(ScriptRunStatus),
    outputBytes: Type.Integer({ minimum: 0 }),
    outputTruncated: Type.Boolean(),
    chunks: Type.Array(ref(OutputChunk)),
    next: Type.Union([Type.Integer(), Type.Null()], { description: 'Ask again with after=next for more; null when this is all there is so far' }),
  },
  { $id: 'ScriptRunOutput', additionalProperties: false },
)
export const ScriptRunOutputQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: -1, default: -1, description: 'Only chunks with a larger sequence' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 1000 })),
  },
  { additionalProperties: false },
)

// ── The agent's side ───────────────────────────────────────────────────────────────────────

/** The payload of a run_scripts command: the session's runs, in order. */
export const RunScriptsPayload = Type.Object(
  {
    batchId: Uuid,
    stopOnFailure: Type.Boolean(),
    scripts: Type.Array(
      Type.Object(
        {
          runId: Uuid,
          position: Type.Integer(),
          name: Type.String(),
          version: Type.Integer(),
          executable: Type.String({ description: 'The name of the file that runs' }),
          files: Type.Array(ref(ScriptFile)),
          args: Type.Array(Type.String()),
          timeoutSeconds: Type.Integer(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'RunScriptsPayload', additionalProperties: false, description: 'The payload of a run_scripts command (and, with the same scripts, the details of its consent)' },
)
export type RunScriptsPayload = Static<typeof RunScriptsPayload>

const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' })

/** The details of a run_scripts consent: what the customer is asked, and what their agent verifies first. */
export const RunScriptsConsentDetails = Type.Object(
  {
    batchId: Uuid,
    stopOnFailure: Type.Boolean(),
    effect: Type.String({ description: 'What the request does, in English (the agent words it in the customer’s language)' }),
    scripts: Type.Array(
      Type.Object(
        {
          position: Type.Integer({ minimum: 0 }),
          scriptId: Uuid,
          versionId: Uuid,
          name: Type.String(),
          version: Type.Integer({ minimum: 1, description: 'The version number, `number` in the signed statement' }),
          size: Type.Integer({ minimum: 0 }),
          digest: Sha256Hex,
          signature: Type.String({
            description:
              'Ed25519 signature (base64) by the server’s signing key over versionStatement({ scriptId, versionId, number: version, digest }) (@helpline/sdk); empty for a batch made before versions were signed',
          }),
          signatureKeyId: Type.String({ description: 'The key that made the signature (AgentJoined.signingKey.keyId)' }),
          executable: Type.String(),
          files: Type.Array(ref(ScriptFile)),
          args: Type.Array(Type.String()),
          timeoutSeconds: Type.Integer(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    $id: 'RunScriptsConsentDetails',
    additionalProperties: false,
    description:
      'The details of a run_scripts consent request. The agent checks every file name, recomputes each digest from the listed files (versionDigestText) and verifies each signature with the key it received at join before it asks the customer; on any failure it denies the request by itself.',
  },
)
export type RunScriptsConsentDetails = Static<typeof RunScriptsConsentDetails>

export const RunFileParams = Type.Object({ id: Uuid, name: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false })

export const RunStart = Type.Object(
  {
    startId: Type.String({
      minLength: 8,
      maxLength: 64,
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'Made by the agent and journaled before it asks; asking again with the same id (a retried post) is answered again, another id is refused',
    }),
  },
  { additionalProperties: false },
)
export const RunStarted = Type.Object(
  { duplicate: Type.Boolean({ description: 'true when this start was already recorded with this startId' }), status: ref(ScriptRunStatus) },
  { $id: 'RunStarted', additionalProperties: false },
)

export const MAX_CHUNK_CHARS = 64 * 1024
export const RunOutputPost = Type.Object(
  {
    chunks: Type.Array(
      Type.Object(
        {
          sequence: Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'Per run, from 0, without gaps' }),
          stream: Type.Enum(['stdout', 'stderr', 'info']),
          data: Type.String({ maxLength: MAX_CHUNK_CHARS }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 64 },
    ),
  },
  { additionalProperties: false },
)
export const RunOutputAck = Type.Object(
  {
    stored: Type.Integer({ minimum: 0 }),
    duplicates: Type.Integer({ minimum: 0, description: 'Chunks whose sequence was already received: nothing changed for them' }),
    status: ref(ScriptRunStatus),
  },
  { $id: 'RunOutputAck', additionalProperties: false, description: 'status cancelled: stop the script' },
)

export const RunFinish = Type.Object(
  {
    status: Type.Enum(['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'lost']),
    exitCode: Type.Optional(Type.Union([Type.Integer({ minimum: -2147483648, maximum: 2147483647 }), Type.Null()])),
    durationMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 24 * 3_600_000 })),
    error: Type.Optional(Type.String({ maxLength: 4000 })),
    truncated: Type.Optional(Type.Boolean({ description: 'The agent dropped output past the limit' })),
    outputChunks: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10_000_001,
        description: 'How many output chunks the agent produced for this run; when the server holds fewer, 409 OUTPUT_SEQUENCE_GAP says where to resend from',
      }),
    ),
  },
  { additionalProperties: false },
)
export type RunFinish = Static<typeof RunFinish>
export const RunFinished = Type.Object(
  { duplicate: Type.Boolean(), status: ref(ScriptRunStatus) },
  { $id: 'RunFinished', additionalProperties: false },
)

export const runSchemas = [
  ScriptRunStatus,
  SessionRunStatus,
  OutputStream,
  BatchScript,
  ScriptRun,
  ScriptRunList,
  SessionRun,
  ScriptBatchSummary,
  ScriptBatchList,
  ScriptBatch,
  OutputChunk,
  ScriptRunOutput,
  RunScriptsPayload,
  RunScriptsConsentDetails,
  RunStarted,
  RunOutputAck,
  RunFinished,
]
