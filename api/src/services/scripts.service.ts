import { randomUUID } from 'node:crypto'
import { and, asc, count, desc, eq, ilike, inArray, isNull, or, sql, type AnyColumn, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { copyBinary, postgresJsOf } from '../db/copy-binary.ts'
import { rows as rowsOf } from '../db/raw.ts'
import { scriptCategories, scriptFiles, scripts, scriptVersions, users } from '../db/schema.ts'
import { AppError, badRequest, conflict, forbidden, notFound, tooLarge, unprocessable } from '../errors.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import { executableExtensions, fileNameProblem, isExecutable, sha256Hex, versionDigest } from '../lib/script-files.ts'
import { quoteName, refuseControlCharacters } from '../lib/text.ts'
import type { Paging } from '../schemas/common.ts'
import type { Script, ScriptFields, ScriptFile, ScriptUpdate, ScriptVersion, scriptSorts } from '../schemas/scripts.ts'
import { isUniqueViolation } from '../db/raw.ts'
import { likePattern, type Role } from './accounts.service.ts'
import type { ScriptIntegrity } from './script-integrity.ts'

/** Who is asking: visibility and ownership depend on it. */
export interface Actor {
  userId: string
  role: Role
}

export type FileRole = 'executable' | 'input'

/** A file as uploaded; `field` is the form field it came in, to name it in errors. */
export interface NewFile {
  field: string
  name: string
  role: FileRole
  /** The bytes, in the pieces they arrived in (lib/upload.ts): they are stored without being joined. */
  content: readonly Buffer[]
  /** Bytes in all pieces together. */
  size: number
  /** sha256 (hex) of the content when this server already hashed it as it arrived (lib/upload.ts). */
  sha256?: string
}

export interface StoredFile extends ScriptFile {
  content: Buffer
}

/** A script's current version checked against its stored bytes, with the signature the agent verifies. */
export interface SignedScript extends Script {
  signature: string
  signatureKeyId: string
}

export interface ScriptListQuery extends Paging<(typeof scriptSorts)[number]> {
  q?: string | undefined
  categoryId?: string | undefined
  ownerId?: string | undefined
  published?: boolean | undefined
}

/** 413 naming the limit and what was received; `atLeast` when the upload was cut off unread. */
export function scriptTooLarge(received: number, limit: number, atLeast = false): AppError {
  return tooLarge(
    'SCRIPT_TOO_LARGE',
    `The script's files total ${atLeast ? 'more than ' : ''}${received} bytes; the limit is ${limit} bytes (executable and input files together)`,
  )
}

const scriptNotFound = () => notFound('Script', 'SCRIPT_NOT_FOUND')
const nameTaken = () => conflict('NAME_TAKEN', 'A script with this name already exists', { name: 'This name is already in use' })
const unknownCategory = () =>
  unprocessable('UNKNOWN_CATEGORY', 'There is no such script category', { categoryId: 'Choose an existing category' })
const notOwner = () =>
  forbidden('NOT_OWNER', 'Only the script’s owner may change it, upload versions or delete it; a site admin may unpublish it or transfer its ownership')
const invalidFileName = (field: string, message: string) => badRequest('INVALID_FILE_NAME', message, { [field]: message })

function cleanName(name: string): string {
  const trimmed = name.trim()
  if (!trimmed) throw badRequest('VALIDATION_FAILED', 'The name must not be blank', { name: 'must not be blank' })
  refuseControlCharacters({ name: trimmed })
  return trimmed
}

/** The one rule every file set obeys, for a new script and for each new version. */
function checkFileSet(files: readonly NewFile[], limit: number) {
  const seen = new Set<string>()
  for (const file of files) {
    const problem = fileNameProblem(file.name)
    if (problem) throw invalidFileName(file.field, `File name ${quoteName(file.name)} ${problem}`)
    // Case-insensitive: the agent may write the files on a case-insensitive file system.
    const key = file.name.toLowerCase()
    if (seen.has(key)) throw invalidFileName(file.field, `File name ${quoteName(file.name)} is used twice in this script`)
    seen.add(key)
  }
  const executables = files.filter((f) => f.role === 'executable')
  if (executables.length === 0) {
    throw unprocessable('EXECUTABLE_REQUIRED', 'A script needs an executable file', { executable: 'Add the file that runs' })
  }
  if (executables.length > 1) {
    throw unprocessable('ONE_EXECUTABLE', 'A script has exactly one executable: send a new one or keep the current one, not both', {
      executable: 'Only one executable',
    })
  }
  const executable = executables[0]!
  if (!isExecutable(executable.name, firstBytes(executable.content, 2))) {
    const message = `${JSON.stringify(executable.name)} is not a script the agent can run: use ${executableExtensions.join(' ')} or start the file with a #! line`
    throw unprocessable('UNSUPPORTED_EXECUTABLE', message, { executable: message })
  }
  const total = files.reduce((sum, f) => sum + f.size, 0)
  if (total > limit) throw scriptTooLarge(total, limit)
}

/** The first `n` bytes of a file in pieces (fewer when it is shorter). */
function firstBytes(pieces: readonly Buffer[], n: number): Buffer {
  const first = pieces[0]
  if (first && first.length >= n) return first.subarray(0, n)
  const head: Buffer[] = []
  let length = 0
  for (const piece of pieces) {
    if (length >= n) break
    head.push(piece)
    length += piece.length
  }
  return Buffer.concat(head).subarray(0, n)
}

function describe(files: readonly NewFile[]) {
  // The executable first, then the inputs in the order they came.
  const ordered = [...files.filter((f) => f.role === 'executable'), ...files.filter((f) => f.role === 'input')]
  const rows = ordered.map((f, position) => ({
    position,
    name: f.name,
    role: f.role,
    size: f.size,
    // Always this server's own hash of these bytes: hashed as they streamed in, or here.
    sha256: f.sha256 ?? sha256Hex(f.content),
    content: f.content,
  }))
  const size = rows.reduce((sum, r) => sum + r.size, 0)
  return { rows, size, digest: versionDigest(rows) }
}

const fileColumns = {
  versionId: scriptFiles.versionId,
  name: scriptFiles.name,
  role: scriptFiles.role,
  size: scriptFiles.size,
  sha256: scriptFiles.sha256,
}

const scriptColumns = {
  script: scripts,
  categoryName: scriptCategories.name,
  ownerName: users.name,
  versionId: scriptVersions.id,
  digest: scriptVersions.digest,
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

/**
 * The script library. Scripts are soft-deleted (their versions stay for run history); every
 * change to the files is a new immutable version; metadata edits are not.
 */
export class ScriptsService {
  constructor(
    private readonly db: Db,
    /** SCRIPT_MAX_BYTES: the executable and input files together. */
    readonly maxBytes: number,
    /** How file contents go to the database (Database.bytes): the fastest way per driver. */
    private readonly bytes: (content: Buffer) => SQL,
    /** Signs each version as it is stored; checks a version's bytes before it runs. */
    readonly integrity: ScriptIntegrity,
    /** Signs the site audit trail's entries (admins unpublishing and transferring scripts). */
    private readonly keyring: Keyring,
  ) {}

  /** Published scripts and your own; site admins see all. Deleted scripts are gone for everyone. */
  private visibleTo(actor: Actor): SQL {
    if (actor.role === 'admin') return isNull(scripts.deletedAt)
    return and(isNull(scripts.deletedAt), or(eq(scripts.published, true), eq(scripts.ownerId, actor.userId))) as SQL
  }

  /** Scripts with their category, owner and current version; always narrowed to a few ids. */
  private selectScripts(db: Db | Tx = this.db) {
    return db
      .select(scriptColumns)
      .from(scripts)
      .innerJoin(scriptCategories, eq(scriptCategories.id, scripts.categoryId))
      .innerJoin(users, eq(users.id, scripts.ownerId))
      .innerJoin(scriptVersions, and(eq(scriptVersions.scriptId, scripts.id), eq(scriptVersions.number, scripts.version)))
  }

  private async filesOf(versionIds: string[], db: Db | Tx = this.db): Promise<Map<string, ScriptFile[]>> {
    const byVersion = new Map<string, ScriptFile[]>()
    if (versionIds.length === 0) return byVersion
    const rows = await db
      .select(fileColumns)
      .from(scriptFiles)
      .where(inArray(scriptFiles.versionId, versionIds))
      .orderBy(asc(scriptFiles.versionId), asc(scriptFiles.position))
    for (const { versionId, ...file } of rows) {
      const list = byVersion.get(versionId) ?? []
      list.push(file)
      byVersion.set(versionId, list)
    }
    return byVersion
  }

  private async toScripts(rows: Awaited<ReturnType<ScriptsService['selectScripts']>>, db: Db | Tx = this.db): Promise<Script[]> {
    const files = await this.filesOf(rows.map((r) => r.versionId), db)
    return rows.map(({ script: s, categoryName, ownerName, versionId, digest }) => ({
      id: s.id,
      name: s.name,
      description: s.description,
      categoryId: s.categoryId,
      categoryName,
      ownerId: s.ownerId,
      ownerName,
      published: s.published,
      defaultTimeoutSeconds: s.defaultTimeoutSeconds,
      version: s.version,
      versionId,
      digest,
      size: s.size,
      files: files.get(versionId) ?? [],
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
    }))
  }

  private async load(id: string, db: Db | Tx = this.db): Promise<Script> {
    const [script] = await this.toScripts(await this.selectScripts(db).where(eq(scripts.id, id)), db)
    if (!script) throw scriptNotFound()
    return script
  }

  async list(actor: Actor, query: ScriptListQuery): Promise<{ data: Script[]; total: number }> {
    const where: SQL[] = [this.visibleTo(actor)]
    if (query.q) {
      const pattern = likePattern(query.q)
      where.push(or(ilike(scripts.name, pattern), ilike(scripts.description, pattern)) as SQL)
    }
    if (query.categoryId) where.push(eq(scripts.categoryId, query.categoryId))
    if (query.ownerId) where.push(eq(scripts.ownerId, query.ownerId))
    if (query.published !== undefined) where.push(eq(scripts.published, query.published))
    const filter = and(...where)
    const direction = query.order === 'desc' ? desc : asc
    // The page is cut on the narrow scripts rows first; the details are read for that page alone.
    // Category and owner names sort by their rank among a few rows, not lower() on every script.
    const rankOf = (table: typeof scriptCategories | typeof users, alias: string) =>
      this.db
        .select({ id: table.id, rank: sql<number>`rank() over (order by lower(${table.name}))`.as('rank') })
        .from(table)
        .as(alias)
    let page = this.db.select({ id: scripts.id }).from(scripts).$dynamic()
    let key: SQL | SQL.Aliased | AnyColumn
    if (query.sort === 'categoryName') {
      const ranks = rankOf(scriptCategories, 'category_rank')
      page = page.innerJoin(ranks, eq(ranks.id, scripts.categoryId))
      key = ranks.rank
    } else if (query.sort === 'ownerName') {
      const ranks = rankOf(users, 'owner_rank')
      page = page.innerJoin(ranks, eq(ranks.id, scripts.ownerId))
      key = ranks.rank
    } else {
      key = scripts[query.sort === 'name' ? 'nameKey' : query.sort]
    }
    // Ties (same size, same version…) fall back to the name, so the order never looks random.
    const [ids, [total]] = await Promise.all([
      page
        .where(filter)
        .orderBy(direction(key), asc(scripts.nameKey), asc(scripts.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(scripts).where(filter),
    ])
    const order = new Map(ids.map((row, i) => [row.id, i]))
    const rows = ids.length ? await this.selectScripts().where(inArray(scripts.id, [...order.keys()])) : []
    rows.sort((a, b) => order.get(a.script.id)! - order.get(b.script.id)!)
    return { data: await this.toScripts(rows), total: total?.n ?? 0 }
  }

  async get(actor: Actor, id: string): Promise<Script> {
    await this.findVisible(actor, id)
    return this.load(id)
  }

  /** The script row when the actor may read it; 404 otherwise, so its existence is not revealed. */
  private async findVisible(actor: Actor, id: string, db: Db | Tx = this.db) {
    const [row] = await db
      .select()
      .from(scripts)
      .where(and(eq(scripts.id, id), this.visibleTo(actor)))
    if (!row) throw scriptNotFound()
    return row
  }

  /**
   * The current versions of scripts the actor may run (the ones they may see: published, their
   * own, or any for a site admin), with their files and signatures. 404 for any other, as for a
   * read. Each version's stored bytes are hashed again and its digest and signature checked: a
   * version that does not match what was uploaded is refused (422 DIGEST_MISMATCH, under
   * `scripts.N`) and the refusal recorded in the site audit trail.
   */
  async resolveForRun(actor: Actor, ids: readonly string[]): Promise<Map<string, SignedScript>> {
    const unique = [...new Set(ids)]
    const rows = await this.selectScripts().where(and(inArray(scripts.id, unique), this.visibleTo(actor)))
    const found = new Map((await this.toScripts(rows)).map((s) => [s.id, s]))
    for (const id of unique) if (!found.has(id)) throw scriptNotFound()
    const signed = new Map<string, SignedScript>()
    // One version at a time: at most one script's bytes (SCRIPT_MAX_BYTES) in memory.
    for (const id of unique) {
      const script = found.get(id)!
      const report = await this.integrity.verify(script.versionId)
      if (!report.ok) {
        await this.integrity.record({ type: 'user', id: actor.userId }, report.version, report.problem, 'run')
        throw this.integrity.mismatch(report.version, report.problem, `scripts.${ids.indexOf(id)}`, 'It cannot run; nothing was created.')
      }
      signed.set(id, { ...script, signature: report.signature, signatureKeyId: report.signatureKeyId })
    }
    return signed
  }

  /** One file of a version, with its content (the agent's download of what a run needs). */
  async versionFile(versionId: string, name: string): Promise<StoredFile | undefined> {
    const [file] = await this.db
      .select({ name: scriptFiles.name, role: scriptFiles.role, size: scriptFiles.size, sha256: scriptFiles.sha256, content: scriptFiles.content })
      .from(scriptFiles)
      .where(and(eq(scriptFiles.versionId, versionId), eq(scriptFiles.name, name)))
    return file
  }

  /** Refuses early, before an upload is read, whoever could not change the script anyway. */
  async checkWritable(actor: Actor, id: string): Promise<void> {
    const row = await this.findVisible(actor, id)
    if (row.ownerId !== actor.userId) throw notOwner()
  }

  /** The script row, locked for a change. */
  private async lockVisible(actor: Actor, id: string, tx: Tx) {
    const [row] = await tx
      .select()
      .from(scripts)
      .where(and(eq(scripts.id, id), this.visibleTo(actor)))
      .for('update')
    if (!row) throw scriptNotFound()
    return row
  }

  /**
   * Locks the script row for a change by its owner. What runs on customers' computers is the
   * owner's alone to write: a site admin who is not the owner may only unpublish the script or
   * hand it to another owner (both recorded in the site audit trail), never change what it does.
   */
  private async findWritable(actor: Actor, id: string, tx: Tx) {
    const row = await this.lockVisible(actor, id, tx)
    if (row.ownerId !== actor.userId) throw notOwner()
    return row
  }

  /** Holds the category until the transaction ends, so it cannot be deleted under a new script. */
  private async lockCategory(tx: Tx, categoryId: string) {
    const [category] = await tx
      .select({ id: scriptCategories.id })
      .from(scriptCategories)
      .where(and(eq(scriptCategories.id, categoryId), isNull(scriptCategories.deletedAt)))
      .for('share')
    if (!category) throw unknownCategory()
  }

  private async assertNameFree(tx: Tx, name: string, exceptId?: string) {
    const [taken] = await tx
      .select({ id: scripts.id })
      .from(scripts)
      .where(and(eq(scripts.nameKey, sql`lower(${name})`), isNull(scripts.deletedAt)))
    if (taken && taken.id !== exceptId) throw nameTaken()
  }

  /** A new immutable version's rows, signed before it is stored (the agent checks the signature before it runs anything). */
  private prepareVersion(scriptId: string, number: number, files: readonly NewFile[]) {
    const { rows, size, digest } = describe(files)
    const id = randomUUID()
    return { id, rows, size, digest, ...this.integrity.sign({ scriptId, versionId: id, number, digest }) }
  }

  /**
   * A version's files in one statement: on PostgreSQL a binary COPY (the bytes as they are, not
   * as text to decode), on PGlite one insert whose bytes go as binary parameters.
   */
  private async storeFiles(tx: Tx, versionId: string, rows: ReturnType<typeof describe>['rows']) {
    const postgres = postgresJsOf(tx)
    if (postgres) {
      const columns = ['version_id', 'position', 'name', 'role', 'size', 'sha256', 'content']
      await copyBinary(
        postgres,
        'script_files',
        columns,
        rows.map((r) => [{ uuid: versionId }, { int4: r.position }, { text: r.name }, { text: r.role }, { int4: r.size }, { text: r.sha256 }, { bytes: r.content }]),
      )
      return
    }
    const values = rows.map(
      (r) =>
        sql`(${versionId}::uuid, ${r.position}::int, ${r.name}::text, ${r.role}::script_file_role, ${r.size}::int, ${r.sha256}::text, ${this.bytes(r.content.length === 1 ? r.content[0]! : Buffer.concat(r.content))})`,
    )
    await tx.execute(sql`insert into script_files (version_id, position, name, role, size, sha256, content) values ${sql.join(values, sql`, `)}`)
  }

  /** The answer for a script just written, from what was written: nothing is read back. */
  private written(
    script: { id: string; name: string; description: string; categoryId: string; ownerId: string; published: boolean; defaultTimeoutSeconds: number },
    names: { categoryName: string; ownerName: string; createdAt: Date | string; updatedAt: Date | string },
    version: { number: number; id: string; digest: string; size: number; rows: ReturnType<typeof describe>['rows'] },
  ): Script {
    return {
      ...script,
      categoryName: names.categoryName,
      ownerName: names.ownerName,
      version: version.number,
      versionId: version.id,
      digest: version.digest,
      size: version.size,
      files: version.rows.map(({ name, role, size, sha256 }) => ({ name, role, size, sha256 })),
      createdAt: new Date(names.createdAt).toISOString(),
      updatedAt: new Date(names.updatedAt).toISOString(),
    }
  }

  /**
   * Creates the script and its version 1 in one transaction: all of it or nothing. Two statements:
   * one locks the category (FOR SHARE, so it cannot be deleted under the new script) and inserts
   * the script and its version, the other stores the files. A name in use fails the unique index.
   */
  async create(actor: Actor, fields: ScriptFields, files: readonly NewFile[]): Promise<Script> {
    const name = cleanName(fields.name)
    checkFileSet(files, this.maxBytes)
    const script = {
      id: randomUUID(),
      name,
      description: fields.description ?? '',
      categoryId: fields.categoryId,
      ownerId: actor.userId,
      published: fields.published ?? false,
      defaultTimeoutSeconds: fields.defaultTimeoutSeconds ?? 600,
    }
    const version = { number: 1, ...this.prepareVersion(script.id, 1, files) }
    try {
      return await this.db.transaction(async (tx) => {
        const [names] = await rowsOf<{ categoryName: string; ownerName: string; createdAt: Date | string; updatedAt: Date | string }>(
          tx as unknown as Db,
          sql`with category as (
                select name from script_categories where id = ${script.categoryId}::uuid and deleted_at is null for share
              ), script as (
                insert into scripts (id, name, category_id, description, owner_id, published, default_timeout_seconds, version, size)
                select ${script.id}::uuid, ${name}::text, ${script.categoryId}::uuid, ${script.description}::text, ${script.ownerId}::uuid,
                       ${script.published}::boolean, ${script.defaultTimeoutSeconds}::int, 1, ${version.size}::int
                from category
                returning created_at, updated_at
              ), version as (
                insert into script_versions (id, script_id, number, digest, size, created_by, signature, signature_key_id)
                select ${version.id}::uuid, ${script.id}::uuid, 1, ${version.digest}::text, ${version.size}::int, ${script.ownerId}::uuid,
                       ${version.signature}::text, ${version.signatureKeyId}::text
                from script
              )
              select category.name as "categoryName", users.name as "ownerName", script.created_at as "createdAt", script.updated_at as "updatedAt"
              from category, script, users
              where users.id = ${script.ownerId}::uuid`,
        )
        if (!names) throw unknownCategory()
        await this.storeFiles(tx, version.id, version.rows)
        return this.written(script, names, version)
      })
    } catch (err) {
      // Two uploads of the same name at once: the unique index decides, the loser hears why.
      if (isUniqueViolation(err)) throw nameTaken()
      throw err
    }
  }

  /** Metadata only: the version stays. A site admin who is not the owner may only unpublish. */
  async update(actor: Actor, id: string, input: ScriptUpdate): Promise<Script> {
    try {
      return await this.db.transaction(async (tx) => {
        const row = await this.lockVisible(actor, id, tx)
        if (row.ownerId !== actor.userId) {
          const onlyUnpublish = input.published === false && Object.values({ ...input, published: undefined }).every((v) => v === undefined)
          if (actor.role !== 'admin' || !onlyUnpublish) throw notOwner()
          if (row.published) {
            await tx.update(scripts).set({ published: false, updatedAt: new Date() }).where(eq(scripts.id, id))
            await appendSiteEvent(tx, this.keyring, {
              type: 'script.unpublished',
              actor: { type: 'user', id: actor.userId },
              targetType: 'script',
              targetId: id,
              data: { name: row.name, ownerId: row.ownerId },
            })
          }
          return this.load(id, tx)
        }
        const changes: Partial<typeof scripts.$inferInsert> = { updatedAt: new Date() }
        if (input.name !== undefined) {
          changes.name = cleanName(input.name)
          await this.assertNameFree(tx, changes.name, id)
        }
        if (input.categoryId !== undefined) {
          await this.lockCategory(tx, input.categoryId)
          changes.categoryId = input.categoryId
        }
        if (input.description !== undefined) changes.description = input.description
        if (input.published !== undefined) changes.published = input.published
        if (input.defaultTimeoutSeconds !== undefined) changes.defaultTimeoutSeconds = input.defaultTimeoutSeconds
        // An empty edit changes nothing, not even updatedAt.
        if (Object.keys(changes).length > 1) await tx.update(scripts).set(changes).where(eq(scripts.id, id))
        return this.load(id, tx)
      })
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken()
      throw err
    }
  }

  /**
   * A new version with the uploaded files plus the current files named in `keep`. The script
   * row is locked, so two uploads at once get consecutive numbers.
   */
  async addVersion(actor: Actor, id: string, uploaded: readonly NewFile[], keep: readonly string[]): Promise<Script> {
    return this.db.transaction(async (tx) => {
      const script = await this.findWritable(actor, id, tx)
      const kept: NewFile[] = []
      if (keep.length > 0) {
        const [current] = await tx
          .select({ id: scriptVersions.id })
          .from(scriptVersions)
          .where(and(eq(scriptVersions.scriptId, id), eq(scriptVersions.number, script.version)))
        const stored = await tx
          .select({ name: scriptFiles.name, role: scriptFiles.role, content: scriptFiles.content })
          .from(scriptFiles)
          .where(eq(scriptFiles.versionId, current!.id))
        const byName = new Map(stored.map((f) => [f.name, f]))
        for (const name of new Set(keep)) {
          const file = byName.get(name)
          if (!file) {
            throw unprocessable('UNKNOWN_FILE', `Version ${script.version} has no file ${JSON.stringify(name)} to keep`, {
              keep: `No file ${JSON.stringify(name)} in the current version`,
            })
          }
          kept.push({ field: 'keep', name: file.name, role: file.role, content: [file.content], size: file.content.length })
        }
      }
      const files = [...uploaded, ...kept]
      checkFileSet(files, this.maxBytes)
      const number = script.version + 1
      const version = { number, ...this.prepareVersion(id, number, files) }
      // The version row and the script's move to it in one statement; the answer's names with them.
      const [row] = await rowsOf<{ categoryName: string; ownerName: string; createdAt: Date | string; updatedAt: Date | string }>(
        tx as unknown as Db,
        sql`with version as (
              insert into script_versions (id, script_id, number, digest, size, created_by, signature, signature_key_id)
              values (${version.id}::uuid, ${id}::uuid, ${number}::int, ${version.digest}::text, ${version.size}::int, ${actor.userId}::uuid,
                      ${version.signature}::text, ${version.signatureKeyId}::text)
            ), script as (
              update scripts set version = ${number}::int, size = ${version.size}::int, updated_at = now() where id = ${id}::uuid
              returning category_id, owner_id, created_at, updated_at
            )
            select script_categories.name as "categoryName", users.name as "ownerName", script.created_at as "createdAt", script.updated_at as "updatedAt"
            from script
            join script_categories on script_categories.id = script.category_id
            join users on users.id = script.owner_id`,
      )
      await this.storeFiles(tx, version.id, version.rows)
      const fields = {
        id,
        name: script.name,
        description: script.description,
        categoryId: script.categoryId,
        ownerId: script.ownerId,
        published: script.published,
        defaultTimeoutSeconds: script.defaultTimeoutSeconds,
      }
      return this.written(fields, row!, version)
    })
  }

  /**
   * A site admin gives the script to another active user (the owner left, or the library is
   * reorganised); recorded in the site audit trail. The new owner then edits, versions, deletes.
   */
  async transferOwner(actor: Actor, id: string, ownerId: string): Promise<Script> {
    return this.db.transaction(async (tx) => {
      const row = await this.lockVisible(actor, id, tx)
      const [owner] = await tx.select({ id: users.id, disabled: users.disabled }).from(users).where(eq(users.id, ownerId)).for('share')
      if (!owner || owner.disabled) {
        throw unprocessable('UNKNOWN_USER', 'The new owner must be an existing user who is not disabled', { ownerId: 'Choose an active user' })
      }
      if (row.ownerId !== ownerId) {
        await tx.update(scripts).set({ ownerId, updatedAt: new Date() }).where(eq(scripts.id, id))
        await appendSiteEvent(tx, this.keyring, {
          type: 'script.owner_transferred',
          actor: { type: 'user', id: actor.userId },
          targetType: 'script',
          targetId: id,
          data: { name: row.name, fromOwnerId: row.ownerId, toOwnerId: ownerId },
        })
      }
      return this.load(id, tx)
    })
  }

  /** Soft delete: the name is free again; versions stay for the runs that used them. */
  async delete(actor: Actor, id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.findWritable(actor, id, tx)
      await tx.update(scripts).set({ deletedAt: new Date() }).where(eq(scripts.id, id))
    })
  }

  private async toVersions(rows: { version: typeof scriptVersions.$inferSelect; createdByName: string }[]): Promise<ScriptVersion[]> {
    const files = await this.filesOf(rows.map((r) => r.version.id))
    return rows.map(({ version: v, createdByName }) => ({
      id: v.id,
      number: v.number,
      digest: v.digest,
      size: v.size,
      createdAt: v.createdAt.toISOString(),
      createdById: v.createdById,
      createdByName,
      files: files.get(v.id) ?? [],
    }))
  }

  private selectVersions() {
    return this.db
      .select({ version: scriptVersions, createdByName: users.name })
      .from(scriptVersions)
      .innerJoin(users, eq(users.id, scriptVersions.createdById))
  }

  async listVersions(actor: Actor, id: string, query: Paging<'number'>): Promise<{ data: ScriptVersion[]; total: number }> {
    await this.findVisible(actor, id)
    const direction = query.order === 'desc' ? desc : asc
    const rows = await this.selectVersions()
      .where(eq(scriptVersions.scriptId, id))
      .orderBy(direction(scriptVersions.number))
      .limit(query.limit)
      .offset(query.offset)
    const [total] = await this.db.select({ n: count() }).from(scriptVersions).where(eq(scriptVersions.scriptId, id))
    return { data: await this.toVersions(rows), total: total?.n ?? 0 }
  }

  async getVersion(actor: Actor, id: string, number: number): Promise<ScriptVersion> {
    await this.findVisible(actor, id)
    const rows = await this.selectVersions().where(and(eq(scriptVersions.scriptId, id), eq(scriptVersions.number, number)))
    const [version] = await this.toVersions(rows)
    if (!version) throw notFound('Script version', 'VERSION_NOT_FOUND')
    return version
  }

  /** One file of any version the actor may read, with its content. */
  async readFile(actor: Actor, id: string, number: number, name: string): Promise<StoredFile> {
    await this.findVisible(actor, id)
    const [version] = await this.db
      .select({ id: scriptVersions.id })
      .from(scriptVersions)
      .where(and(eq(scriptVersions.scriptId, id), eq(scriptVersions.number, number)))
    if (!version) throw notFound('Script version', 'VERSION_NOT_FOUND')
    const [file] = await this.db
      .select({ name: scriptFiles.name, role: scriptFiles.role, size: scriptFiles.size, sha256: scriptFiles.sha256, content: scriptFiles.content })
      .from(scriptFiles)
      .where(and(eq(scriptFiles.versionId, version.id), eq(scriptFiles.name, name)))
    if (!file) throw notFound('Script file', 'FILE_NOT_FOUND')
    return file
  }
}
