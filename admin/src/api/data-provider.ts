import type { DataProvider, GetListParams, Identifier, RaRecord } from 'react-admin'
import { call } from './errors.ts'

/** One query of a list endpoint, in the API's terms. */
export interface ListQuery {
  page: number
  perPage: number
  sort?: string
  order?: 'asc' | 'desc'
  [filter: string]: unknown
}

/**
 * How one react-admin resource talks to the API. Each resource implements the
 * calls its endpoints offer; the data provider refuses the others.
 */
export interface ResourceAdapter<R extends RaRecord = RaRecord> {
  getList?(query: ListQuery): Promise<{ data: R[]; total: number }>
  getOne?(id: Identifier): Promise<R>
  create?(data: Partial<R>): Promise<R>
  update?(id: Identifier, data: Partial<R>, previous: R | undefined): Promise<R>
  delete?(id: Identifier): Promise<void>
}

/** Narrows an untyped react-admin value (a sort field, a filter) to one of the API's choices. */
export function isOneOf<T extends string>(choices: readonly T[], value: unknown): value is T {
  return choices.includes(value as T)
}

/** Translates react-admin's list parameters into the API's list query. */
export function toListQuery(params: Partial<GetListParams>): ListQuery {
  const query: ListQuery = {
    page: params.pagination?.page ?? 1,
    perPage: params.pagination?.perPage ?? 25,
  }
  if (params.sort?.field && params.sort.field !== 'id') {
    query.sort = params.sort.field
    query.order = params.sort.order === 'DESC' ? 'desc' : 'asc'
  }
  for (const [key, value] of Object.entries(params.filter ?? {})) {
    if (value !== undefined && value !== null && value !== '') query[key] = value
  }
  return query
}

/** Only the fields the user changed: PATCH bodies carry no read-only fields. */
export function changedFields<R extends object>(data: Partial<R>, previous: Partial<R> | undefined, editable: readonly (keyof R)[]) {
  const out: Partial<R> = {}
  for (const key of editable) {
    const value = data[key]
    if (value === undefined || value === null || value === '') continue
    if (previous && previous[key] === value) continue
    out[key] = value
  }
  return out
}

function unsupported(resource: string, method: string): never {
  throw new Error(`${method} is not available for ${resource}`)
}

export type HelplineDataProvider<Extra extends object = object> = DataProvider & Extra

/**
 * The one adapter between the console and the API: react-admin's data calls are
 * dispatched to each resource's adapter, and SDK errors become HttpErrors.
 * `extra` adds the calls that are not CRUD (disable a user, change a password).
 */
export function createDataProvider<Extra extends object>(
  adapters: Record<string, ResourceAdapter>,
  extra: Extra,
): HelplineDataProvider<Extra> {
  const adapter = (resource: string): ResourceAdapter => adapters[resource] ?? unsupported(resource, 'Any call')

  const getOne = (resource: string, id: Identifier) => {
    const a = adapter(resource)
    if (!a.getOne) return unsupported(resource, 'getOne')
    return call(() => a.getOne!(id))
  }

  const provider: DataProvider = {
    async getList(resource, params) {
      const a = adapter(resource)
      if (!a.getList) return unsupported(resource, 'getList')
      const { data, total } = await call(() => a.getList!(toListQuery(params)))
      return { data: data as never[], total }
    },
    async getOne(resource, params) {
      return { data: (await getOne(resource, params.id)) as never }
    },
    async getMany(resource, params) {
      const data = await Promise.all(params.ids.map((id) => getOne(resource, id)))
      return { data: data as never[] }
    },
    async getManyReference(resource, params) {
      const a = adapter(resource)
      if (!a.getList) return unsupported(resource, 'getManyReference')
      const query = toListQuery({ ...params, filter: { ...params.filter, [params.target]: params.id } })
      const { data, total } = await call(() => a.getList!(query))
      return { data: data as never[], total }
    },
    async create(resource, params) {
      const a = adapter(resource)
      if (!a.create) return unsupported(resource, 'create')
      return { data: (await call(() => a.create!(params.data))) as never }
    },
    async update(resource, params) {
      const a = adapter(resource)
      if (!a.update) return unsupported(resource, 'update')
      return { data: (await call(() => a.update!(params.id, params.data, params.previousData))) as never }
    },
    async updateMany(resource, params) {
      const a = adapter(resource)
      if (!a.update) return unsupported(resource, 'updateMany')
      await Promise.all(params.ids.map((id) => call(() => a.update!(id, params.data, undefined))))
      return { data: params.ids }
    },
    async delete(resource, params) {
      const a = adapter(resource)
      if (!a.delete) return unsupported(resource, 'delete')
      await call(() => a.delete!(params.id))
      return { data: (params.previousData ?? { id: params.id }) as never }
    },
    async deleteMany(resource, params) {
      const a = adapter(resource)
      if (!a.delete) return unsupported(resource, 'deleteMany')
      await Promise.all(params.ids.map((id) => call(() => a.delete!(id))))
      return { data: params.ids }
    },
  }
  return Object.assign(provider, extra)
}
