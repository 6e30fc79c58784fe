/**
 * The SDK over real HTTP: the upload example in sdk/README.md runs as written against a real
 * server, and the exact size limit holds on a real socket (fastify's body limits included).
 */
import t from 'tap'
import { ApiError, createClient, uploadScript } from '@helpline/sdk'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { runExample } from './helpers/readme.ts'


// The whole file: ~23 s in a CI run; 120 s left little room on a loaded machine. As tap's own limit (package.json).
t.setTimeout(300_000)

t.test('the README upload example runs against a real server', async (t) => {
  const server = await startTestServer(t)
  const url = server.url.replace(/\/+$/, '')
  const admin = createClient({ baseUrl: url, token: server.h.admin.token })
  await admin.POST('/api/v1/script-categories', { body: { name: 'Printing' } })
  const csr = await server.h.createUser('csr')

  const lines = await runExample(t, 'upload-script', { url, token: csr.token })

  const api = createClient({ baseUrl: url, token: csr.token })
  const { data } = await api.GET('/api/v1/scripts', { params: { query: { q: 'Collect printer logs' } } })
  t.equal(data?.total, 1, 'the example created the script')
  const script = data!.data[0]!
  t.equal(script.version, 2, 'and a second version')
  t.same(
    script.files.map((f) => f.name),
    ['collect.sh', 'files.txt'],
  )
  t.equal(script.published, true)
  t.equal(script.defaultTimeoutSeconds, 120)
  t.match(lines[0], /^Collect printer logs v1: \d+ bytes, digest [0-9a-f]{64}$/)
  t.match(lines[1], /^now v2; v1 ran: "#!\/bin\/sh\\ntar czf logs.tgz -T files.txt\\n"$/, 'version 1 downloads as it was')
  t.match(lines[2], /^409 NAME_TAKEN\b/, 'the duplicate name is refused, ignoring case')
})

t.test('exactly SCRIPT_MAX_BYTES passes over HTTP; one byte more is 413', async (t) => {
  const server = await startTestServer(t)
  const url = server.url.replace(/\/+$/, '')
  const admin = createClient({ baseUrl: url, token: server.h.admin.token })
  const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: 'Limits' } })
  const limit = server.h.config.SCRIPT_MAX_BYTES
  const files = (total: number) => ({
    executable: { name: 'fill.sh', content: '#!/bin/sh\n' + 'a'.repeat(total / 2 - 10) },
    inputs: [
      { name: 'half.bin', content: new Uint8Array(Math.ceil(total / 2) - 7).fill(7) },
      { name: 'seven.bin', content: new Uint8Array(7) },
    ],
  })
  // The token as options, as an integrator without a client at hand would call it.
  const options = { baseUrl: url, token: server.h.admin.token }
  const script = await uploadScript(options, { name: 'Full', categoryId: category!.id, ...files(limit) })
  t.equal(script.size, limit, `${limit} bytes accepted`)
  try {
    await uploadScript(options, { name: 'Over', categoryId: category!.id, ...files(limit + 1) })
    t.fail('one byte over the limit was accepted')
  } catch (err) {
    t.ok(err instanceof ApiError)
    t.equal((err as ApiError).status, 413)
    t.equal((err as ApiError).code, 'SCRIPT_TOO_LARGE')
    t.match((err as ApiError).message, new RegExp(`${limit + 1} bytes; the limit is ${limit} bytes`))
  }
})
