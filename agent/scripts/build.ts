/**
 * Builds the one-file agents the server offers for download, into agent/dist/downloads:
 * - helpline-agent.mjs: the agent and every dependency in one ES module, for any Node 20+
 *   (`node helpline-agent.mjs`), no npm install;
 * - helpline-agent-linux-x64: a single executable made with Node's single-executable-application
 *   support (the Node binary running this build, with the agent injected by postject);
 * - helpline-agent-win-x64.exe: the same with the official Windows Node of this version, from the
 *   npm registry (windows-exe.ts); skipped with a warning when it cannot be downloaded;
 * - manifest.json: each artifact's platform, arch, size, sha256 and version, which the server
 *   reads at start and lists at GET /api/v1/agent-downloads.
 * The executables are rebuilt only when its inputs (the bundle, this Node) changed.
 * Run: `npm run build -w agent` (part of the root `npm run build`).
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions } from 'esbuild'
import { inject } from 'postject'
import pkg from '../package.json' with { type: 'json' }
import { SEA_FUSE, WINDOWS_EXE, windowsNode } from './windows-exe.ts'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const dist = join(root, 'dist')
const downloads = join(dist, 'downloads')
const seaDir = join(dist, 'sea')

export interface Artifact {
  platform: 'linux' | 'windows' | 'macos' | 'any'
  arch: 'x64' | 'arm64' | 'any'
  kind: 'executable' | 'node-script'
  fileName: string
  size: number
  sha256: string
  version: string
}

const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

const common: BuildOptions = {
  entryPoints: [join(root, 'src', 'cli.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  charset: 'utf8',
  legalComments: 'none',
  minifySyntax: true,
  minifyWhitespace: true,
  logLevel: 'warning',
  // systeminformation asks for these macOS/Windows helpers inside try/catch; they are optional.
  external: ['osx-temperature-sensor', 'macos-temperature-sensor'],
}

async function bundles() {
  mkdirSync(downloads, { recursive: true })
  mkdirSync(seaDir, { recursive: true })
  await build({
    ...common,
    format: 'esm',
    outfile: join(downloads, 'helpline-agent.mjs'),
    define: { HELPLINE_BUILD: '"mjs"' },
    // Bundled CommonJS dependencies call require(); an ES module has none of its own.
    banner: { js: '#!/usr/bin/env node\nimport { createRequire as __helplineRequire } from "node:module"; const require = __helplineRequire(import.meta.url);' },
  })
  chmodSync(join(downloads, 'helpline-agent.mjs'), 0o755)
  // Node 20's single executables run one CommonJS script.
  await build({
    ...common,
    format: 'cjs',
    outfile: join(seaDir, 'helpline-agent.cjs'),
    define: { HELPLINE_BUILD: '"sea"', 'import.meta.url': '__helplineMetaUrl' },
    banner: { js: 'var __helplineMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  })
}

/**
 * A single executable: a copy of `nodeBinary` with the bundle injected as its SEA blob. Rebuilt
 * only when its inputs (the bundle, that Node) changed. The code cache is V8's for this host's
 * Node, so an executable for another OS goes without it (Node refuses a foreign cache).
 */
async function seaExecutable(fileName: string, nodeBinary: string, sameHost: boolean): Promise<string> {
  const out = join(downloads, fileName)
  const script = join(seaDir, 'helpline-agent.cjs')
  const inputs = `${sha256File(script)} ${process.version} ${sha256File(nodeBinary)}\n`
  const stamp = join(seaDir, `${fileName}.inputs`)
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === inputs) return fileName
  const blob = join(seaDir, `${fileName}.blob`)
  const config = join(seaDir, `${fileName}.sea-config.json`)
  writeFileSync(config, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: sameHost }))
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] })
  rmSync(out, { force: true })
  copyFileSync(nodeBinary, out)
  chmodSync(out, 0o755)
  await inject(out, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE })
  writeFileSync(stamp, inputs)
  return fileName
}

/** The linux-x64 executable: this Node, when it is one. */
async function linuxExecutable(): Promise<string | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`agent build: no linux-x64 executable from ${process.platform}-${process.arch}`)
    return undefined
  }
  return seaExecutable('helpline-agent-linux-x64', process.execPath, true)
}

/**
 * The win-x64 executable: the official Windows Node of this version (windows-exe.ts). Without
 * the network (or with HELPLINE_SKIP_WINDOWS_EXE=1) the build goes on without it.
 */
async function windowsExecutable(): Promise<string | undefined> {
  if (process.env.HELPLINE_SKIP_WINDOWS_EXE === '1') {
    console.log('agent build: no Windows executable (HELPLINE_SKIP_WINDOWS_EXE=1)')
    return undefined
  }
  let node: string
  try {
    node = windowsNode({ cacheDir: join(root, '.cache'), version: process.version.slice(1) })
  } catch (err) {
    const message = (err as Error).message
    // npm's own reason (ENOTFOUND, ECONNREFUSED, E404) says more than "Command failed".
    const code = /npm error code (\S+)/.exec(message)?.[1]
    const reason = `${message.split('\n')[0]}${code ? `: ${code}` : ''}`
    console.warn(`agent build: WARNING: no ${WINDOWS_EXE}: the Windows Node could not be had (${reason}); the downloads go without it`)
    rmSync(join(downloads, WINDOWS_EXE), { force: true })
    return undefined
  }
  const started = Date.now()
  const fileName = await seaExecutable(WINDOWS_EXE, node, process.platform === 'win32' && process.arch === 'x64')
  console.log(`agent build: ${WINDOWS_EXE} ready in ${((Date.now() - started) / 1000).toFixed(1)} s (node.exe ${node})`)
  return fileName
}

async function main() {
  const started = Date.now()
  await bundles()
  const artifacts: Artifact[] = []
  const describe = (fileName: string, fields: Pick<Artifact, 'platform' | 'arch' | 'kind'>): Artifact => {
    const path = join(downloads, fileName)
    return { ...fields, fileName, size: statSync(path).size, sha256: sha256File(path), version: pkg.version }
  }
  const linux = await linuxExecutable()
  if (linux) artifacts.push(describe(linux, { platform: 'linux', arch: 'x64', kind: 'executable' }))
  const windows = await windowsExecutable()
  if (windows) artifacts.push(describe(windows, { platform: 'windows', arch: 'x64', kind: 'executable' }))
  artifacts.push(describe('helpline-agent.mjs', { platform: 'any', arch: 'any', kind: 'node-script' }))
  writeFileSync(join(downloads, 'manifest.json'), `${JSON.stringify({ version: pkg.version, builtAt: new Date().toISOString(), artifacts }, null, 2)}\n`)
  console.log(`agent build: ${artifacts.map((a) => `${a.fileName} (${(a.size / 1048576).toFixed(1)} MiB)`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

await main()
