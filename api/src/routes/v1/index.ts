import type { FastifyInstance } from 'fastify'
import accessRoutes from './access.ts'
import agentRoutes from './agent/index.ts'
import agentScriptRunRoutes from './agent/script-runs.ts'
import auditRoutes from './audit.ts'
import authRoutes from './auth.ts'
import categoryRoutes from './categories.ts'
import scriptBatchRoutes from './script-batches.ts'
import scriptRoutes from './scripts.ts'
import sessionRoutes from './sessions.ts'
import settingsRoutes from './settings.ts'
import tokenRoutes from './tokens.ts'
import twoFactorRoutes from './two-factor.ts'
import userRoutes from './users.ts'
import downloadRoutes from './downloads.ts'
import webhookRoutes from './webhooks.ts'
import oidcRoutes from './oidc.ts'

/** The versioned API, mounted at /api/v1. */
export default async function v1(app: FastifyInstance) {
  await app.register(authRoutes)
  await app.register(oidcRoutes)
  await app.register(userRoutes)
  await app.register(tokenRoutes)
  await app.register(twoFactorRoutes)
  await app.register(settingsRoutes)
  await app.register(categoryRoutes)
  await app.register(scriptRoutes)
  await app.register(sessionRoutes)
  await app.register(accessRoutes)
  await app.register(scriptBatchRoutes)
  await app.register(auditRoutes)
  await app.register(agentRoutes)
  await app.register(agentScriptRunRoutes)
  await app.register(downloadRoutes)
  await app.register(webhookRoutes)
}
