import { createHash } from 'node:crypto'
import { count } from 'drizzle-orm'
import { uploadScript, type Script, type ScriptFileInput, type UploadScriptInput } from '@helpline/sdk'
import { scriptCategories, scriptFiles, scripts, scriptVersions } from '../../src/db/schema.ts'
import type { TestApp, TestUser } from './app.ts'

export const sha256 = (content: Uint8Array | string) => createHash('sha256').update(content).digest('hex')

/** The version digest as docs/scripts.md defines it, computed independently of the server. */
export function expectedDigest(files: { name: string; role: string; content: Uint8Array | string }[]): string {
  const lines = files
    .map((f) => ({ ...f, bytes: typeof f.content === 'string' ? Buffer.from(f.content) : Buffer.from(f.content) }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    .map((f) => `${f.role} ${f.bytes.length} ${sha256(f.bytes)} ${f.name}\n`)
  return sha256(lines.join(''))
}

export async function createCategory(h: TestApp, name: string): Promise<string> {
  const { data } = await h.admin.client.POST('/api/v1/script-categories', { body: { name } })
  return data!.id
}

let counter = 0
/** Uploads a small script; any field can be overridden. */
export async function upload(user: TestUser, categoryId: string, input: Partial<UploadScriptInput> = {}): Promise<Script> {
  counter += 1
  return uploadScript(user.client, {
    name: `script ${counter}`,
    categoryId,
    executable: { name: 'run.sh', content: `#!/bin/sh\necho ${counter}\n` },
    ...input,
  })
}

export const file = (name: string, content: ScriptFileInput['content']): ScriptFileInput => ({ name, content })

/** Rows in the script tables, to prove a refused upload wrote nothing. */
export async function rowCounts(h: TestApp) {
  const { db } = h.app.database
  const n = async (table: typeof scripts | typeof scriptVersions | typeof scriptFiles | typeof scriptCategories) =>
    (await db.select({ n: count() }).from(table))[0]!.n
  return { scripts: await n(scripts), versions: await n(scriptVersions), files: await n(scriptFiles), categories: await n(scriptCategories) }
}

/** A multipart body as FormData writes it (as a browser or the SDK would), for inject. */
export async function formBody(fields: Record<string, string>, files: [field: string, name: string, content: string][] = []) {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) form.append(k, v)
  for (const [field, name, content] of files) form.append(field, new Blob([content]), name)
  const request = new Request('http://helpline.test/', { method: 'POST', body: form })
  return { payload: Buffer.from(await request.arrayBuffer()), headers: { 'content-type': request.headers.get('content-type')! } }
}

export type Part =
  | { name: string; value: string }
  | { name: string; filename: string; content: Buffer | string; type?: string }

/** A multipart/form-data body written by hand, for what FormData would never send. */
export function multipartBody(parts: Part[], boundary = 'helpline-test-boundary') {
  const chunks: Buffer[] = []
  for (const part of parts) {
    if ('value' in part) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`))
    } else {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\n` +
            `Content-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`,
          'utf8',
        ),
        Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content),
        Buffer.from('\r\n'),
      )
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}
