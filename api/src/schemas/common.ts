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

/** Common list query: react-admin sends page, perPage, sort and order. */
export function listQuery<const S extends string[]>(sortable: S, filters: Record<string, TSchema> = {}) {
  return Type.Object(
    {
      page: Type.Integer({ minimum: 1, default: 1 }),
      perPage: Type.Integer({ minimum: 1, maximum: 100, default: 25 }),
      sort: Type.Enum(sortable, { default: sortable[0] }),
      order: Type.Enum(['asc', 'desc'], { default: 'asc' }),
      ...filters,
    },
    { additionalProperties: false },
  )
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
