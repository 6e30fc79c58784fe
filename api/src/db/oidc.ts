import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { users } from './accounts.ts'

/**
 * A single sign-on in progress: what the callback must find again (state, nonce, PKCE verifier).
 * Keyed by the sha256 of the state; deleted when the callback takes it (single use) or by the
 * sweeper once expired.
 */
export const oidcLogins = pgTable(
  'oidc_logins',
  {
    stateHash: text('state_hash').primaryKey(),
    nonce: text('nonce').notNull(),
    codeVerifier: text('code_verifier').notNull(),
    /** The console page to open after signing in (a `#/…` path). */
    returnTo: text('return_to'),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('oidc_logins_expires_idx').on(t.expiresAt)],
)

/**
 * The one-time code the callback hands the console (in place of a bearer token in the URL); only
 * its sha256 is kept, and exchanging it deletes it.
 */
export const oidcCodes = pgTable(
  'oidc_codes',
  {
    codeHash: text('code_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('oidc_codes_expires_idx').on(t.expiresAt)],
)
