#!/usr/bin/env node
// Whether the build (`npm run build`) is current, cheaply: a sha256 over every build input's path
// and content (a few MiB, well under a second), written after a successful build and compared
// before `npm start` / `npm test`. No stamp, or any input added, removed or changed since, means
// build again; a fresh clone therefore always builds. Content, not modification times: `npm run
// gen` rewrites generated files unchanged, and that must not cost a rebuild.
//   node scripts/build-stamp.mjs write    after a build
//   node scripts/build-stamp.mjs ensure   build when stale (npm run build), else nothing
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stampFile = join(root, 'node_modules', '.helpline-build-stamp')
/** The workspaces whose files feed the build, and the root files that do. */
const inputDirs = ['api', 'sdk', 'admin', 'agent', 'migrations']
const inputFiles = ['package.json', 'package-lock.json', 'openapi.yaml', 'tsconfig.base.json']
/** Folders that are outputs, tests or dependencies, never build inputs. */
const skipped = new Set(['node_modules', 'dist', 'test', '.tap', 'data', 'keys'])
/** What the server needs from the build; a stamp without them is no stamp. */
const outputs = ['api/dist/server.js', 'api/dist/audit-verify.js', 'api/dist/keys-rotate.js', 'sdk/dist/index.js', 'admin/dist/index.html', 'agent/dist/downloads/manifest.json']

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipped.has(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* files(path)
    else if (entry.isFile()) yield path
  }
}

export function fingerprint() {
  const hash = createHash('sha256')
  const paths = [...inputDirs.flatMap((d) => [...files(join(root, d))]), ...inputFiles.map((f) => join(root, f))].sort()
  for (const path of paths) {
    hash.update(`${relative(root, path)}\0`)
    hash.update(existsSync(path) ? readFileSync(path) : Buffer.from('(missing)'))
    hash.update('\n')
  }
  return hash.digest('hex')
}

export function isFresh() {
  if (!outputs.every((f) => existsSync(join(root, f)))) return false
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === fingerprint()
}

export function writeStamp() {
  writeFileSync(stampFile, fingerprint())
}

/**
 * Builds when the build is not current; exits the process when the build fails. `log` and
 * `stdio` say where the notice and the build's output go (a command whose stdout is its
 * result sends them to stderr).
 */
export function ensureBuilt({ log = console.log, stdio = 'inherit' } = {}) {
  if (isFresh()) return
  log('the build is missing or older than the sources: npm run build')
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const command = process.argv[2]
  if (command === 'write') writeStamp()
  else if (command === 'ensure') ensureBuilt()
  else {
    console.error('usage: node scripts/build-stamp.mjs write|ensure')
    process.exit(2)
  }
}
