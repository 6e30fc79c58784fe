import { index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid, boolean } from 'drizzle-orm/pg-core'
import { users } from './accounts.ts'

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/** pending: waiting for its next attempt; succeeded: a 2xx came back; failed: retries gave up after a day. */
export const webhookDeliveryStatus = pgEnum('webhook_delivery_status', ['pending', 'succeeded', 'failed'])

/** An integrator's receiving endpoint: where, which events, and the signing secret (sealed with the server secret). */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: uuid('id').primaryKey().defaultRandom(),
  url: text('url').notNull(),
  description: text('description').notNull().default(''),
  eventTypes: jsonb('event_types').$type<string[]>().notNull(),
  enabled: boolean('enabled').notNull().default(true),
  /** `whsec_…` sealed by Keyring.seal: a copy of the database alone cannot forge deliveries. */
  secretSealed: text('secret_sealed').notNull(),
  createdBy: uuid('created_by').references(() => users.id),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
})

/** One attempt as the console shows it. */
export interface WebhookAttemptRecord {
  at: string
  durationMs: number
  statusCode: number | null
  error: string | null
}

/**
 * The outbox: one row per event per endpoint, written in the transaction that wrote the event,
 * so an event is sent if and only if it happened. Workers on any instance claim due rows with
 * FOR UPDATE SKIP LOCKED and push `next_attempt_at` forward before sending (a lease), so a
 * receiver that hangs holds no transaction and no other worker sends the same row meanwhile.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventType: text('event_type').notNull(),
    /** What happened once per endpoint (e.g. `session.ended:<id>`): a repeated event is not sent twice. */
    eventKey: text('event_key').notNull(),
    /** The exact JSON body sent (the signature covers these bytes). */
    payload: text('payload').notNull(),
    status: webhookDeliveryStatus('status').notNull().default('pending'),
    attemptCount: integer('attempt_count').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    lastAttemptAt: ts('last_attempt_at'),
    /** The latest attempts, newest last (at most 10). */
    attempts: jsonb('attempts').$type<WebhookAttemptRecord[]>().notNull().default([]),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_idx').on(t.endpointId, t.eventKey),
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
  ],
)
