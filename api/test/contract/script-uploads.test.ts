import t from 'tap'
import { uploadScript, uploadScriptVersion } from '@helpline/sdk'
import { refused, setupApp } from '../helpers/app.ts'
import { createCategory, file, multipartBody, rowCounts, sha256, type Part } from '../helpers/scripts.ts'

/**
 * The multipart upload at its edges: the exact size limit, split over several files; malformed
 * and hostile bodies (the generic malformed-input walk skips multipart operations). Every
 * refusal is a 4xx ErrorResponse and leaves no rows behind.
 */
const h = await setupApp(t)
const csr = await h.createUser('csr')
const other = await h.createUser('csr')
const categoryId = await createCategory(h, 'Uploads')
const MiB = 1024 * 1024
t.equal(h.config.SCRIPT_MAX_BYTES, MiB, 'the default limit is 1 MiB')

const post = (url: string, body: ReturnType<typeof multipartBody>, token = csr.token) =>
  h.inject({ method: 'POST', url, token, payload: body.payload, headers: body.headers })
const fields = (name: string): Part[] => [
  { name: 'name', value: name },
  { name: 'categoryId', value: categoryId },
]
const exe = (content: Buffer | string = '#!/bin/sh\n', filename = 'run.sh'): Part => ({ name: 'executable', filename, content })

/** `total` bytes as an executable and two inputs. */
function splitFiles(total: number) {
  const head = Buffer.from('#!/bin/sh\n')
  const exeBytes = Buffer.concat([head, Buffer.alloc(400_000 - head.length, 0x61)])
  const one = Buffer.alloc(300_000, 0x62)
  const two = Buffer.alloc(total - exeBytes.length - one.length, 0x63)
  return { executable: file('big.sh', exeBytes), inputs: [file('one.dat', one), file('two.dat', two)] }
}

t.test('exactly SCRIPT_MAX_BYTES over several files is accepted; one byte more is refused', async (t) => {
  const fits = splitFiles(MiB)
  const s = await uploadScript(csr.client, { name: 'Exactly one MiB', categoryId, ...fits })
  t.equal(s.size, 1_048_576, '1,048,576 bytes are accepted')
  t.same(
    s.files.map((f) => f.size),
    [400_000, 300_000, 348_576],
  )
  const dl = await h.inject({ url: `/api/v1/scripts/${s.id}/versions/1/files/two.dat`, token: csr.token })
  t.equal(dl.rawPayload.length, 348_576, 'and stored whole')

  const before = await rowCounts(h)
  const over = await refused(uploadScript(csr.client, { name: 'One byte too many', categoryId, ...splitFiles(MiB + 1) }))
  t.equal(over.status, 413, '1,048,577 bytes are refused')
  t.equal(over.code, 'SCRIPT_TOO_LARGE')
  t.match(over.message, /1048577 bytes/, 'the message names the size received')
  t.match(over.message, /limit is 1048576 bytes/, 'and the limit')
  t.same(await rowCounts(h), before, 'and nothing is stored')

  const single = await refused(uploadScript(csr.client, { name: 'One big file', categoryId, executable: file('big.sh', Buffer.alloc(MiB + 1, 0x61)) }))
  t.equal(single.code, 'SCRIPT_TOO_LARGE', 'also as one file')
})

t.test('a new version counts kept and uploaded files together', async (t) => {
  const s = await uploadScript(csr.client, { name: 'Growing', categoryId, ...splitFiles(MiB - 10) })
  const fits = await uploadScriptVersion(csr.client, s.id, { keep: ['big.sh', 'one.dat', 'two.dat'], inputs: [file('ten.txt', '0123456789')] })
  t.equal(fits.size, MiB, 'kept files plus 10 new bytes make exactly the limit')
  const before = await rowCounts(h)
  const over = await refused(
    uploadScriptVersion(csr.client, s.id, { keep: ['big.sh', 'one.dat', 'two.dat', 'ten.txt'], inputs: [file('one-more.txt', 'x')] }),
  )
  t.equal(over.status, 413)
  t.equal(over.code, 'SCRIPT_TOO_LARGE')
  t.match(over.message, /1048577 bytes/)
  const big = await refused(uploadScriptVersion(csr.client, s.id, { executable: file('big.sh', Buffer.alloc(MiB + 5, 0x61)) }))
  t.equal(big.status, 413, 'an upload over the limit by itself is refused as it streams')
  t.same(await rowCounts(h), before, 'nothing is stored')
})

t.test('a huge upload is cut off and still answered', async (t) => {
  const body = multipartBody([...fields('Huge'), exe(Buffer.alloc(9 * MiB, 0x61))])
  const res = await post('/api/v1/scripts', body)
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'SCRIPT_TOO_LARGE')
  t.match(res.json().message, /more than \d+ bytes; the limit is 1048576 bytes/, 'reading stops well before the end')
  t.equal(res.headers.connection, 'close', 'and the connection closes, so the rest is never sent')
})

t.test('malformed multipart bodies are 4xx ErrorResponses', async (t) => {
  const before = await rowCounts(h)
  const expect = async (res: Awaited<ReturnType<typeof post>>, status: number, code: string, what: string) => {
    t.equal(res.statusCode, status, `${what}: ${status}`)
    t.equal(res.json().code, code, `${what}: ${code}`)
    return res.json() as { errors?: Record<string, string>; message: string }
  }
  for (const url of ['/api/v1/scripts', `/api/v1/scripts/${(await uploadScript(csr.client, { name: 'Target', categoryId, executable: file('t.sh', 'x') })).id}/versions`]) {
    const json = await h.inject({ method: 'POST', url, token: csr.token, payload: { name: 'x', categoryId } })
    await expect(json, 415, 'UNSUPPORTED_MEDIA_TYPE', `${url} JSON`)
    const text = await h.inject({ method: 'POST', url, token: csr.token, payload: 'hello', headers: { 'content-type': 'text/plain' } })
    await expect(text, 415, 'UNSUPPORTED_MEDIA_TYPE', `${url} text/plain`)
    const empty = await h.inject({ method: 'POST', url, token: csr.token })
    await expect(empty, 415, 'UNSUPPORTED_MEDIA_TYPE', `${url} no body`)
    const noBoundary = await h.inject({ method: 'POST', url, token: csr.token, payload: 'x', headers: { 'content-type': 'multipart/form-data' } })
    await expect(noBoundary, 400, 'INVALID_MULTIPART', `${url} no boundary`)
    const whole = multipartBody([...fields('Cut'), exe('#!/bin/sh\necho 1\n')])
    const cut = await h.inject({
      method: 'POST',
      url,
      token: csr.token,
      payload: whole.payload.subarray(0, whole.payload.length - 30),
      headers: whole.headers,
    })
    await expect(cut, 400, 'INVALID_MULTIPART', `${url} truncated`)
    const tooMany = multipartBody([...fields('Many'), exe(), ...Array.from({ length: 101 }, (_, i) => ({ name: 'inputs', filename: `f${i}.txt`, content: 'x' }))])
    await expect(await post(url, tooMany), 413, 'TOO_MANY_PARTS', `${url} 102 files`)
  }

  const textExe = await expect(
    await post('/api/v1/scripts', multipartBody([...fields('Text exe'), { name: 'executable', value: '#!/bin/sh' }])),
    400,
    'VALIDATION_FAILED',
    'executable sent as text',
  )
  t.ok(textExe.errors?.executable)
  const twoExe = await expect(await post('/api/v1/scripts', multipartBody([...fields('Two'), exe(), exe('#!/bin/sh\n', 'b.sh')])), 400, 'VALIDATION_FAILED', 'two executables')
  t.match(twoExe.errors?.executable, /one file/)
  const strayFile = await expect(
    await post('/api/v1/scripts', multipartBody([...fields('Stray'), exe(), { name: 'attachment', filename: 'a.txt', content: 'x' }])),
    400,
    'VALIDATION_FAILED',
    'unknown file field',
  )
  t.ok(strayFile.errors?.attachment)
  const strayField = await expect(
    await post('/api/v1/scripts', multipartBody([...fields('Stray'), { name: 'owner', value: 'me' }, exe()])),
    400,
    'VALIDATION_FAILED',
    'unknown text field',
  )
  t.ok(strayField.errors?.owner)
  await expect(await post('/api/v1/scripts', multipartBody([exe()])), 400, 'VALIDATION_FAILED', 'no name or category')
  await expect(
    await post('/api/v1/scripts', multipartBody([...fields('Twice'), { name: 'name', value: 'again' }, exe()])),
    400,
    'VALIDATION_FAILED',
    'a field sent twice',
  )
  await expect(
    await post('/api/v1/scripts', multipartBody([...fields('Pub'), { name: 'published', value: 'maybe' }, exe()])),
    400,
    'VALIDATION_FAILED',
    'published is not a boolean',
  )
  await expect(
    await post('/api/v1/scripts', multipartBody([{ name: 'name', value: 'Bad id' }, { name: 'categoryId', value: 'nope' }, exe()])),
    400,
    'VALIDATION_FAILED',
    'categoryId is not a uuid',
  )
  await expect(
    await post('/api/v1/scripts', multipartBody([...fields('Long'), { name: 'description', value: 'd'.repeat(70_000) }, exe()])),
    400,
    'VALIDATION_FAILED',
    'a field over the part size',
  )
  await expect(
    await post('/api/v1/scripts', multipartBody([...fields('Proto'), { name: '__proto__', value: 'x' }, exe()])),
    400,
    'INVALID_MULTIPART',
    'a prototype field name',
  )
  t.same(await rowCounts(h), { ...before, scripts: before.scripts + 1, versions: before.versions + 1, files: before.files + 1 }, 'only the target script was stored')
})

t.test('file names that are paths or hide characters are refused', async (t) => {
  const before = await rowCounts(h)
  const names: [string, string][] = [
    ['../../etc/passwd', 'a parent path'],
    ['dir/file.txt', 'a slash'],
    ['C:\\\\Windows\\\\evil.txt', 'backslashes'],
    ['a\u0000b.txt', 'NUL'],
    ['a\u001bb.txt', 'an escape character'],
    ['a\u0085b.txt', 'a C1 control'],
    ['invoice\u202egnp.sh', 'a bidi override'],
    ['a\u2066b\u2069.txt', 'bidi isolates'],
    ['CON', 'a Windows device name'],
    ['nul.txt', 'a Windows device name with an extension'],
    ['Com1.log', 'a Windows serial port name'],
    ['notes.txt.', 'a trailing dot'],
    ['notes.txt ', 'a trailing space'],
    ['', 'empty'],
  ]
  for (const [name, why] of names) {
    const res = await post('/api/v1/scripts', multipartBody([...fields(`Name ${why}`), exe(), { name: 'inputs', filename: name, content: 'x' }]))
    t.equal(res.statusCode, 400, `${why}: 400`)
    t.equal(res.json().code, 'INVALID_FILE_NAME', `${why}: INVALID_FILE_NAME`)
  }
  const asExe = await post('/api/v1/scripts', multipartBody([...fields('Exe path'), exe('#!/bin/sh\n', '../run.sh')]))
  t.equal(asExe.json().code, 'INVALID_FILE_NAME', 'the executable’s name too')
  t.ok(asExe.json().errors.executable, 'on the executable field')
  t.same(await rowCounts(h), before, 'nothing was written')

  const quoted = await post('/api/v1/scripts', multipartBody([...fields('Quoted'), exe(), { name: 'inputs', filename: 'say \\"hi\\".txt', content: 'hi' }]))
  t.equal(quoted.statusCode, 201, 'a quote in a name is fine')
  t.equal(quoted.json().files[1].name, 'say "hi".txt')
  const dl = await h.inject({ url: `/api/v1/scripts/${quoted.json().id}/versions/1/files/${encodeURIComponent('say "hi".txt')}`, token: csr.token })
  t.equal(dl.headers['content-disposition'], `attachment; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`)
  t.equal(dl.headers.etag, `"${sha256('hi')}"`)
})

t.test('someone else’s script: refused before the upload is read', async (t) => {
  const theirs = await uploadScript(other.client, { name: 'Not yours', categoryId, published: true, executable: file('a.sh', 'x') })
  const res = await post(`/api/v1/scripts/${theirs.id}/versions`, multipartBody([exe(Buffer.alloc(2 * MiB, 0x61))]))
  t.equal(res.statusCode, 403, 'NOT_OWNER wins over the size')
  t.equal(res.json().code, 'NOT_OWNER')
  const hidden = await uploadScript(other.client, { name: 'Hidden', categoryId, executable: file('a.sh', 'x') })
  const missing = await post(`/api/v1/scripts/${hidden.id}/versions`, multipartBody([exe()]))
  t.equal(missing.statusCode, 404, 'an unpublished script of someone else is not found')
  const badId = await post('/api/v1/scripts/not-a-uuid/versions', multipartBody([exe()]))
  t.equal(badId.statusCode, 400)
})
