import { sql } from 'drizzle-orm'
import {
  boolean,
  customType,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { users } from './accounts.ts'

/**
 * Script files live in the database with their sha256 (DESIGN: big values), so a failed upload
 * rolls back with its rows and there is no second store to keep in step.
 */
const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  // postgres.js answers a Buffer, PGlite a plain Uint8Array: one type above this line.
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)),
})

export const scriptFileRole = pgEnum('script_file_role', ['executable', 'input'])

/**
 * Deleting a category only hides it: soft-deleted scripts still point at it, and their history
 * keeps the name they had. Names are unique among the categories still in use.
 */
export const scriptCategories = pgTable(
  'script_categories',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [uniqueIndex('script_categories_name_lower_idx').on(sql`lower(${t.name})`).where(sql`${t.deletedAt} is null`)],
)

/**
 * A script's metadata. `version` and `size` repeat the current version's number and total size
 * so the library can be sorted by them without a join per row.
 */
export const scripts = pgTable(
  'scripts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    /** lower(name), stored: the unique key and the sort key, without a function call per row. */
    nameKey: text('name_key')
      .notNull()
      .generatedAlwaysAs(sql`lower("name")`),
    categoryId: uuid('category_id')
      .notNull()
      .references(() => scriptCategories.id),
    description: text('description').notNull().default(''),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    published: boolean('published').notNull().default(false),
    defaultTimeoutSeconds: integer('default_timeout_seconds').notNull().default(600),
    version: integer('version').notNull(),
    size: integer('size').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    // Deleting frees the name: uniqueness holds among the scripts still in the library.
    uniqueIndex('scripts_name_key_idx').on(t.nameKey).where(sql`${t.deletedAt} is null`),
    index('scripts_category_idx').on(t.categoryId),
    index('scripts_owner_idx').on(t.ownerId),
    index('scripts_updated_idx').on(t.updatedAt),
  ],
)

/** Immutable: a run records the version it ran, so a version's files never change. */
export const scriptVersions = pgTable(
  'script_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    scriptId: uuid('script_id')
      .notNull()
      .references(() => scripts.id),
    number: integer('number').notNull(),
    /** sha256 over the version's file list (see docs/scripts.md), hex. */
    digest: text('digest').notNull(),
    size: integer('size').notNull(),
    createdById: uuid('created_by')
      .notNull()
      .references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /**
     * Ed25519 signature (base64) of the version statement (sdk/src/integrity.ts) made with the
     * server's signing key, which is kept outside the database: a database write alone cannot
     * produce one. The agent verifies it with the public key it received at join.
     */
    signature: text('signature'),
    /** Which signing key made `signature` (first 16 hex digits of the sha256 of its public key). */
    signatureKeyId: text('signature_key_id'),
  },
  (t) => [uniqueIndex('script_versions_number_idx').on(t.scriptId, t.number)],
)

export const scriptFiles = pgTable(
  'script_files',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    versionId: uuid('version_id')
      .notNull()
      .references(() => scriptVersions.id),
    /** Order of upload: the executable first, then the inputs as sent. */
    position: integer('position').notNull(),
    name: text('name').notNull(),
    role: scriptFileRole('role').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    content: bytea('content').notNull(),
  },
  (t) => [uniqueIndex('script_files_name_idx').on(t.versionId, sql`lower(${t.name})`)],
)
