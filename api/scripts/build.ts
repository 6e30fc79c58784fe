/**
 * Builds the server for `npm start`: api/src/server.ts and everything it imports from this
 * package, bundled by esbuild into one ES module, api/dist/server.js, run by plain `node`; and
 * the operator's one-shot commands the same way (api/dist/audit-verify.js, keys-rotate.js: `npm
 * run audit:verify` / `keys:rotate` run them through scripts/run-built.mjs).
 * Dependencies stay in node_modules (packages external): the bundle holds only our own code, so
 * it builds in a second and native or wasm assets (PGlite) load from their packages as usual.
 * The join page's files are copied next to it; api/src/paths.ts finds them, the migrations and
 * openapi.yaml from the bundle's place (one folder below api/, like paths.ts itself).
 * Run: `npm run build -w api` (part of the root `npm run build`).
 */
import { cpSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { apiSourceHash } from './source-hash.ts'

const apiDir = dirname(dirname(fileURLToPath(import.meta.url)))
const dist = join(apiDir, 'dist')

rmSync(dist, { recursive: true, force: true })
const sourceHash = apiSourceHash(apiDir)
/** The built entry points: api/dist/<name>.js from api/src/<path>. */
const entryPoints = {
  server: join(apiDir, 'src', 'server.ts'),
  'audit-verify': join(apiDir, 'src', 'bin', 'audit-verify.ts'),
  'keys-rotate': join(apiDir, 'src', 'bin', 'keys-rotate.ts'),
}
await build({
  entryPoints,
  outdir: dist,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Stack traces in logs point at the TypeScript (run with --enable-source-maps).
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
})
cpSync(join(apiDir, 'src', 'join-page'), join(dist, 'join-page'), { recursive: true })
// What the bundle was built from (the sources as they were when the build began).
writeFileSync(join(dist, 'source.sha256'), sourceHash)
console.log(`built ${Object.keys(entryPoints).map((name) => join(dist, `${name}.js`)).join(', ')}`)
