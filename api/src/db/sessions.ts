import { sql } from 'drizzle-orm'
import { bigserial, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { users } from './accounts.ts'

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

export const sessionStatus = pgEnum('session_status', ['waiting', 'active', 'ended'])
export const agentState = pgEnum('agent_state', ['online', 'offline', 'left', 'replaced'])
export const consentKind = pgEnum('consent_kind', ['view_system_info', 'run_scripts', 'logon_as_user', 'reboot'])
export const consentStatus = pgEnum('consent_status', ['pending', 'approved', 'denied', 'expired', 'cancelled'])
export const commandStatus = pgEnum('command_status', [
  'awaiting_consent',
  'queued',
  'delivered',
  'running',
  'succeeded',
  'failed',
  'cancelled',
])
export const chatSender = pgEnum('chat_sender', ['csr', 'customer', 'system'])
export const actorType = pgEnum('actor_type', ['user', 'agent', 'system'])

/**
 * A support session. `feed_seq` is the session's change counter: every change the console or the
 * agent must see takes the next value while holding this row's lock, so within a session the
 * sequence order is the commit order and a cursor never skips a late commit.
 */
export const supportSessions = pgTable(
  'support_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    number: text('number').notNull(),
    status: sessionStatus('status').notNull().default('waiting'),
    customerName: text('customer_name').notNull(),
    customerEmail: text('customer_email'),
    description: text('description'),
    csrId: uuid('csr_id')
      .notNull()
      .references(() => users.id),
    feedSeq: integer('feed_seq').notNull().default(0),
    /** The change number of the latest status change (for the console's stream). */
    statusSeq: integer('status_seq').notNull().default(0),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    startedAt: ts('started_at'),
    endedAt: ts('ended_at'),
    endedReason: text('ended_reason'),
    /** When a waiting session that nobody joined expires. */
    expiresAt: ts('expires_at').notNull(),
    /**
     * A session that already had an agent lets a new computer join only with the CSR's leave:
     * until this instant, one join with the number is admitted (then it is cleared).
     */
    admitUntil: ts('admit_until'),
    admittedBy: uuid('admitted_by').references(() => users.id),
    /**
     * The latest join with the number that was refused because the session already had an agent
     * (cleared when an admitted computer joins): what the console shows the CSR.
     */
    joinAttempt: jsonb('join_attempt').$type<JoinAttempt>(),
  },
  (t) => [
    // Numbers are unique among open sessions only; an ended session's number may come back.
    uniqueIndex('support_sessions_open_number_idx').on(t.number).where(sql`${t.status} <> 'ended'`),
    index('support_sessions_csr_idx').on(t.csrId, t.createdAt),
    index('support_sessions_waiting_idx').on(t.expiresAt).where(sql`${t.status} = 'waiting'`),
  ],
)

/**
 * The customer's agent in a session. Tokens are stored as sha256; the rejoin token is single-use
 * and replaced on every use. The public key is kept so credentials can be encrypted for it.
 */
export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    state: agentState('state').notNull().default('online'),
    tokenHash: text('token_hash').notNull(),
    rejoinTokenHash: text('rejoin_token_hash'),
    agentVersion: text('agent_version').notNull(),
    platform: jsonb('platform').$type<AgentPlatform>().notNull(),
    publicKey: text('public_key').notNull(),
    joinedAt: ts('joined_at').notNull().defaultNow(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
    leftAt: ts('left_at'),
    /** After "log on as another user": who the agent works as (null: the customer's own user). */
    workingAs: text('working_as'),
    /** Set when the agent said it is restarting the computer; cleared when it rejoins. */
    rebootingAt: ts('rebooting_at'),
    seq: integer('seq').notNull().default(0),
  },
  (t) => [
    uniqueIndex('agents_token_idx').on(t.tokenHash),
    uniqueIndex('agents_rejoin_token_idx').on(t.rejoinTokenHash),
    index('agents_session_idx').on(t.sessionId, t.joinedAt),
    index('agents_online_idx').on(t.lastSeenAt).where(sql`${t.state} = 'online'`),
  ],
)

/** A refused join, as the CSR sees it; `attempts` counts the retries of the same computer. */
export interface JoinAttempt {
  firstAt: string
  lastAt: string
  attempts: number
  hostname: string
  os: string
  osVersion: string
  address: string
  /** When the last chat line about it was written (lines are coalesced, not one per retry). */
  notedAt: string
}

export interface AgentPlatform {
  os: string
  osVersion: string
  arch: string
  hostname: string
  kernel?: string | undefined
  username?: string | undefined
}

export const consentRequests = pgTable(
  'consent_requests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    kind: consentKind('kind').notNull(),
    status: consentStatus('status').notNull().default('pending'),
    requestedBy: uuid('requested_by')
      .notNull()
      .references(() => users.id),
    /** What exactly is asked, shown to the customer (e.g. the categories, or the scripts in order). */
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
    answeredAt: ts('answered_at'),
    seq: integer('seq').notNull(),
  },
  (t) => [
    index('consent_requests_session_idx').on(t.sessionId, t.seq),
    index('consent_requests_pending_idx').on(t.expiresAt).where(sql`${t.status} = 'pending'`),
  ],
)

/**
 * Work for an agent. Generic: the kind names what to do, the payload carries the details, and a
 * kind that needs consent points at its consent request. `dispatch_seq` is set once, when the
 * command is released to the agent; the agent's cursor follows it.
 */
export const commands = pgTable(
  'commands',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    kind: text('kind').notNull(),
    status: commandStatus('status').notNull(),
    consentId: uuid('consent_id').references(() => consentRequests.id),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    deliveredAt: ts('delivered_at'),
    finishedAt: ts('finished_at'),
    error: text('error'),
    result: jsonb('result').$type<Record<string, unknown>>(),
    seq: integer('seq').notNull(),
    dispatchSeq: integer('dispatch_seq'),
  },
  (t) => [
    index('commands_session_idx').on(t.sessionId, t.seq),
    index('commands_dispatch_idx').on(t.sessionId, t.dispatchSeq).where(sql`${t.dispatchSeq} is not null`),
    index('commands_consent_idx').on(t.consentId),
  ],
)

/** Every report an agent posted for a command; (command, sequence) is unique so a retry is a no-op. */
export const commandReports = pgTable(
  'command_reports',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    commandId: uuid('command_id')
      .notNull()
      .references(() => commands.id),
    sequence: integer('sequence').notNull(),
    status: text('status'),
    message: text('message'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('command_reports_seq_idx').on(t.commandId, t.sequence)],
)

export const systemInfoSnapshots = pgTable(
  'system_info_snapshots',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    /** One snapshot per collect command: a retried upload finds the first and stores nothing. */
    commandId: uuid('command_id')
      .notNull()
      .references(() => commands.id),
    collectedAt: ts('collected_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    sizeBytes: integer('size_bytes').notNull(),
    hostname: text('hostname'),
    os: text('os'),
    data: jsonb('data').$type<{ categories: unknown[] }>().notNull(),
    seq: integer('seq').notNull(),
  },
  (t) => [
    uniqueIndex('system_info_snapshots_command_idx').on(t.commandId),
    index('system_info_snapshots_session_idx').on(t.sessionId, t.collectedAt),
  ],
)

export const chatMessages = pgTable(
  'chat_messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    sender: chatSender('sender').notNull(),
    userId: uuid('user_id').references(() => users.id),
    body: text('body').notNull(),
    /** For system lines: what happened, so a console can word it in its own language. */
    systemEvent: jsonb('system_event').$type<{ type: string; data: Record<string, unknown> }>(),
    createdAt: ts('created_at').notNull().defaultNow(),
    seq: integer('seq').notNull(),
  },
  (t) => [index('chat_messages_session_idx').on(t.sessionId, t.seq)],
)

/**
 * The audit trail: one row per state change, never updated or deleted (a trigger refuses both).
 * Each session's rows form a hash chain: `hash` is an HMAC (keyed with the server secret, kept
 * outside the database) over the previous row's hash and this row's content, so an edited,
 * removed or inserted row breaks the chain at that point (lib/audit-chain.ts).
 */
export const sessionEvents = pgTable(
  'session_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => supportSessions.id),
    type: text('type').notNull(),
    actorType: actorType('actor_type').notNull(),
    actorId: uuid('actor_id'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: ts('created_at').notNull().defaultNow(),
    /** The previous row's hash in this session ('' for the first row); null only for rows written before chaining. */
    prevHash: text('prev_hash'),
    hash: text('hash'),
    /** Which audit key made `hash`. */
    keyId: text('key_id'),
  },
  (t) => [index('session_events_session_idx').on(t.sessionId, t.id)],
)
