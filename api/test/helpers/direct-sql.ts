import postgres from 'postgres'
import { createHash } from 'node:crypto'
import { versionDigestText, type DigestFile } from '@helpline/sdk'
import type { T, TestApp } from './app.ts'

export type DirectSql = (query: string, params?: (string | number)[]) => Promise<Record<string, unknown>[]>

/**
 * SQL against the test database as someone with write access to it would send it, not through
 * the app: on PostgreSQL a connection of its own, on PGlite the embedded database's handle.
 */
export function directSql(t: T, h: TestApp): DirectSql {
  if (h.db.url) {
    const client = postgres(h.db.url, { max: 1, onnotice: () => {} })
    t.teardown(() => client.end({ timeout: 1 }))
    return async (query, params = []) => [...(await client.unsafe(query, params))]
  }
  const pglite = h.app.database.pglite!
  return async (query, params = []) => (await pglite.query<Record<string, unknown>>(query, params)).rows
}

const sha256 = (content: string | Uint8Array) => createHash('sha256').update(content).digest('hex')

/**
 * The thorough tamper: a version's one file gets new bytes, and its sha256, size and the version's
 * digest are changed to match, so every hash the database holds agrees with the new bytes. Only
 * the signature (made with a key the database does not hold) still tells.
 */
export async function replaceVersionFile(run: DirectSql, versionId: string, name: string, content: string) {
  const bytes = Buffer.from(content)
  await run(`update script_files set content = decode($1, 'hex'), sha256 = $2, size = $3 where version_id = $4 and name = $5`, [
    bytes.toString('hex'),
    sha256(bytes),
    bytes.length,
    versionId,
    name,
  ])
  const files = (await run(`select name, role::text as role, size, sha256 from script_files where version_id = $1`, [versionId])) as unknown as DigestFile[]
  const digest = sha256(versionDigestText(files))
  await run(`update script_versions set digest = $1, size = $2 where id = $3`, [digest, files.reduce((n, f) => n + Number(f.size), 0), versionId])
  return { sha256: sha256(bytes), size: bytes.length, digest, files }
}
