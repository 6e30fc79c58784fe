import t from 'tap'
import { uploadScript, uploadScriptVersion } from '@helpline/sdk'
import { refused, setupApp } from '../helpers/app.ts'
import { createCategory, expectedDigest, file, formBody, rowCounts, sha256, upload } from '../helpers/scripts.ts'

/**
 * The script library through the SDK, as a CSR or an integrator uses it: categories, scripts,
 * versions, visibility and ownership, listing, downloads.
 */
const h = await setupApp(t)
const alice = await h.createUser('csr', { name: 'Alice' })
const bob = await h.createUser('csr', { name: 'Bob' })
const tools = await createCategory(h, 'Tools')
const id = (scriptId: string) => ({ params: { path: { id: scriptId } } })

t.test('categories: site admins manage them, everyone lists them', async (t) => {
  const { data: created } = await h.admin.client.POST('/api/v1/script-categories', { body: { name: '  Network  ' } })
  t.equal(created?.name, 'Network', 'the name is trimmed')
  const dup = await refused(h.admin.client.POST('/api/v1/script-categories', { body: { name: 'NETWORK' } }))
  t.equal(dup.status, 409)
  t.equal(dup.code, 'NAME_TAKEN', 'names are unique ignoring case')
  t.ok(dup.errors.name, 'on the name field')
  const blank = await refused(h.admin.client.POST('/api/v1/script-categories', { body: { name: '   ' } }))
  t.equal(blank.status, 400)

  const byCsr = await refused(alice.client.POST('/api/v1/script-categories', { body: { name: 'Mine' } }))
  t.equal(byCsr.status, 403, 'a CSR cannot create one')
  const { data: list } = await alice.client.GET('/api/v1/script-categories', { params: { query: { sort: 'name' } } })
  t.same(
    list?.data.map((c) => c.name),
    ['Network', 'Tools'],
    'a CSR lists them, by name',
  )
  const { data: found } = await alice.client.GET('/api/v1/script-categories', { params: { query: { q: 'net' } } })
  t.equal(found?.total, 1)
  const { data: one } = await alice.client.GET('/api/v1/script-categories/{id}', id(created!.id))
  t.equal(one?.name, 'Network')

  const { data: renamed } = await h.admin.client.PATCH('/api/v1/script-categories/{id}', { ...id(created!.id), body: { name: 'Networking' } })
  t.equal(renamed?.name, 'Networking')
  const { data: same } = await h.admin.client.PATCH('/api/v1/script-categories/{id}', { ...id(created!.id), body: { name: 'NETWORKING' } })
  t.equal(same?.name, 'NETWORKING', 'a category may change the case of its own name')
  const taken = await refused(h.admin.client.PATCH('/api/v1/script-categories/{id}', { ...id(created!.id), body: { name: 'tools' } }))
  t.equal(taken.code, 'NAME_TAKEN')
  const unknown = '00000000-0000-4000-8000-000000000001'
  t.equal((await refused(h.admin.client.PATCH('/api/v1/script-categories/{id}', { ...id(unknown), body: { name: 'x' } }))).status, 404)
  t.equal((await refused(h.admin.client.DELETE('/api/v1/script-categories/{id}', id(unknown)))).status, 404)
  t.equal((await refused(alice.client.GET('/api/v1/script-categories/{id}', id(unknown)))).status, 404)
})

t.test('a category in use cannot be deleted; a deleted one frees its name', async (t) => {
  const cat = await createCategory(h, 'Printers')
  const script = await upload(alice, cat, { name: 'Clear the print queue' })
  const inUse = await refused(h.admin.client.DELETE('/api/v1/script-categories/{id}', id(cat)))
  t.equal(inUse.status, 409)
  t.equal(inUse.code, 'CATEGORY_IN_USE')
  t.match(inUse.message, /1 script/)
  await alice.client.DELETE('/api/v1/scripts/{id}', id(script.id))
  const res = await h.inject({ method: 'DELETE', url: `/api/v1/script-categories/${cat}`, token: h.admin.token })
  t.equal(res.statusCode, 204, 'deleted once no script in the library uses it')
  t.equal((await refused(alice.client.GET('/api/v1/script-categories/{id}', id(cat)))).status, 404)
  t.ok(await createCategory(h, 'printers'), 'the name can be used again')
  const gone = await refused(upload(alice, cat))
  t.equal(gone.status, 422, 'a deleted category takes no new scripts')
  t.equal(gone.code, 'UNKNOWN_CATEGORY')
})

t.test('the limits an upload must respect', async (t) => {
  const { data } = await alice.client.GET('/api/v1/script-limits')
  t.same(data, {
    maxBytes: 1_048_576,
    maxInputFiles: 100,
    maxFileNameBytes: 255,
    executableExtensions: ['.sh', '.bash', '.py', '.js', '.mjs', '.ps1', '.bat', '.cmd'],
  })
})

t.test('upload a script with input files', async (t) => {
  const exe = '#!/usr/bin/env python3\nprint(open("hosts.txt").read())\n'
  const hosts = 'printer-1\nprinter-2\n'
  const blob = new Uint8Array([0, 1, 2, 255])
  const script = await uploadScript(alice.client, {
    name: '  Inventory  ',
    categoryId: tools,
    description: 'Lists the hosts',
    published: true,
    defaultTimeoutSeconds: 120,
    executable: file('inventory.py', exe),
    inputs: [file('hosts.txt', hosts), file('data.bin', new Blob([blob]))],
  })
  t.equal(script.name, 'Inventory', 'the name is trimmed')
  t.equal(script.categoryName, 'Tools')
  t.equal(script.ownerId, alice.id)
  t.equal(script.ownerName, 'Alice')
  t.equal(script.published, true)
  t.equal(script.defaultTimeoutSeconds, 120)
  t.equal(script.version, 1)
  t.equal(script.size, exe.length + hosts.length + blob.length)
  t.same(
    script.files.map((f) => [f.name, f.role, f.size, f.sha256]),
    [
      ['inventory.py', 'executable', exe.length, sha256(exe)],
      ['hosts.txt', 'input', hosts.length, sha256(hosts)],
      ['data.bin', 'input', 4, sha256(blob)],
    ],
    'each file with its role, size and sha256; the executable first',
  )
  t.equal(
    script.digest,
    expectedDigest([
      { name: 'inventory.py', role: 'executable', content: exe },
      { name: 'hosts.txt', role: 'input', content: hosts },
      { name: 'data.bin', role: 'input', content: blob },
    ]),
    'the version digest is computed as documented',
  )
  const { data: again } = await bob.client.GET('/api/v1/scripts/{id}', id(script.id))
  t.same(again, script, 'another CSR reads a published script')

  const defaults = await upload(alice, tools, { name: 'Defaults' })
  t.equal(defaults.published, false, 'unpublished unless asked')
  t.equal(defaults.defaultTimeoutSeconds, 600, 'default timeout 600 s')
  t.equal(defaults.description, '')
})

t.test('executables: by extension or #!, anything else is refused', async (t) => {
  for (const name of ['a.sh', 'b.bash', 'c.py', 'd.js', 'e.mjs', 'f.ps1', 'g.bat', 'H.CMD']) {
    const s = await upload(alice, tools, { executable: file(name, 'echo hi\n') })
    t.equal(s.files[0]?.name, name, `${name} is accepted`)
  }
  const shebang = await upload(alice, tools, { executable: file('cleanup', '#!/bin/bash\nrm -rf /tmp/x\n') })
  t.equal(shebang.files[0]?.role, 'executable', 'a file without extension that starts with #! is accepted')
  const before = await rowCounts(h)
  for (const name of ['notes.txt', 'run.exe', '.sh', 'script.sh.txt']) {
    const err = await refused(upload(alice, tools, { executable: file(name, 'echo hi\n') }))
    t.equal(err.status, 422, `${name} is refused`)
    t.equal(err.code, 'UNSUPPORTED_EXECUTABLE')
    t.ok(err.errors.executable, 'on the executable field')
  }
  t.same(await rowCounts(h), before, 'nothing was written')
})

t.test('file names are plain names', async (t) => {
  const before = await rowCounts(h)
  const cases: [string, string][] = [
    ['a'.repeat(256) + '.txt', 'over 255 bytes'],
    ['é'.repeat(128) + '.txt', 'over 255 bytes in UTF-8'],
    ['tab\there.txt', 'a control character'],
    ['my..file', '..'],
    ['..', '..'],
  ]
  for (const [name, why] of cases) {
    const err = await refused(upload(alice, tools, { inputs: [file(name, 'x')] }))
    t.equal(err.status, 400, `refused: ${why}`)
    t.equal(err.code, 'INVALID_FILE_NAME')
    t.ok(err.errors.inputs, 'on the inputs field')
  }
  const dup = await refused(upload(alice, tools, { inputs: [file('Hosts.txt', 'a'), file('hosts.TXT', 'b')] }))
  t.equal(dup.code, 'INVALID_FILE_NAME', 'duplicates (ignoring case) are refused')
  const dupExe = await refused(upload(alice, tools, { executable: file('run.sh', 'x'), inputs: [file('run.sh', 'y')] }))
  t.equal(dupExe.code, 'INVALID_FILE_NAME', 'an input may not share the executable’s name')
  t.same(await rowCounts(h), before, 'nothing was written')

  const longest = 'a'.repeat(252) + '.sh'
  const ok = await upload(alice, tools, { executable: file(longest, 'echo'), inputs: [file('日本語 データ.txt', 'こんにちは')] })
  t.equal(ok.files[0]?.name, longest, 'exactly 255 bytes is fine')
  t.equal(ok.files[1]?.name, '日本語 データ.txt', 'non-ASCII names keep their spelling')
})

t.test('names are unique ignoring case; deleting frees a name', async (t) => {
  const first = await upload(alice, tools, { name: 'Disk Cleanup' })
  for (const name of ['disk cleanup', 'DISK CLEANUP', ' Disk Cleanup ']) {
    const err = await refused(upload(bob, tools, { name }))
    t.equal(err.status, 409, `${JSON.stringify(name)} is taken`)
    t.equal(err.code, 'NAME_TAKEN')
    t.ok(err.errors.name, 'on the name field')
  }
  const other = await upload(alice, tools, { name: 'Disk Check' })
  const rename = await refused(alice.client.PATCH('/api/v1/scripts/{id}', { ...id(other.id), body: { name: 'disk CLEANUP' } }))
  t.equal(rename.code, 'NAME_TAKEN', 'also when renaming')
  const { data: recased } = await alice.client.PATCH('/api/v1/scripts/{id}', { ...id(first.id), body: { name: 'DISK Cleanup' } })
  t.equal(recased?.name, 'DISK Cleanup', 'a script may change the case of its own name')
  await alice.client.DELETE('/api/v1/scripts/{id}', id(first.id))
  const reused = await upload(bob, tools, { name: 'disk cleanup' })
  t.equal(reused.ownerId, bob.id, 'the name is free after the delete')
})

t.test('unknown category, missing executable, bad fields', async (t) => {
  const before = await rowCounts(h)
  const unknown = await refused(upload(alice, '00000000-0000-4000-8000-000000000009'))
  t.equal(unknown.status, 422)
  t.equal(unknown.code, 'UNKNOWN_CATEGORY')
  t.ok(unknown.errors.categoryId)
  const noExe = await h.inject({ method: 'POST', url: '/api/v1/scripts', token: alice.token, ...(await formBody({ name: 'No exe', categoryId: tools }, [['inputs', 'input.txt', 'x']])) })
  t.equal(noExe.statusCode, 422)
  t.equal(noExe.json().code, 'EXECUTABLE_REQUIRED')
  t.ok(noExe.json().errors.executable)
  for (const [fields, field] of [
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ name: '   ' }, 'name'],
    [{ description: 'd'.repeat(4001) }, 'description'],
    [{ defaultTimeoutSeconds: 3601 }, 'defaultTimeoutSeconds'],
    [{ defaultTimeoutSeconds: 0 }, 'defaultTimeoutSeconds'],
  ] as const) {
    const err = await refused(upload(alice, tools, fields))
    t.equal(err.status, 400, `${field} is checked`)
    t.equal(err.code, 'VALIDATION_FAILED')
    t.ok(err.errors[field], `on the ${field} field`)
  }
  t.same(await rowCounts(h), before, 'nothing was written')
})

t.test('visibility and ownership', async (t) => {
  const hidden = await upload(alice, tools, { name: 'Alice draft', published: false })
  const shared = await upload(alice, tools, { name: 'Alice shared', published: true })

  t.equal((await refused(bob.client.GET('/api/v1/scripts/{id}', id(hidden.id)))).status, 404, 'another CSR cannot see an unpublished script')
  t.equal((await refused(bob.client.GET('/api/v1/scripts/{id}/versions', id(hidden.id)))).status, 404, 'nor its versions')
  t.equal(
    (await refused(bob.client.GET('/api/v1/scripts/{id}/versions/{version}', { params: { path: { id: hidden.id, version: 1 } } }))).status,
    404,
  )
  const fileRes = await h.inject({ url: `/api/v1/scripts/${hidden.id}/versions/1/files/run.sh`, token: bob.token })
  t.equal(fileRes.statusCode, 404, 'nor its files')
  const edit = await refused(bob.client.PATCH('/api/v1/scripts/{id}', { ...id(hidden.id), body: { description: 'mine now' } }))
  t.equal(edit.status, 404, 'an unpublished script is not found even to edit')
  const { data: bobsList } = await bob.client.GET('/api/v1/scripts', { params: { query: { ownerId: alice.id, perPage: 100 } } })
  t.notOk(
    bobsList?.data.some((s) => s.id === hidden.id),
    'the list leaves it out',
  )
  t.ok(bobsList?.data.some((s) => s.id === shared.id), 'and shows the published one')

  const { data: seen } = await bob.client.GET('/api/v1/scripts/{id}', id(shared.id))
  t.equal(seen?.name, 'Alice shared', 'a published script is visible to every CSR')
  const patch = await refused(bob.client.PATCH('/api/v1/scripts/{id}', { ...id(shared.id), body: { description: 'mine now' } }))
  t.equal(patch.status, 403, 'but only its owner edits it')
  t.equal(patch.code, 'NOT_OWNER')
  const del = await refused(bob.client.DELETE('/api/v1/scripts/{id}', id(shared.id)))
  t.equal(del.code, 'NOT_OWNER', 'or deletes it')
  const version = await refused(uploadScriptVersion(bob.client, shared.id, { executable: file('run.sh', 'echo evil') }))
  t.equal(version.status, 403, 'or uploads a new version')
  t.equal(version.code, 'NOT_OWNER')
  const { data: still } = await alice.client.GET('/api/v1/scripts/{id}', id(shared.id))
  t.same(still, shared, 'nothing changed')

  const { data: seenByAdmin } = await h.admin.client.GET('/api/v1/scripts/{id}', id(hidden.id))
  t.equal(seenByAdmin?.name, hidden.name, 'a site admin sees anyone’s script, unpublished too')
  // Only the owner changes or deletes it (script-ownership.test.ts has what an admin may do).
  t.equal((await refused(h.admin.client.DELETE('/api/v1/scripts/{id}', id(hidden.id)))).code, 'NOT_OWNER', 'a site admin does not delete it')
  const res = await h.inject({ method: 'DELETE', url: `/api/v1/scripts/${hidden.id}`, token: alice.token })
  t.equal(res.statusCode, 204, 'its owner does')
  t.equal((await refused(alice.client.GET('/api/v1/scripts/{id}', id(hidden.id)))).status, 404, 'a deleted script is gone from the library')
  t.equal((await refused(alice.client.DELETE('/api/v1/scripts/{id}', id(hidden.id)))).status, 404, 'and cannot be deleted twice')
  t.ok((await rowCounts(h)).versions > 0, 'its versions stay for the history')
})

t.test('metadata edits keep the version', async (t) => {
  const s = await upload(alice, tools, { name: 'Flush DNS' })
  const other = await createCategory(h, 'Other')
  const { data: edited } = await alice.client.PATCH('/api/v1/scripts/{id}', {
    ...id(s.id),
    body: { name: 'Flush DNS cache', categoryId: other, description: 'ipconfig /flushdns', published: true, defaultTimeoutSeconds: 30 },
  })
  t.match(edited, { name: 'Flush DNS cache', categoryId: other, categoryName: 'Other', published: true, defaultTimeoutSeconds: 30 })
  t.equal(edited?.version, 1, 'the version does not change')
  t.equal(edited?.digest, s.digest)
  t.ok(Date.parse(edited!.updatedAt) >= Date.parse(s.updatedAt), 'updatedAt moves')
  const { data: same } = await alice.client.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: {} })
  t.same(same, edited, 'an empty edit changes nothing, not even updatedAt')
  const unknown = await refused(alice.client.PATCH('/api/v1/scripts/{id}', { ...id(s.id), body: { categoryId: '00000000-0000-4000-8000-000000000009' } }))
  t.equal(unknown.status, 422)
  t.equal(unknown.code, 'UNKNOWN_CATEGORY')
  const missing = await refused(alice.client.PATCH('/api/v1/scripts/{id}', { ...id('00000000-0000-4000-8000-000000000009'), body: { published: true } }))
  t.equal(missing.status, 404)
})

t.test('a new version keeps the old one readable with its old digest', async (t) => {
  const v1exe = '#!/bin/sh\ncat config.ini\n'
  const s = await upload(alice, tools, {
    name: 'Show config',
    published: true,
    executable: file('show.sh', v1exe),
    inputs: [file('config.ini', 'a=1\n'), file('extra.txt', 'extra')],
  })
  const v2exe = '#!/bin/sh\ncat config.ini new.txt\n'
  const v2 = await uploadScriptVersion(alice.client, s.id, {
    executable: file('show.sh', v2exe),
    inputs: [file('new.txt', 'new')],
    keep: ['config.ini'],
  })
  t.equal(v2.version, 2)
  t.same(
    v2.files.map((f) => f.name),
    ['show.sh', 'new.txt', 'config.ini'],
    'uploaded files plus the kept one; extra.txt is dropped',
  )
  t.not(v2.digest, s.digest, 'a new digest')
  t.equal(
    v2.digest,
    expectedDigest([
      { name: 'show.sh', role: 'executable', content: v2exe },
      { name: 'new.txt', role: 'input', content: 'new' },
      { name: 'config.ini', role: 'input', content: 'a=1\n' },
    ]),
  )
  t.equal(v2.size, v2exe.length + 3 + 4)
  t.equal(v2.name, s.name, 'the metadata stays')
  const { data: v2read } = await alice.client.GET('/api/v1/scripts/{id}', id(s.id))
  t.same(v2read, v2, 'the answer (built from what was written) is what a read gives')

  const { data: old } = await bob.client.GET('/api/v1/scripts/{id}/versions/{version}', { params: { path: { id: s.id, version: 1 } } })
  t.equal(old?.digest, s.digest, 'version 1 keeps its digest')
  t.same(old?.files, s.files, 'and its files')
  t.equal(old?.createdByName, 'Alice')
  const res = await h.inject({ url: `/api/v1/scripts/${s.id}/versions/1/files/show.sh`, token: bob.token })
  t.equal(res.statusCode, 200)
  t.equal(res.body, v1exe, 'the old executable is still downloadable')
  t.equal(res.headers.etag, `"${sha256(v1exe)}"`)

  const { data: versions } = await alice.client.GET('/api/v1/scripts/{id}/versions', { params: { path: { id: s.id }, query: { order: 'desc' } } })
  t.equal(versions?.total, 2)
  t.same(
    versions?.data.map((v) => v.number),
    [2, 1],
    'newest first when asked',
  )

  // Keep the executable, replace an input.
  const v3 = await uploadScriptVersion(alice.client, s.id, { keep: ['show.sh', 'config.ini'], inputs: [file('new.txt', 'newer')] })
  t.equal(v3.version, 3)
  t.equal(v3.files[0]?.sha256, sha256(v2exe), 'the kept executable is byte for byte the same')
  const v4 = await uploadScriptVersion(alice.client, s.id, { keep: ['show.sh'] })
  t.equal(v4.version, 4)
  const { data: read4 } = await alice.client.GET('/api/v1/scripts/{id}/versions/{version}', { params: { path: { id: s.id, version: 4 } } })
  t.equal(read4?.createdById, alice.id, 'the version records who made it')

  const before = await rowCounts(h)
  const unknownKeep = await refused(uploadScriptVersion(alice.client, s.id, { keep: ['show.sh', 'nope.txt'] }))
  t.equal(unknownKeep.status, 422)
  t.equal(unknownKeep.code, 'UNKNOWN_FILE')
  const two = await refused(uploadScriptVersion(alice.client, s.id, { keep: ['show.sh'], executable: file('other.sh', 'x') }))
  t.equal(two.code, 'ONE_EXECUTABLE')
  const none = await refused(uploadScriptVersion(alice.client, s.id, { inputs: [file('a.txt', 'x')] }))
  t.equal(none.code, 'EXECUTABLE_REQUIRED')
  const badName = await refused(uploadScriptVersion(alice.client, s.id, { keep: ['show.sh'], inputs: [file('a\u0007.txt', 'x')] }))
  t.equal(badName.code, 'INVALID_FILE_NAME')
  const unsupported = await refused(uploadScriptVersion(alice.client, s.id, { executable: file('readme.md', 'x') }))
  t.equal(unsupported.code, 'UNSUPPORTED_EXECUTABLE')
  t.same(await rowCounts(h), before, 'refused versions write nothing')
  const { data: current } = await alice.client.GET('/api/v1/scripts/{id}', id(s.id))
  t.equal(current?.version, 4, 'the current version is unchanged')

  const missing = await refused(uploadScriptVersion(alice.client, '00000000-0000-4000-8000-000000000009', { executable: file('a.sh', 'x') }))
  t.equal(missing.status, 404)
  const missingVersion = await refused(alice.client.GET('/api/v1/scripts/{id}/versions/{version}', { params: { path: { id: s.id, version: 99 } } }))
  t.equal(missingVersion.status, 404)
  t.equal(missingVersion.code, 'VERSION_NOT_FOUND')
})

t.test('downloads: type, disposition, ETag and digest', async (t) => {
  const text = '#!/bin/sh\necho "hello"\n'
  const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3])
  const s = await upload(alice, tools, {
    executable: file('hello.sh', text),
    inputs: [file('logo.png', binary), file("données d'été.csv", 'a;b\n'), file('app.py', 'print(1)')],
  })
  const url = (name: string, version = 1) => `/api/v1/scripts/${s.id}/versions/${version}/files/${encodeURIComponent(name)}`

  const res = await h.inject({ url: url('hello.sh'), token: alice.token })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/x-shellscript; charset=utf-8')
  t.equal(res.headers['content-disposition'], `attachment; filename="hello.sh"; filename*=UTF-8''hello.sh`)
  t.equal(res.headers.etag, `"${sha256(text)}"`)
  t.equal(res.headers['repr-digest'], `sha-256=:${Buffer.from(sha256(text), 'hex').toString('base64')}:`)
  t.equal(res.headers['content-length'], String(text.length))
  t.equal(res.body, text)

  const png = await h.inject({ url: url('logo.png'), token: alice.token })
  t.equal(png.headers['content-type'], 'application/octet-stream', 'binary content is served as octet-stream')
  t.same(png.rawPayload, binary, 'byte for byte')
  const csv = await h.inject({ url: url("données d'été.csv"), token: alice.token })
  t.equal(csv.headers['content-type'], 'text/plain; charset=utf-8', 'other text is plain text')
  t.equal(
    csv.headers['content-disposition'],
    `attachment; filename="donn_es d'_t_.csv"; filename*=UTF-8''donn%C3%A9es%20d%27%C3%A9t%C3%A9.csv`,
    'an ASCII fallback and the exact UTF-8 name',
  )
  const py = await h.inject({ url: url('app.py'), token: alice.token })
  t.equal(py.headers['content-type'], 'text/x-python; charset=utf-8')

  const cached = await h.inject({ url: url('hello.sh'), token: alice.token, headers: { 'if-none-match': `"${sha256(text)}"` } })
  t.equal(cached.statusCode, 304, 'If-None-Match with the ETag gives 304')
  t.equal(cached.body, '')
  const stale = await h.inject({ url: url('hello.sh'), token: alice.token, headers: { 'if-none-match': '"abc"' } })
  t.equal(stale.statusCode, 200, 'another ETag gives the file')

  const missing = await h.inject({ url: url('nope.txt'), token: alice.token })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'FILE_NOT_FOUND')
  const noVersion = await h.inject({ url: url('hello.sh', 7), token: alice.token })
  t.equal(noVersion.statusCode, 404)
  t.equal(noVersion.json().code, 'VERSION_NOT_FOUND')
})

t.test('listing sorts, filters, pages and counts', async (t) => {
  // Scripts of this test carry a tag in their description; `q` keeps the others out.
  const tag = 'zqlisting'
  const carol = await h.createUser('csr', { name: 'Carol' })
  const dave = await h.createUser('csr', { name: 'dave' })
  const alpha = await createCategory(h, 'alpha')
  const beta = await createCategory(h, 'Beta')
  const make = async (owner: typeof carol, name: string, categoryId: string, bytes: number, published: boolean, versions = 1) => {
    const description = `${tag} about ${name}`
    let s = await uploadScript(owner.client, { name, categoryId, published, description, executable: file('run.sh', 'x'.repeat(bytes)) })
    for (let v = 1; v < versions; v++) s = await uploadScriptVersion(owner.client, s.id, { executable: file('run.sh', 'y'.repeat(bytes)) })
    return s
  }
  await make(carol, 'echo', alpha, 30, true)
  await make(carol, 'Bravo', beta, 10, false, 3)
  await make(dave, 'charlie', alpha, 20, true, 2)
  await make(dave, 'Delta', beta, 40, false)
  await make(carol, 'able', beta, 50, true)

  const list = async (query: Record<string, unknown>, who = carol) => {
    const { data } = await who.client.GET('/api/v1/scripts', { params: { query: { q: tag, ...query } } })
    return { names: data!.data.map((s) => s.name), total: data!.total }
  }
  // Carol sees her own three and dave's published one.
  t.same(await list({}), { names: ['able', 'Bravo', 'charlie', 'echo'], total: 4 }, 'by name by default, ignoring case')
  t.same((await list({ sort: 'name', order: 'desc' })).names, ['echo', 'charlie', 'Bravo', 'able'])
  t.same((await list({ sort: 'size' })).names, ['Bravo', 'charlie', 'echo', 'able'], 'by size')
  t.same((await list({ sort: 'version', order: 'desc' })).names, ['Bravo', 'charlie', 'able', 'echo'], 'by version, then name')
  t.same((await list({ sort: 'categoryName' })).names, ['charlie', 'echo', 'able', 'Bravo'], 'by category name, then name')
  t.same((await list({ sort: 'ownerName' })).names, ['able', 'Bravo', 'echo', 'charlie'], 'by owner name, ignoring case')
  t.same((await list({ sort: 'ownerName', order: 'desc' })).names, ['charlie', 'able', 'Bravo', 'echo'])
  t.same((await list({ sort: 'published' })).names, ['Bravo', 'able', 'charlie', 'echo'], 'unpublished first')
  t.same((await list({ sort: 'createdAt' })).names, ['echo', 'Bravo', 'charlie', 'able'], 'by creation')
  t.same((await list({ sort: 'updatedAt', order: 'desc' })).names, ['able', 'charlie', 'Bravo', 'echo'], 'the most recently changed first')

  t.same(await list({ categoryId: beta }), { names: ['able', 'Bravo'], total: 2 }, 'filter by category')
  t.same(await list({ ownerId: dave.id }), { names: ['charlie'], total: 1 }, 'filter by owner shows only what the caller may see')
  t.same(await list({ published: false }), { names: ['Bravo'], total: 1 }, 'filter by published')
  t.same(await list({ q: 'ECH', categoryId: alpha }), { names: ['echo'], total: 1 }, 'text in the name, ignoring case')
  t.same(await list({ q: 'about bra' }), { names: ['Bravo'], total: 1 }, 'text in the description')
  t.same(await list({ q: '%' }), { names: [], total: 0 }, 'wildcards are literal')
  t.same(await list({ perPage: 2, page: 2 }), { names: ['charlie', 'echo'], total: 4 }, 'paged, with the total of all pages')
  t.same(await list({ categoryId: alpha, published: true, sort: 'size', order: 'desc' }), { names: ['echo', 'charlie'], total: 2 }, 'filters combine')
  t.same(await list({}, await h.createUser('csr')), { names: ['able', 'charlie', 'echo'], total: 3 }, 'another CSR sees only the published scripts')
  const { data: all } = await h.admin.client.GET('/api/v1/scripts', { params: { query: { q: tag, perPage: 100 } } })
  t.equal(all?.total, 5, 'a site admin sees every script')
  const bravo = all!.data.find((s) => s.name === 'Bravo')
  t.equal(bravo?.version, 3)
  t.equal(bravo?.files.length, 1, 'list entries carry their files')
})

t.test('a failure mid-write leaves nothing behind', async (t) => {
  const service = h.app.services.scripts as unknown as { storeFiles: (...args: unknown[]) => Promise<unknown> }
  const original = service.storeFiles
  t.teardown(() => {
    service.storeFiles = original
  })
  const before = await rowCounts(h)
  service.storeFiles = async function (this: unknown, ...args: unknown[]) {
    await original.apply(this, args)
    throw new Error('simulated failure after the files were written')
  }
  const res = await h.inject({
    method: 'POST',
    url: '/api/v1/scripts',
    token: alice.token,
    ...(await formBody({ name: 'Half written', categoryId: tools }, [
      ['executable', 'run.sh', '#!/bin/sh\n'],
      ['inputs', 'data.txt', 'data'],
    ])),
  })
  t.equal(res.statusCode, 500, 'the failure is a server error')
  t.notMatch(res.body, /simulated/, 'its cause is not shown to the client')
  t.same(await rowCounts(h), before, 'no script, version or file rows remain')
  service.storeFiles = original
  const ok = await upload(alice, tools, { name: 'Half written' })
  t.equal(ok.name, 'Half written', 'the name was never taken')
})
