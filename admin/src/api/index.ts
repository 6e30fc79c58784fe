import { createBrowserClient } from './client.ts'
import { localTokenStore } from './token-store.ts'
import { createAuthProvider } from './auth-provider.ts'
import { createDataProvider } from './data-provider.ts'
import { usersAdapter, userActions } from './resources/users.ts'
import { tokensAdapter, userTokenActions } from './resources/tokens.ts'
import { meActions } from './resources/me.ts'
import { categoriesAdapter } from './resources/categories.ts'
import { scriptActions, scriptsAdapter } from './resources/scripts.ts'
import { reportsAdapter, sessionActions, sessionsAdapter } from './resources/sessions.ts'
import { runActions, scriptBatchesAdapter } from './resources/script-batches.ts'
import { webhookActions, webhooksAdapter } from './resources/webhooks.ts'
import { followSessionStream, type StreamHandlers } from './session-stream.ts'

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
    sessions: sessionsAdapter(client),
    reports: reportsAdapter(client),
    'script-batches': scriptBatchesAdapter(client),
    webhooks: webhooksAdapter(client),
  },
  {
    ...userActions(client),
    ...userTokenActions(client),
    ...meActions(client),
    ...sessionActions(client),
    ...scriptActions(client),
    ...runActions(client),
    ...webhookActions(client),
    /**
     * A session's live updates; resolves to the function that stops them. A Promise because
     * react-admin's useDataProvider proxy chains `.then` on whatever a method returns.
     */
    followSession: async (sessionId: string, after: number, handlers: StreamHandlers): Promise<() => void> =>
      followSessionStream(client, sessionId, after, handlers),
  },
)

export type AppDataProvider = typeof dataProvider
