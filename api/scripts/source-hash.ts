import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

/**
 * A sha256 over every file under api/src (path and content): the build writes it next to the
 * bundle (api/dist/source.sha256), and tests that run the build compare it to tell a stale build.
 */
export function apiSourceHash(apiDir: string): string {
  const src = join(apiDir, 'src')
  const hash = createHash('sha256')
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []))
  for (const file of walk(src).sort()) hash.update(relative(src, file)).update('\0').update(readFileSync(file)).update('\n')
  return hash.digest('hex')
}
