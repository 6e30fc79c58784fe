import type { operations, Schemas } from '@helpline/sdk'
import type { ListQuery, ResourceAdapter } from '../data-provider.ts'
import { changedFields, isOneOf } from '../data-provider.ts'
import { call } from '../errors.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type User = Schemas['User']
type UserWrite = Required<operations['updateUser']['requestBody']>['content']['application/json']
type UserQuery = NonNullable<operations['listUsers']['parameters']['query']>

const sortable = ['email', 'name', 'role', 'createdAt', 'lastLoginAt'] as const satisfies readonly NonNullable<UserQuery['sort']>[]
const editable = ['email', 'name', 'role', 'password'] as const satisfies readonly (keyof UserWrite)[]

/** react-admin's filters arrive untyped: keep only those the endpoint knows, in its types. */
function toUserQuery(query: ListQuery): UserQuery {
  const out: UserQuery = {
    page: query.page,
    perPage: query.perPage,
    sort: isOneOf(sortable, query.sort) ? query.sort : 'createdAt',
    order: query.order ?? 'desc',
  }
  if (typeof query.q === 'string') out.q = query.q
  if (isOneOf(['admin', 'csr'] as const, query.role)) out.role = query.role
  if (typeof query.disabled === 'boolean') out.disabled = query.disabled
  return out
}

export function usersAdapter(client: HelplineClient): ResourceAdapter<User> {
  const path = (id: unknown) => ({ path: { id: String(id) } })
  return {
    async getList(query) {
      return dataOf(await client.GET('/api/v1/users', { params: { query: toUserQuery(query) } }))
    },
    async getOne(id) {
      return dataOf(await client.GET('/api/v1/users/{id}', { params: path(id) }))
    },
    async create(data) {
      const body = changedFields<UserWrite>(data as UserWrite, undefined, editable)
      const { email, name, role, password } = body
      if (!email || !name || !role || !password) throw new Error('email, name, role and password are required')
      return dataOf(await client.POST('/api/v1/users', { body: { email, name, role, password } }))
    },
    async update(id, data, previous) {
      const body = changedFields<UserWrite>(data as UserWrite, previous as UserWrite | undefined, editable)
      return dataOf(await client.PATCH('/api/v1/users/{id}', { params: path(id), body }))
    },
  }
}

/** Calls on users that are not CRUD; exposed on the data provider. */
export function userActions(client: HelplineClient) {
  const path = (id: string) => ({ path: { id } })
  return {
    disableUser: (id: string): Promise<User> =>
      call(async () => dataOf(await client.POST('/api/v1/users/{id}/disable', { params: path(id) }))),
    enableUser: (id: string): Promise<User> =>
      call(async () => dataOf(await client.POST('/api/v1/users/{id}/enable', { params: path(id) }))),
  }
}
