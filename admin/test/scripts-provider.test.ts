/**
 * The script adapter over the real SDK with a fake server: what an edit sends (metadata as
 * PATCH, changed files as a new version that keeps the stored files still listed), and how
 * list queries are translated.
 */
import t from 'tap'
import { createClient } from '@helpline/sdk'
import { filesChanged, scriptsAdapter, toScriptRecord, type Script, type ScriptRecord } from '../src/api/resources/scripts.ts'

const sha = (c: string) => c.repeat(64)
const script: Script = {
  id: '7d1c7c1e-0000-4000-8000-000000000010',
  name: 'Disk report',
  description: '',
  categoryId: '7d1c7c1e-0000-4000-8000-000000000020',
  categoryName: 'Diagnostics',
  ownerId: '7d1c7c1e-0000-4000-8000-000000000030',
  ownerName: 'Ada',
  published: false,
  defaultTimeoutSeconds: 600,
  version: 1,
  versionId: '7d1c7c1e-0000-4000-8000-000000000040',
  digest: sha('d'),
  size: 30,
  files: [
    { name: 'report.sh', role: 'executable', size: 10, sha256: sha('a') },
    { name: 'hosts.txt', role: 'input', size: 10, sha256: sha('b') },
    { name: 'old.txt', role: 'input', size: 10, sha256: sha('c') },
  ],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
}

interface Seen {
  method: string
  path: string
  query: Record<string, string>
  json?: unknown
  form?: [string, string][]
}

function setup() {
  const seen: Seen[] = []
  const fakeFetch = async (input: Request): Promise<Response> => {
    const url = new URL(input.url)
    const entry: Seen = { method: input.method, path: url.pathname, query: Object.fromEntries(url.searchParams) }
    const type = input.headers.get('content-type') ?? ''
    if (type.startsWith('multipart/form-data')) {
      const form = await input.formData()
      const fields: [string, string][] = []
      form.forEach((v, k) => fields.push([k, typeof v === 'string' ? v : `file:${v.name}`]))
      entry.form = fields
    } else if (type.startsWith('application/json')) {
      entry.json = await input.json()
    }
    seen.push(entry)
    const body = url.pathname.endsWith('/scripts') && input.method === 'GET' ? { data: [script], total: 1 } : script
    return new Response(JSON.stringify(body), { status: input.method === 'POST' ? 201 : 200, headers: { 'content-type': 'application/json' } })
  }
  const client = createClient({ baseUrl: 'http://helpline.test', token: 't', fetch: fakeFetch as typeof fetch })
  return { seen, adapter: scriptsAdapter(client) }
}

const file = (name: string, content: string) => new File([content], name)

t.test('stored files are split by role for the form', async (t) => {
  const record = toScriptRecord(script)
  t.same(record.executable, { name: 'report.sh', size: 10, sha256: sha('a') })
  t.same(
    record.inputs.map((f) => f.name),
    ['hosts.txt', 'old.txt'],
  )
})

t.test('a metadata edit is one PATCH of the changed fields; the files stay', async (t) => {
  const { seen, adapter } = setup()
  const previous = toScriptRecord(script)
  await adapter.update!(script.id, { ...previous, name: 'Disk report 2', published: true, defaultTimeoutSeconds: '90' as unknown as number }, previous)
  t.same(
    seen.map((s) => `${s.method} ${s.path}`),
    [`PATCH /api/v1/scripts/${script.id}`],
  )
  t.same(seen[0]?.json, { name: 'Disk report 2', published: true, defaultTimeoutSeconds: 90 })
  t.notOk(filesChanged(previous, previous), 'unchanged files are not uploaded')
})

t.test('changed files upload a version that keeps the stored files still listed', async (t) => {
  const { seen, adapter } = setup()
  const previous = toScriptRecord(script)
  const data: Partial<ScriptRecord> = {
    ...previous,
    // hosts.txt is replaced, old.txt removed, new.txt added; the executable stays.
    inputs: [
      { name: 'hosts.txt', size: 3, file: file('hosts.txt', 'new') },
      { name: 'new.txt', size: 1, file: file('new.txt', 'x') },
    ],
  }
  t.ok(filesChanged(data, previous))
  await adapter.update!(script.id, data, previous)
  t.same(
    seen.map((s) => `${s.method} ${s.path}`),
    [`POST /api/v1/scripts/${script.id}/versions`],
  )
  t.same(seen[0]?.form, [
    ['keep', 'report.sh'],
    ['inputs', 'file:hosts.txt'],
    ['inputs', 'file:new.txt'],
  ])

  const removedOnly = setup()
  await removedOnly.adapter.update!(script.id, { ...previous, inputs: previous.inputs.slice(0, 1) }, previous)
  t.same(removedOnly.seen[0]?.form, [
    ['keep', 'report.sh'],
    ['keep', 'hosts.txt'],
  ], 'removing a file alone is a new version too')
})

t.test('create sends the fields and the files as one form', async (t) => {
  const { seen, adapter } = setup()
  await adapter.create!({
    name: 'New',
    categoryId: script.categoryId,
    description: 'd',
    published: true,
    defaultTimeoutSeconds: 30,
    executable: { name: 'run.py', size: 1, file: file('run.py', 'x') },
    inputs: [{ name: 'a.txt', size: 1, file: file('a.txt', 'y') }],
  })
  t.same(seen[0]?.form, [
    ['name', 'New'],
    ['categoryId', script.categoryId],
    ['description', 'd'],
    ['published', 'true'],
    ['defaultTimeoutSeconds', '30'],
    ['executable', 'file:run.py'],
    ['inputs', 'file:a.txt'],
  ])
})

t.test('list queries keep only what the endpoint knows', async (t) => {
  const { seen, adapter } = setup()
  await adapter.getList!({ page: 2, perPage: 10, sort: 'size', order: 'desc', q: 'disk', published: false, ownerId: script.ownerId, bogus: 1 })
  t.same(seen[0]?.query, { page: '2', perPage: '10', sort: 'size', order: 'desc', q: 'disk', published: 'false', ownerId: script.ownerId })
  await adapter.getList!({ page: 1, perPage: 25, sort: 'id' })
  t.equal(seen[1]?.query.sort, 'name', 'an unknown sort falls back to the name')
})
