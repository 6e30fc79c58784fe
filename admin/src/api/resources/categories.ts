import type { operations, Schemas } from '@helpline/sdk'
import type { ListQuery, ResourceAdapter } from '../data-provider.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type Category = Schemas['ScriptCategory']
type CategoryQuery = NonNullable<operations['listScriptCategories']['parameters']['query']>

function toCategoryQuery(query: ListQuery): CategoryQuery {
  const out: CategoryQuery = {
    page: query.page,
    perPage: query.perPage,
    sort: query.sort === 'createdAt' ? 'createdAt' : 'name',
    order: query.order ?? 'asc',
  }
  if (typeof query.q === 'string') out.q = query.q
  return out
}

/** Script categories: everyone reads them (the script form's select), site admins write. */
export function categoriesAdapter(client: HelplineClient): ResourceAdapter<Category> {
  const path = (id: unknown) => ({ path: { id: String(id) } })
  return {
    async getList(query) {
      return dataOf(await client.GET('/api/v1/script-categories', { params: { query: toCategoryQuery(query) } }))
    },
    async getOne(id) {
      return dataOf(await client.GET('/api/v1/script-categories/{id}', { params: path(id) }))
    },
    async create(data) {
      return dataOf(await client.POST('/api/v1/script-categories', { body: { name: String(data.name ?? '') } }))
    },
    async update(id, data) {
      return dataOf(await client.PATCH('/api/v1/script-categories/{id}', { params: path(id), body: { name: String(data.name ?? '') } }))
    },
    async delete(id) {
      await client.DELETE('/api/v1/script-categories/{id}', { params: path(id) })
    },
  }
}
