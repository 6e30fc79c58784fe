import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { installPath } from '../../paths.ts'

/** Vite names built assets by their content (`index-3f9a1c2b.js`): such a file never changes. */
const HASHED_ASSET = /[\\/]assets[\\/][^\\/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9.]+$/

/**
 * Cache headers by file: hashed assets for a year (immutable), everything else (index.html, the
 * favicon) revalidated on each load so a new build is picked up at once.
 */
export function cacheControlFor(path: string): string {
  return HASHED_ASSET.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache'
}

/**
 * Serves the built react-admin console at `/` when it has been built: the `.br`/`.gz` files the
 * build wrote beside each asset go to browsers that accept them; source maps are never served.
 */
export default fp(
  async function console(app: FastifyInstance) {
    const root = installPath(app.config.CONSOLE_DIR)
    if (!existsSync(resolve(root, 'index.html'))) {
      app.log.warn({ root }, 'console not built (npm run build); serving the API only')
      return
    }
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      wildcard: false,
      // An array: with preCompressed, @fastify/static looks the index up only in an array.
      index: ['index.html'],
      preCompressed: true,
      cacheControl: false,
      // A map left in the folder (CONSOLE_SOURCEMAP=1) stays private: with wildcard off only files present at start are routed.
      allowedPath: (pathName) => !pathName.endsWith('.map'),
      setHeaders: (reply, path) => void reply.header('cache-control', cacheControlFor(path)),
    })
  },
  { name: 'console' },
)
