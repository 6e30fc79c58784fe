import { sql } from 'drizzle-orm'
import { boolean, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'

export const userRole = pgEnum('user_role', ['admin', 'csr'])
export const tokenKind = pgEnum('token_kind', ['session', 'personal'])

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: userRole('role').notNull(),
    passwordHash: text('password_hash').notNull(),
    disabled: boolean('disabled').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true, mode: 'date' }),
    /** The TOTP secret, sealed with the server secret (lib/keyring.ts): never in plain text. Set once confirmed. */
    totpSecret: text('totp_secret'),
    /** A secret being enrolled (sealed), until the user confirms it with a code. */
    totpPendingSecret: text('totp_pending_secret'),
    totpEnabledAt: timestamp('totp_enabled_at', { withTimezone: true, mode: 'date' }),
    /** sha256 of each unused recovery code. */
    totpRecoveryCodes: jsonb('totp_recovery_codes').$type<string[]>(),
    /** The last TOTP time step accepted, so a code works once. */
    totpLastStep: integer('totp_last_step'),
    /** The identity provider and its subject (`sub`) this user signs in as (docs/sso.md); null: never signed in by SSO. */
    oidcIssuer: text('oidc_issuer'),
    oidcSubject: text('oidc_subject'),
  },
  (t) => [uniqueIndex('users_email_lower_idx').on(sql`lower(${t.email})`), uniqueIndex('users_oidc_subject_idx').on(t.oidcIssuer, t.oidcSubject)],
)

/**
 * Console logins ('session', sliding expiry) and personal API tokens ('personal', optional fixed
 * expiry) share one table so one lookup authenticates both. Only the sha256 of a token is kept.
 */
export const accessTokens = pgTable(
  'access_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    kind: tokenKind('kind').notNull(),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    /** Why it stopped working: 'revoked', 'revoked_by_admin', 'user_disabled', 'password_reset', 'password_changed', 'signed_out'. */
    revokedReason: text('revoked_reason'),
    /**
     * What a personal API token may do: 'read', 'sessions' (run sessions and scripts), 'admin'.
     * Console sign-ins carry every scope their user's role allows.
     */
    scopes: text('scopes').array().notNull().default(sql`'{read}'::text[]`),
    /** The client address of the latest use. */
    lastUsedIp: text('last_used_ip'),
    /** How a console sign-in was made: 'password' or 'oidc' (single sign-on); null for API tokens. */
    signInMethod: text('sign_in_method'),
  },
  (t) => [uniqueIndex('access_tokens_hash_idx').on(t.tokenHash), index('access_tokens_user_idx').on(t.userId, t.kind)],
)

/** Site-wide settings an admin changes at run time (e.g. requiring two-factor sign-in). */
export const siteSettings = pgTable('site_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').$type<unknown>().notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedBy: uuid('updated_by').references(() => users.id),
})
