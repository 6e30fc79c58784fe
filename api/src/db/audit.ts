import { bigserial, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { actorType } from './sessions.ts'

/**
 * The site-wide audit trail: what admins and the server did outside any one session (script
 * ownership and publishing by admins, refused tampered scripts, token revocations, settings).
 * Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and hash-chained like
 * session_events (lib/audit-chain.ts).
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    type: text('type').notNull(),
    actorType: actorType('actor_type').notNull(),
    actorId: uuid('actor_id'),
    /** What it is about: 'script', 'user', 'token', 'settings', … and its id. */
    targetType: text('target_type'),
    targetId: text('target_id'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    keyId: text('key_id').notNull(),
  },
  (t) => [index('audit_events_target_idx').on(t.targetType, t.targetId, t.id)],
)
