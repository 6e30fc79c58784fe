import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Every file the server reads from its own installation (not from DATA_DIR or KEY_DIR), found
 * from this module's place. This file sits one folder below `api/`, exactly as the built bundle
 * `api/dist/server.js` does, so the same relative paths hold whether the server runs from source
 * (tsx) or from the build (plain node): keep every such path here, and keep this file where it is.
 */
const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))

/** The repository (installation) root. */
export const rootDir = here('../../')
/** The api package's package.json (the product version). */
export const apiPackageJson = here('../package.json')
/** The SQL migrations (drizzle-kit), applied at start-up. */
export const migrationsFolder = here('../../migrations')
/** The committed contract, served at /openapi.yaml. */
export const committedSpecPath = here('../../openapi.yaml')
/** The join page's static files: api/src/join-page from source, api/dist/join-page (copied by the build) from the build. */
export const joinPageDir = here('./join-page/')

/**
 * A folder of the installation named in the config (the built console, the agent downloads):
 * relative to the installation root, not to wherever the server was started from.
 */
export const installPath = (configured: string) => resolve(rootDir, configured)
