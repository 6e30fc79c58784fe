import { and, asc, count, desc, eq, ilike, isNull, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { scriptCategories, scripts } from '../db/schema.ts'
import { badRequest, conflict, notFound } from '../errors.ts'
import type { Paging } from '../schemas/common.ts'
import type { ScriptCategory } from '../schemas/scripts.ts'
import { refuseControlCharacters } from '../lib/text.ts'
import { isUniqueViolation } from '../db/raw.ts'
import { likePattern } from './accounts.service.ts'

type CategoryRow = typeof scriptCategories.$inferSelect

export function toCategory(row: CategoryRow): ScriptCategory {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() }
}

export interface CategoryListQuery extends Paging<'name' | 'createdAt'> {
  q?: string | undefined
}

const categoryNotFound = () => notFound('Script category', 'CATEGORY_NOT_FOUND')
const nameTaken = () =>
  conflict('NAME_TAKEN', 'A script category with this name already exists', { name: 'This name is already in use' })

function cleanName(name: string): string {
  const trimmed = name.trim()
  if (!trimmed) throw badRequest('VALIDATION_FAILED', 'The name must not be blank', { name: 'must not be blank' })
  refuseControlCharacters({ name: trimmed })
  return trimmed
}

/**
 * Script categories: site admins create, rename and delete them (the routes enforce the role);
 * everyone lists them. A deleted category is hidden, not removed: scripts deleted earlier still
 * refer to it.
 */
export class CategoriesService {
  constructor(private readonly db: Db) {}

  private live(id: string): SQL {
    return and(eq(scriptCategories.id, id), isNull(scriptCategories.deletedAt)) as SQL
  }

  async list(query: CategoryListQuery): Promise<{ data: ScriptCategory[]; total: number }> {
    const where: SQL[] = [isNull(scriptCategories.deletedAt)]
    if (query.q) where.push(ilike(scriptCategories.name, likePattern(query.q)))
    const filter = and(...where)
    const column = query.sort === 'name' ? sql`lower(${scriptCategories.name})` : scriptCategories.createdAt
    const direction = query.order === 'desc' ? desc : asc
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(scriptCategories)
        .where(filter)
        .orderBy(direction(column), asc(scriptCategories.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ n: count() }).from(scriptCategories).where(filter),
    ])
    return { data: rows.map(toCategory), total: total?.n ?? 0 }
  }

  async get(id: string): Promise<ScriptCategory> {
    const [row] = await this.db.select().from(scriptCategories).where(this.live(id))
    if (!row) throw categoryNotFound()
    return toCategory(row)
  }

  async create(name: string): Promise<ScriptCategory> {
    try {
      const [row] = await this.db.insert(scriptCategories).values({ name: cleanName(name) }).returning()
      return toCategory(row!)
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken()
      throw err
    }
  }

  async rename(id: string, name: string): Promise<ScriptCategory> {
    const clean = cleanName(name)
    try {
      const [row] = await this.db
        .update(scriptCategories)
        .set({ name: clean, updatedAt: new Date() })
        .where(this.live(id))
        .returning()
      if (!row) throw categoryNotFound()
      return toCategory(row)
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken()
      throw err
    }
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      // The row lock waits for script writes that hold the category (FOR SHARE) to finish, so
      // the count below sees every script that will use it.
      const [row] = await tx.select({ id: scriptCategories.id }).from(scriptCategories).where(this.live(id)).for('update')
      if (!row) throw categoryNotFound()
      const [used] = await tx
        .select({ n: count() })
        .from(scripts)
        .where(and(eq(scripts.categoryId, id), isNull(scripts.deletedAt)))
      const n = used?.n ?? 0
      if (n > 0) {
        throw conflict('CATEGORY_IN_USE', `${n} script${n === 1 ? '' : 's'} in the library use this category; move or delete them first`)
      }
      await tx.update(scriptCategories).set({ deletedAt: new Date() }).where(eq(scriptCategories.id, id))
    })
  }
}
