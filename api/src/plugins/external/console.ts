import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { installPath } from '../../paths.ts'

/** Serves the built react-admin console at `/` when it has been built. */
export default fp(
  async function console(app: FastifyInstance) {
    const root = installPath(app.config.CONSOLE_DIR)
    if (!existsSync(resolve(root, 'index.html'))) {
      app.log.warn({ root }, 'console not built (npm run build); serving the API only')
      return
    }
    await app.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: 'index.html' })
  },
  { name: 'console' },
)
