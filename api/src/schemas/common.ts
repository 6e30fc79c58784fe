import { Type, type Static, type TSchema } from 'typebox'
import { ErrorResponse } from '../errors.ts'

/**
 * A reference to a shared schema by its $id. Responses use references so every shared shape is one
 * named component in openapi.yaml; the static type is still the referenced schema's.
 */
export function ref<T extends TSchema>(schema: T) {
  const id = (schema as { $id?: string }).$id
  if (!id) throw new Error('ref() needs a schema with $id')
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` })
}

export const Uuid = Type.String({ format: 'uuid', maxLength: 36 })
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export const DateTime = Type.String({ format: 'date-time' })

/** Common list query: react-admin sends page, perPage, sort and order; all optional. */
export function listQuery<const S extends string[], F extends Record<string, TSchema> = {}>(
  sortable: [...S],
  filters?: F,
  defaultOrder: 'asc' | 'desc' = 'asc',
) {
  return Type.Object(
    {
      page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 1 })),
      perPage: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
      sort: Type.Optional(Type.Enum(sortable, { default: sortable[0] })),
      order: Type.Optional(Type.Enum(['asc', 'desc'], { default: defaultOrder })),
      ...((filters ?? {}) as F),
    },
    { additionalProperties: false },
  )
}

export interface Paging<S extends string> {
  limit: number
  offset: number
  sort: S
  order: 'asc' | 'desc'
}

/** The list query with its defaults applied (validation already filled them; this tells TypeScript). */
export function paging<S extends string>(
  query: { page?: number | undefined; perPage?: number | undefined; sort?: S | undefined; order?: 'asc' | 'desc' | undefined },
  defaultSort: S,
  defaultOrder: 'asc' | 'desc' = 'asc',
): Paging<S> {
  const perPage = query.perPage ?? 25
  return { limit: perPage, offset: ((query.page ?? 1) - 1) * perPage, sort: query.sort ?? defaultSort, order: query.order ?? defaultOrder }
}

/** `{ data, total }`, the shape of every list response. */
export function page<T extends TSchema>(item: T, id: string) {
  return Type.Object(
    { data: Type.Array(ref(item)), total: Type.Integer({ minimum: 0 }) },
    { $id: id, additionalProperties: false },
  )
}

/** Error responses a route declares for the statuses its own rules can produce. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, ref(ErrorResponse)])) as Record<number, ReturnType<typeof ref<typeof ErrorResponse>>>
}

/** The header of every 429 and 503: how long to wait before asking again. */
export const retryAfterHeader = { 'Retry-After': Type.Integer({ minimum: 0, description: 'Seconds to wait before trying again' }) }
