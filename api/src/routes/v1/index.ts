import type { FastifyInstance } from 'fastify'
import authRoutes from './auth.ts'
import categoryRoutes from './categories.ts'
import scriptRoutes from './scripts.ts'
import tokenRoutes from './tokens.ts'
import userRoutes from './users.ts'

/** The versioned API, mounted at /api/v1. */
export default async function v1(app: FastifyInstance) {
  await app.register(authRoutes)
  await app.register(userRoutes)
  await app.register(tokenRoutes)
  await app.register(categoryRoutes)
  await app.register(scriptRoutes)
}
