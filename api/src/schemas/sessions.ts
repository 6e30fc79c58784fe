import { Type, type Static, type TSchema } from 'typebox'
import { DateTime, listQuery, page, ref, Uuid } from './common.ts'

// ── Support sessions ────────────────────────────────────────────────────────────────────────

export const SessionStatus = Type.Enum(['waiting', 'active', 'ended'], {
  $id: 'SessionStatus',
  description: 'waiting: no agent has joined yet; active: an agent joined; ended: by a user, or expired while waiting',
})
export const AgentStatus = Type.Enum(['online', 'offline', 'left'], {
  $id: 'AgentStatus',
  description: 'online: polled recently; offline: missed two polls; left: the customer left the session',
})
export const ConsentKind = Type.Enum(['view_system_info', 'run_scripts', 'logon_as_user', 'reboot'], {
  $id: 'ConsentKind',
  description: 'What the customer is asked to allow. Only view_system_info can be requested directly today; the others are created by their own features.',
})
export const ConsentStatus = Type.Enum(['pending', 'approved', 'denied', 'expired', 'cancelled'], { $id: 'ConsentStatus' })
export const CommandStatus = Type.Enum(['awaiting_consent', 'queued', 'delivered', 'running', 'succeeded', 'failed', 'cancelled'], {
  $id: 'CommandStatus',
  description: 'awaiting_consent: held until its consent is approved; queued: released to the agent; delivered: the agent has fetched it',
})

/** Nine digits shown in three groups; the API accepts them with or without separators. */
const SessionNumberDisplay = Type.String({ pattern: '^[0-9]{3}-[0-9]{3}-[0-9]{3}$', description: 'e.g. 123-456-789' })

export const AgentPlatform = Type.Object(
  {
    os: Type.String({ minLength: 1, maxLength: 100, description: 'e.g. linux, darwin, win32' }),
    osVersion: Type.String({ maxLength: 200, description: 'Distribution and release, e.g. Debian GNU/Linux 12' }),
    arch: Type.String({ minLength: 1, maxLength: 50 }),
    hostname: Type.String({ maxLength: 255 }),
    kernel: Type.Optional(Type.String({ maxLength: 200 })),
    username: Type.Optional(Type.String({ maxLength: 200, description: 'The user the agent runs as' })),
  },
  { $id: 'AgentPlatform', additionalProperties: false },
)

export const AgentInfo = Type.Object(
  {
    id: Uuid,
    status: ref(AgentStatus),
    agentVersion: Type.String(),
    platform: ref(AgentPlatform),
    joinedAt: DateTime,
    lastSeenAt: DateTime,
    leftAt: Type.Union([DateTime, Type.Null()]),
    workingAs: Type.Union([Type.String(), Type.Null()], {
      description: 'The user the agent works as after “log on as another user”; null: the customer’s own user',
    }),
    rebooting: Type.Boolean({ description: 'The computer is restarting; the agent rejoins by itself' }),
  },
  { $id: 'AgentInfo', additionalProperties: false },
)
export type AgentInfo = Static<typeof AgentInfo>

const UserRef = Type.Object({ id: Uuid, name: Type.String() }, { additionalProperties: false })

export const JoinAttempt = Type.Object(
  {
    firstAt: DateTime,
    lastAt: DateTime,
    attempts: Type.Integer({ minimum: 1, description: 'How many times this computer tried (an agent waiting to be let in retries every 10 s)' }),
    hostname: Type.String({ description: 'As the joining agent reported it' }),
    os: Type.String(),
    osVersion: Type.String(),
    address: Type.String({ description: 'The client address the attempt came from' }),
  },
  {
    $id: 'JoinAttempt',
    additionalProperties: false,
    description: 'A join with the session number that was refused (409 SESSION_IN_USE) because the session already had a computer',
  },
)

export const AgentAdmission = Type.Object(
  {
    until: DateTime,
    admittedBy: UserRef,
  },
  {
    $id: 'AgentAdmission',
    additionalProperties: false,
    description: 'The CSR (or an admin) let one new computer join with the number until `until`; the first join uses it up and replaces the current agent',
  },
)

export const Session = Type.Object(
  {
    id: Uuid,
    number: SessionNumberDisplay,
    status: ref(SessionStatus),
    customerName: Type.String(),
    customerEmail: Type.Union([Type.String(), Type.Null()]),
    description: Type.Union([Type.String(), Type.Null()]),
    csr: UserRef,
    createdAt: DateTime,
    startedAt: Type.Union([DateTime, Type.Null()], { description: 'When an agent first joined' }),
    endedAt: Type.Union([DateTime, Type.Null()]),
    endedReason: Type.Union([Type.Enum(['ended', 'expired']), Type.Null()], {
      description: 'ended: a CSR or admin ended it; expired: nobody joined in time',
    }),
    expiresAt: Type.Union([DateTime, Type.Null()], { description: 'While waiting: when the number stops working' }),
    agent: Type.Union([ref(AgentInfo), Type.Null()], { description: 'The current (latest) agent, if one ever joined' }),
    joinAttempt: Type.Union([ref(JoinAttempt), Type.Null()], {
      description: 'The latest refused join of another computer (cleared when an admitted computer joins): show it to the CSR',
    }),
    admission: Type.Union([ref(AgentAdmission), Type.Null()], { description: 'An open admission for a new computer, if any' }),
    systemInfoConsent: Type.Union([ref(ConsentStatus), Type.Null()], {
      description: 'The latest view_system_info consent’s status; approved lasts for the session',
    }),
    cursor: Type.Integer({
      minimum: 0,
      description: 'The session’s latest change number: open the stream with after=cursor to receive only what happens next',
    }),
  },
  { $id: 'Session', additionalProperties: false },
)
export type Session = Static<typeof Session>
export const SessionList = page(Session, 'SessionList')

export const SessionCreate = Type.Object(
  {
    customerName: Type.String({ minLength: 1, maxLength: 200 }),
    customerEmail: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
)

export const SessionListQuery = listQuery(['createdAt', 'status', 'customerName', 'endedAt'], {
  status: Type.Optional(SessionStatus),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Text in the customer’s name or email, or the session number' })),
  csrId: Type.Optional(Uuid),
  mine: Type.Optional(Type.Boolean({ description: 'Only sessions you own (admins see everyone’s otherwise)' })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Created at or after' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Created before' })),
})

export const SessionParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export const SessionItemParams = Type.Object({ id: Uuid, itemId: Uuid }, { additionalProperties: false })

// ── Session events (audit) ──────────────────────────────────────────────────────────────────

export const SessionEvent = Type.Object(
  {
    id: Type.Integer(),
    type: Type.String({ description: 'e.g. session.created, agent.joined, consent.approved, command.succeeded' }),
    actorType: Type.Enum(['user', 'agent', 'system']),
    actorId: Type.Union([Uuid, Type.Null()]),
    data: Type.Record(Type.String(), Type.Unknown()),
    createdAt: DateTime,
    prevHash: Type.Union([Type.String(), Type.Null()], {
      description: 'The previous event’s hash in this session’s chain ("" for the first); null for events written before the chain existed',
    }),
    hash: Type.Union([Type.String(), Type.Null()], {
      description: 'HMAC-SHA-256 (hex, keyed with the server secret) over prevHash and this event’s content; verify with GET /sessions/{id}/events/verify',
    }),
  },
  { $id: 'SessionEvent', additionalProperties: false },
)
export const SessionEventList = page(SessionEvent, 'SessionEventList')
export const SessionEventListQuery = listQuery(['id'], {})

// ── Consent ─────────────────────────────────────────────────────────────────────────────────

export const Consent = Type.Object(
  {
    id: Uuid,
    sessionId: Uuid,
    kind: ref(ConsentKind),
    status: ref(ConsentStatus),
    requestedBy: UserRef,
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'What exactly is asked, as shown to the customer' }),
    createdAt: DateTime,
    expiresAt: DateTime,
    answeredAt: Type.Union([DateTime, Type.Null()]),
  },
  { $id: 'Consent', additionalProperties: false },
)
export type Consent = Static<typeof Consent>
export const ConsentList = page(Consent, 'ConsentList')
export const ConsentListQuery = listQuery(['createdAt'], { status: Type.Optional(ConsentStatus), kind: Type.Optional(ConsentKind) })
export const ConsentCreate = Type.Object({ kind: ConsentKind }, { additionalProperties: false })

// ── Commands ────────────────────────────────────────────────────────────────────────────────

export const Command = Type.Object(
  {
    id: Uuid,
    sessionId: Uuid,
    kind: Type.String({ description: 'collect_system_info, run_scripts, logon_as_user, logoff or reboot' }),
    status: ref(CommandStatus),
    consentId: Type.Union([Uuid, Type.Null()]),
    createdAt: DateTime,
    deliveredAt: Type.Union([DateTime, Type.Null()]),
    finishedAt: Type.Union([DateTime, Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'Command', additionalProperties: false },
)
export type Command = Static<typeof Command>
export const CommandList = page(Command, 'CommandList')
export const CommandListQuery = listQuery(['createdAt'], { status: Type.Optional(CommandStatus) })

// ── System information ──────────────────────────────────────────────────────────────────────

export const SYSTEM_INFO_CATEGORIES = ['system', 'hardware', 'storage', 'network', 'software', 'processes', 'services', 'users', 'environment'] as const
export const SystemInfoCategoryId = Type.Enum([...SYSTEM_INFO_CATEGORIES], { $id: 'SystemInfoCategoryId' })

const Text = Type.String({ maxLength: 65_536 })
// The shapes are written once; named copies ($id) are for responses, plain ones for the upload
// body, which the request validator compiles on its own without the shared components.
const InfoKey = Type.String({ pattern: '^[a-z][A-Za-z0-9_.]{0,63}$', description: 'A stable name (e.g. system.uptime) a reader words in its own language' })
const InfoKind = Type.Enum(['text', 'number', 'bytes', 'seconds', 'date', 'percent', 'boolean'], {
  description:
    'How to read `value`: text as is; number, bytes, seconds and percent are decimal numbers, date is ISO 8601, boolean is true or false — a reader formats them in its own language. Absent: text.',
})
const tableShape = {
  title: Type.String({ maxLength: 200 }),
  key: Type.Optional(InfoKey),
  columns: Type.Array(Type.String({ maxLength: 200 }), { minItems: 1, maxItems: 50 }),
  columnKeys: Type.Optional(Type.Array(InfoKey, { maxItems: 50, description: 'One per column: names to word the headings by' })),
  columnKinds: Type.Optional(Type.Array(InfoKind, { maxItems: 50, description: 'One per column: how to read its cells (see SystemInfoField.kind)' })),
  rows: Type.Array(Type.Array(Text, { maxItems: 50 }), { maxItems: 20_000 }),
  note: Type.Optional(Type.String({ maxLength: 1000, description: 'e.g. “top 25 by CPU of 312”' })),
  noteKey: Type.Optional(InfoKey),
  noteValues: Type.Optional(
    Type.Array(Type.String({ maxLength: 100 }), { maxItems: 10, description: 'The numbers `noteKey` is worded with (e.g. 25 and 312 for note.top), so a reader says the note in its own language' }),
  ),
}
const fieldShape = { label: Type.String({ minLength: 1, maxLength: 200 }), value: Text, key: Type.Optional(InfoKey), kind: Type.Optional(InfoKind) }
const categoryShape = <F extends TSchema, T extends TSchema, I extends TSchema>(id: I, field: F, table: T) => ({
  id,
  title: Type.String({ minLength: 1, maxLength: 100 }),
  available: Type.Boolean({ description: 'false when the agent could not read this category; `reason` says why' }),
  reason: Type.Optional(Type.String({ maxLength: 2000 })),
  fields: Type.Array(field, { maxItems: 500 }),
  tables: Type.Array(table, { maxItems: 50 }),
})

export const SystemInfoTable = Type.Object(tableShape, { $id: 'SystemInfoTable', additionalProperties: false })
export const SystemInfoField = Type.Object(fieldShape, { $id: 'SystemInfoField', additionalProperties: false })
export const SystemInfoCategory = Type.Object(categoryShape(ref(SystemInfoCategoryId), ref(SystemInfoField), ref(SystemInfoTable)), {
  $id: 'SystemInfoCategory',
  additionalProperties: false,
})
export type SystemInfoCategory = Static<typeof SystemInfoCategory>

/** What the agent uploads: every category once, each read or saying why it could not be. */
export const SystemInfoUpload = Type.Object(
  {
    collectedAt: Type.String({ format: 'date-time', maxLength: 40 }),
    categories: Type.Array(
      Type.Object(
        categoryShape(
          Type.Enum([...SYSTEM_INFO_CATEGORIES]),
          Type.Object(fieldShape, { additionalProperties: false }),
          Type.Object(tableShape, { additionalProperties: false }),
        ),
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 20 },
    ),
  },
  { additionalProperties: false },
)
export type SystemInfoUpload = Static<typeof SystemInfoUpload>

const SnapshotSummaryProps = {
  id: Uuid,
  sessionId: Uuid,
  commandId: Uuid,
  collectedAt: DateTime,
  createdAt: DateTime,
  sizeBytes: Type.Integer({ minimum: 0 }),
  hostname: Type.Union([Type.String(), Type.Null()]),
  os: Type.Union([Type.String(), Type.Null()]),
}
export const SnapshotSummary = Type.Object(SnapshotSummaryProps, { $id: 'SnapshotSummary', additionalProperties: false })
export type SnapshotSummary = Static<typeof SnapshotSummary>
export const SnapshotList = page(SnapshotSummary, 'SnapshotList')
/** Newest first by default: the console and integrators want the latest collection. */
export const SnapshotListQuery = listQuery(['collectedAt'], {}, 'desc')
export const Snapshot = Type.Object(
  { ...SnapshotSummaryProps, categories: Type.Array(ref(SystemInfoCategory)) },
  { $id: 'Snapshot', additionalProperties: false },
)
export type Snapshot = Static<typeof Snapshot>

// ── Chat ────────────────────────────────────────────────────────────────────────────────────

export const ChatMessage = Type.Object(
  {
    id: Uuid,
    seq: Type.Integer({ description: 'Position in the session; list with after=seq to get what is new' }),
    sender: Type.Enum(['csr', 'customer', 'system']),
    authorName: Type.String({ description: 'The CSR’s name, the customer’s name, or “Helpline” for system lines' }),
    body: Type.String(),
    systemEvent: Type.Union(
      [Type.Object({ type: Type.String(), data: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false }), Type.Null()],
      {
        description:
          'For system lines: the event type and its data, so a console can word it in its own language (`body` is the English wording). ' +
          'A script run’s line (type script_run) is rewritten when the run ends; its data then has runId, scriptName, version, position, count, status, exitCode, durationMs, error, ' +
          '`output` (the path of the run’s whole output: GET /api/v1/script-runs/{id}/output), outputBytes, outputTruncated and `tail`: its last lines (at most 10 lines, 2,000 characters).',
      },
    ),
    createdAt: DateTime,
  },
  { $id: 'ChatMessage', additionalProperties: false },
)
export type ChatMessage = Static<typeof ChatMessage>
export const ChatMessageList = page(ChatMessage, 'ChatMessageList')
export const ChatListQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'Only messages with a larger seq' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 200 })),
  },
  { additionalProperties: false },
)
export const ChatPost = Type.Object({ body: Type.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false })

// ── Live stream ─────────────────────────────────────────────────────────────────────────────

export const StreamQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Replay changes after this event id (same as the Last-Event-ID header)' }),
    ),
  },
  { additionalProperties: false },
)

export const sessionSchemas = [
  SessionStatus,
  AgentStatus,
  ConsentKind,
  ConsentStatus,
  CommandStatus,
  AgentPlatform,
  AgentInfo,
  JoinAttempt,
  AgentAdmission,
  Session,
  SessionList,
  SessionEvent,
  SessionEventList,
  Consent,
  ConsentList,
  Command,
  CommandList,
  SystemInfoCategoryId,
  SystemInfoTable,
  SystemInfoField,
  SystemInfoCategory,
  SnapshotSummary,
  SnapshotList,
  Snapshot,
  ChatMessage,
  ChatMessageList,
]
