import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AccountsService } from '../../services/accounts.service.ts'
import { AuthService } from '../../services/auth.service.ts'
import { CategoriesService } from '../../services/categories.service.ts'
import { ScriptsService } from '../../services/scripts.service.ts'

function createServices(app: FastifyInstance) {
  const { db, bytes } = app.database
  const accounts = new AccountsService(db, app.config.PASSWORD_MIN_LENGTH)
  const auth = new AuthService(db, accounts, app.config.SESSION_TTL_MINUTES * 60_000)
  const categories = new CategoriesService(db)
  const scripts = new ScriptsService(db, app.config.SCRIPT_MAX_BYTES, bytes)
  return { accounts, auth, categories, scripts }
}

export type Services = ReturnType<typeof createServices>

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

/** Builds the business services once per app; routes reach them through `app.services`. */
export default fp(
  async function services(app: FastifyInstance) {
    app.decorate('services', createServices(app))
  },
  { name: 'services', dependencies: ['database'] },
)
