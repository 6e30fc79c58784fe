/** Where the console keeps its bearer token between page loads. */
export const TOKEN_KEY = 'helpline.token'

export interface TokenStore {
  get(): string | undefined
  set(token: string): void
  clear(): void
}

export function localTokenStore(storage: Storage = window.localStorage): TokenStore {
  return {
    get: () => storage.getItem(TOKEN_KEY) ?? undefined,
    set: (token) => storage.setItem(TOKEN_KEY, token),
    clear: () => storage.removeItem(TOKEN_KEY),
  }
}
