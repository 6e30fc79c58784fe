import type { Schemas } from '@helpline/sdk'
import type { ResourceAdapter } from '../data-provider.ts'
import { call } from '../errors.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type ApiToken = Schemas['ApiToken']
export type Scope = Schemas['Scope']
/** Only the answer to a create carries the secret, and only that once. */
export type CreatedApiToken = Schemas['ApiTokenCreated']

/** Every scope, in the order the console shows them. */
export const allScopes: Scope[] = ['read', 'sessions', 'admin']

function toIso(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const date = value instanceof Date ? value : new Date(String(value))
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}

/** The scopes ticked in a form, in the API's terms; none ticked leaves the API's default (read). */
export function toScopes(value: unknown): Scope[] | undefined {
  const ticked = Array.isArray(value) ? allScopes.filter((s) => value.includes(s)) : []
  return ticked.length > 0 ? ticked : undefined
}

/** The signed-in user's own API tokens, newest first unless asked otherwise. */
export function tokensAdapter(client: HelplineClient): ResourceAdapter<ApiToken> {
  return {
    async getList({ page, perPage, order }) {
      const query = { page, perPage, sort: 'createdAt' as const, order: order ?? 'desc' }
      return dataOf(await client.GET('/api/v1/tokens', { params: { query } }))
    },
    async create(data) {
      const expiresAt = toIso(data.expiresAt)
      const scopes = toScopes(data.scopes)
      const body = { name: String(data.name ?? ''), ...(expiresAt ? { expiresAt } : {}), ...(scopes ? { scopes } : {}) }
      return dataOf(await client.POST('/api/v1/tokens', { body }))
    },
    async delete(id) {
      await client.DELETE('/api/v1/tokens/{id}', { params: { path: { id: String(id) } } })
    },
  }
}

/** A user's sign-ins and API tokens, as a site admin sees and ends them; exposed on the data provider. */
export function userTokenActions(client: HelplineClient) {
  return {
    listUserTokens: (userId: string): Promise<{ data: ApiToken[]; total: number }> =>
      call(async () =>
        dataOf(await client.GET('/api/v1/users/{id}/tokens', { params: { path: { id: userId }, query: { perPage: 100, order: 'desc' } } })),
      ),
    revokeUserToken: (userId: string, tokenId: string): Promise<void> =>
      call(async () => {
        await client.DELETE('/api/v1/users/{id}/tokens/{tokenId}', { params: { path: { id: userId, tokenId } } })
      }),
  }
}
