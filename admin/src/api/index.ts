import { createBrowserClient } from './client.ts'
import { localTokenStore } from './token-store.ts'
import { createAuthProvider } from './auth-provider.ts'
import { createDataProvider } from './data-provider.ts'
import { usersAdapter, userActions } from './resources/users.ts'
import { tokensAdapter } from './resources/tokens.ts'
import { meActions } from './resources/me.ts'
import { categoriesAdapter } from './resources/categories.ts'
import { scriptActions, scriptsAdapter } from './resources/scripts.ts'

const tokens = localTokenStore()
const client = createBrowserClient(tokens)

export const authProvider = createAuthProvider(client, tokens)

/** Add a resource: write its adapter in ./resources/ and register it here. */
export const dataProvider = createDataProvider(
  {
    users: usersAdapter(client),
    tokens: tokensAdapter(client),
    categories: categoriesAdapter(client),
    scripts: scriptsAdapter(client),
  },
  { ...userActions(client), ...meActions(client), ...scriptActions(client) },
)

export type AppDataProvider = typeof dataProvider
