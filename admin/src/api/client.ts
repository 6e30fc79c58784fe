import { createClient, type HelplineClient } from '@helpline/sdk'
import type { TokenStore } from './token-store.ts'

export type { HelplineClient }

/**
 * The console is served by the API itself, so the API lives at the page's own
 * origin (in `vite dev` the dev server proxies /api to it).
 */
export function createBrowserClient(tokens: TokenStore, baseUrl = window.location.origin): HelplineClient {
  return createClient({ baseUrl, token: () => tokens.get() })
}

/**
 * The SDK throws ApiError on every non-2xx answer, so a resolved call always
 * carries data; this narrows the optional `data` openapi-fetch declares.
 */
export function dataOf<T>(result: { data?: T }): T {
  if (result.data === undefined) throw new Error('Empty response from the API')
  return result.data
}
