import type { Schemas } from '@helpline/sdk'
import type { ResourceAdapter } from '../data-provider.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type ApiToken = Schemas['ApiToken']
/** Only the answer to a create carries the secret, and only that once. */
export type CreatedApiToken = Schemas['ApiTokenCreated']

function toIso(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const date = value instanceof Date ? value : new Date(String(value))
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
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
      const body = { name: String(data.name ?? ''), ...(expiresAt ? { expiresAt } : {}) }
      return dataOf(await client.POST('/api/v1/tokens', { body }))
    },
    async delete(id) {
      await client.DELETE('/api/v1/tokens/{id}', { params: { path: { id: String(id) } } })
    },
  }
}
