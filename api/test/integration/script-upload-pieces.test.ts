import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { sql } from 'drizzle-orm'
import { rows } from '../../src/db/raw.ts'
import { setupApp } from '../helpers/app.ts'
import { createCategory, expectedDigest, multipartBody, sha256 } from '../helpers/scripts.ts'

/**
 * An upload's file bytes are stored in the pieces they arrived in, never joined into one buffer
 * first (lib/upload.ts, db/copy-binary.ts), and stored with lz4 where the database has it, else without a
 * compression attempt (migrations/0009, 0010). Whatever way the body was cut into network reads, each file must be stored
 * byte for byte, with this server's sha256 of exactly those bytes, and the version must verify.
 */
const h = await setupApp(t)
const alice = await h.createUser('csr', { name: 'Alice' })
const tools = await createCategory(h, 'Tools')
const boundary = 'helpline-test-boundary'

/** Posts a multipart body (a buffer, or a stream of reads) to the API as Alice. */
const post = (url: string, payload: Buffer | Readable) =>
  h.inject({ method: 'POST', url, token: alice.token, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload })

/** A body streamed in reads of the given sizes, over and over, so reads end everywhere, in the middle of boundary look-alikes too. */
function inReads(body: Buffer, sizes: number[]): Readable {
  let at = 0
  let i = 0
  return new Readable({
    read() {
      if (at >= body.length) return void this.push(null)
      const size = sizes[i++ % sizes.length]!
      // A copy, as a socket gives a fresh buffer per read.
      this.push(Buffer.from(body.subarray(at, at + size)))
      at += size
    },
  })
}

t.test('a file that arrives in many reads, cut inside boundary look-alikes, is stored byte for byte', async (t) => {
  // Lines that look like the start of the boundary, then are not: busboy holds such bytes back
  // between reads and hands them on later.
  const lookAlike = Buffer.from(`\r\n--${boundary.slice(0, 10)}x\r\n-\r\n--${boundary.slice(0, -1)}X`)
  const pieces: Buffer[] = [Buffer.from('#!/bin/sh\n')]
  for (let i = 0; i < 400; i++) pieces.push(lookAlike, randomBytes(97 + (i % 13) * 41))
  const executable = Buffer.concat(pieces)
  const input = Buffer.concat([randomBytes(200 * 1024), lookAlike, Buffer.from('\r')])
  const body = multipartBody([
    { name: 'name', value: 'In pieces' },
    { name: 'categoryId', value: tools },
    { name: 'executable', filename: 'run.sh', content: executable },
    { name: 'inputs', filename: 'data.bin', content: input },
  ])
  const res = await post('/api/v1/scripts', inReads(body.payload, [1, 7, 3, 13, 4096, 5, 65536, 2, 31]))
  t.equal(res.statusCode, 201, 'stored')
  const script = res.json() as { id: string; versionId: string; digest: string; size: number; files: { name: string; sha256: string; size: number }[] }
  t.same(
    script.files.map((f) => [f.name, f.size, f.sha256]),
    [
      ['run.sh', executable.length, sha256(executable)],
      ['data.bin', input.length, sha256(input)],
    ],
    'sizes and hashes are those of the bytes sent',
  )
  t.equal(script.size, executable.length + input.length)
  t.equal(
    script.digest,
    expectedDigest([
      { name: 'run.sh', role: 'executable', content: executable },
      { name: 'data.bin', role: 'input', content: input },
    ]),
  )
  for (const [name, content] of [['run.sh', executable], ['data.bin', input]] as const) {
    const file = await h.inject({ method: 'GET', url: `/api/v1/scripts/${script.id}/versions/1/files/${name}`, token: alice.token })
    t.equal(file.statusCode, 200)
    t.ok(Buffer.compare(file.rawPayload, content) === 0, `${name} downloads exactly as sent`)
  }
  const report = await h.app.services.scripts.integrity.verify(script.versionId)
  t.ok(report.ok, 'the stored bytes match the signed version')
})

t.test('a new version keeps a stored file and adds one that arrived in pieces', async (t) => {
  const first = multipartBody([
    { name: 'name', value: 'Kept and new' },
    { name: 'categoryId', value: tools },
    { name: 'executable', filename: 'run.sh', content: '#!/bin/sh\ncat keep.txt\n' },
    { name: 'inputs', filename: 'keep.txt', content: 'kept\r\n' },
  ])
  const created = await post('/api/v1/scripts', first.payload)
  t.equal(created.statusCode, 201, 'version 1 stored')
  const { id } = created.json() as { id: string }
  const added = randomBytes(70 * 1024)
  const second = multipartBody([
    { name: 'keep', value: 'run.sh' },
    { name: 'keep', value: 'keep.txt' },
    { name: 'inputs', filename: 'added.bin', content: added },
  ])
  const res = await post(`/api/v1/scripts/${id}/versions`, inReads(second.payload, [3, 1000, 17]))
  t.equal(res.statusCode, 201, 'stored')
  const v2 = res.json() as { versionId: string; files: { name: string; sha256: string }[] }
  t.same(
    Object.fromEntries(v2.files.map((f) => [f.name, f.sha256])),
    { 'run.sh': sha256('#!/bin/sh\ncat keep.txt\n'), 'keep.txt': sha256('kept\r\n'), 'added.bin': sha256(added) },
  )
  const file = await h.inject({ method: 'GET', url: `/api/v1/scripts/${id}/versions/2/files/added.bin`, token: alice.token })
  t.ok(Buffer.compare(file.rawPayload, added) === 0, 'the added file downloads exactly as sent')
  t.ok((await h.app.services.scripts.integrity.verify(v2.versionId)).ok, 'version 2 verifies')
})

t.test('script text is stored compressed with lz4 where the database has it, else as it is (never pglz)', async (t) => {
  // Compressible text, as most scripts are. pglz on 1 MiB of it cost PostgreSQL ~4 × the CPU of
  // storing it as it is; lz4 less than either (migrations/0009, 0010).
  const text = Buffer.from('#!/bin/sh\n' + 'echo "checking the printer queue" >> "$LOG"\n'.repeat(2000))
  const body = multipartBody([
    { name: 'name', value: 'Plain text' },
    { name: 'categoryId', value: tools },
    { name: 'executable', filename: 'run.sh', content: text },
  ])
  const res = await post('/api/v1/scripts', body.payload)
  t.equal(res.statusCode, 201, 'stored')
  const { versionId } = res.json() as { versionId: string }
  const [stored] = await rows<{ stored: number; length: number; method: string | null; lz4: boolean }>(
    h.app.database.db,
    sql`select pg_column_size(content)::int as stored, octet_length(content)::int as length, pg_column_compression(content) as method,
          (select 'lz4' = any(enumvals) from pg_settings where name = 'default_toast_compression') as lz4
        from script_files where version_id = ${versionId}::uuid`,
  )
  t.equal(stored?.length, text.length)
  if (stored!.lz4) {
    t.equal(stored!.method, 'lz4', 'compressed with lz4')
    t.ok(stored!.stored < text.length / 4, `stored in a fraction of the room (${stored!.stored} bytes for ${text.length})`)
  } else {
    t.equal(stored!.method, null, 'not compressed (the database has no lz4)')
    t.ok(stored!.stored >= text.length, `stored as it is (${stored!.stored} bytes for ${text.length})`)
  }
  const file = await h.inject({ method: 'GET', url: `/api/v1/scripts/${res.json().id}/versions/1/files/run.sh`, token: alice.token })
  t.ok(Buffer.compare(file.rawPayload, text) === 0, 'downloads exactly as sent')
})
