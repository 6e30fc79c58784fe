import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseJoinTicket } from '@helpline/sdk'
import { version } from '../../src/version.ts'
import { setupApp } from '../helpers/app.ts'

/**
 * What customers download: the list, each file as built (strong ETag, Repr-Digest), and the join
 * page's data and downloads, which carry the session's join ticket and whose sha256 is listed.
 */
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex')

function downloadsDir(files: Record<string, Buffer>, manifestVersion = version) {
  const dir = mkdtempSync(join(tmpdir(), 'helpline-downloads-'))
  const artifacts = Object.entries(files).map(([fileName, content]) => {
    writeFileSync(join(dir, fileName), content)
    const node = fileName.endsWith('.mjs')
    return {
      platform: node ? 'any' : 'linux',
      arch: node ? 'any' : 'x64',
      kind: node ? 'node-script' : 'executable',
      fileName,
      size: content.length,
      sha256: sha256(content),
      version: manifestVersion,
    }
  })
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: manifestVersion, artifacts }))
  return dir
}

const executable = Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(4096, 7)])
const script = Buffer.from('#!/usr/bin/env node\nconsole.log("agent")\n')

t.test('the list, the files as built, and the join page’s downloads', async (t) => {
  const dir = downloadsDir({ 'helpline-agent-linux-x64': executable, 'helpline-agent.mjs': script })
  const h = await setupApp(t, { AGENT_DOWNLOADS_DIR: dir, ORG_NAME: 'Acme Support' })

  const list = await h.inject({ url: '/api/v1/agent-downloads', headers: { host: 'help.test:8080' } })
  t.equal(list.statusCode, 200)
  const body = list.json()
  t.equal(body.problem, null, 'nothing missing')
  t.same(
    body.artifacts.map((a: { fileName: string; size: number; sha256: string; url: string; version: string }) => [a.fileName, a.size, a.sha256, a.url, a.version]),
    [
      ['helpline-agent-linux-x64', executable.length, sha256(executable), 'http://help.test:8080/api/v1/agent-downloads/helpline-agent-linux-x64', version],
      ['helpline-agent.mjs', script.length, sha256(script), 'http://help.test:8080/api/v1/agent-downloads/helpline-agent.mjs', version],
    ],
    'each artifact with its size, sha256, version and absolute URL',
  )

  const file = await h.inject({ url: '/api/v1/agent-downloads/helpline-agent-linux-x64' })
  t.equal(file.statusCode, 200)
  t.same(file.rawPayload, executable, 'the bytes as built')
  t.equal(file.headers.etag, `"${sha256(executable)}"`, 'a strong ETag: the sha256')
  t.equal(file.headers['repr-digest'], `sha-256=:${createHash('sha256').update(executable).digest('base64')}:`)
  t.match(file.headers['content-disposition'], /attachment; filename="helpline-agent-linux-x64"/)
  const again = await h.inject({ url: '/api/v1/agent-downloads/helpline-agent-linux-x64', headers: { 'if-none-match': `"${sha256(executable)}"` } })
  t.equal(again.statusCode, 304, 'not sent again when the client has it')

  const unknown = await h.inject({ url: '/api/v1/agent-downloads/helpline-agent-win-x64.exe' })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'ARTIFACT_NOT_FOUND')
  const sneaky = await h.inject({ url: '/api/v1/agent-downloads/..%2Fmanifest.json' })
  t.equal(sneaky.statusCode, 400, 'a file name is a plain name')

  const { data: session } = await h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Jane' } })
  const info = await h.inject({ url: `/api/v1/join/${session!.number}`, headers: { host: 'help.test:8080' } })
  t.equal(info.statusCode, 200)
  const join = info.json()
  t.match(join, { number: session!.number, csrName: 'Site admin', orgName: 'Acme Support', server: 'http://help.test:8080' })
  t.notOk('customerName' in join, 'nothing about the session but its CSR’s name')
  const node = join.downloads.find((d: { fileName: string }) => d.fileName === 'helpline-agent.mjs')
  t.equal(node.command, `curl -fLo helpline-agent.mjs '${node.url}' && node helpline-agent.mjs`, 'the one line for a terminal')
  const exe = join.downloads.find((d: { fileName: string }) => d.fileName === 'helpline-agent-linux-x64')
  t.match(exe.command, /^curl -fLo helpline-agent-linux-x64 '.+' && chmod \+x helpline-agent-linux-x64 && \.\/helpline-agent-linux-x64$/)

  const ticketed = await h.inject({ url: `/api/v1/join/${session!.number}/downloads/helpline-agent.mjs`, headers: { host: 'help.test:8080' } })
  t.equal(ticketed.statusCode, 200)
  t.same(ticketed.rawPayload.subarray(0, script.length), script, 'the file as built …')
  t.equal(sha256(ticketed.rawPayload), node.sha256, '… whose sha256 is the one the join page lists')
  t.equal(ticketed.headers.etag, `"${node.sha256}"`)
  t.equal(Number(ticketed.headers['content-length']), node.size)
  const cached = await h.inject({ url: `/api/v1/join/${session!.number}/downloads/helpline-agent.mjs`, headers: { host: 'help.test:8080', 'if-none-match': `"${node.sha256}"` } })
  t.equal(cached.statusCode, 304, 'a ticketed file the client has is not sent again')
  t.same(
    parseJoinTicket(ticketed.rawPayload.subarray(-4096).toString('latin1')),
    { server: 'http://help.test:8080', number: session!.number, org: 'Acme Support', csr: 'Site admin' },
    'with a join ticket: the server and the number, so it joins without typing',
  )
  const exeFile = await h.inject({ url: `/api/v1/join/${session!.number}/downloads/helpline-agent-linux-x64`, headers: { host: 'help.test:8080' } })
  t.equal(sha256(exeFile.rawPayload), exe.sha256, 'the executable too')
  const unknownFile = await h.inject({ url: `/api/v1/join/${session!.number}/downloads/nothing.bin` })
  t.equal(unknownFile.json().code, 'ARTIFACT_NOT_FOUND')

  const { data: other } = await h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Kim' } })
  const otherInfo = (await h.inject({ url: `/api/v1/join/${other!.number}` })).json()
  t.not(otherInfo.downloads[1].sha256, join.downloads[1].sha256, 'each session’s download is its own')
})

t.test('wrong, ended and malformed numbers; rate limits', async (t) => {
  const dir = downloadsDir({ 'helpline-agent.mjs': script })
  const h = await setupApp(t, { AGENT_DOWNLOADS_DIR: dir, JOIN_MAX_ATTEMPTS_PER_NUMBER: 3, JOIN_MAX_ATTEMPTS_PER_IP: 100, PUBLIC_URL: 'https://help.example.com/' })
  const { data: session } = await h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Jane' } })
  const ok = (await h.inject({ url: `/api/v1/join/${session!.number.replaceAll('-', '')}` })).json()
  t.equal(ok.server, 'https://help.example.com', 'PUBLIC_URL names the server in links and tickets')
  t.match(ok.downloads[0].url, /^https:\/\/help\.example\.com\/api\/v1\/join\/\d{3}-\d{3}-\d{3}\/downloads\/helpline-agent\.mjs$/)

  const wrong = await h.inject({ url: '/api/v1/join/000-000-001' })
  t.equal(wrong.statusCode, 404)
  await h.admin.client.POST('/api/v1/sessions/{id}/end', { params: { path: { id: session!.id } } })
  const ended = await h.inject({ url: `/api/v1/join/${session!.number}` })
  t.equal(ended.statusCode, 404)
  t.same({ ...ended.json(), message: '' }, { ...wrong.json(), message: '' }, 'an ended number looks exactly like a wrong one')
  t.equal(ended.json().code, 'SESSION_NOT_FOUND')
  const endedFile = await h.inject({ url: `/api/v1/join/${session!.number}/downloads/helpline-agent.mjs` })
  t.equal(endedFile.statusCode, 404, 'nor can its download be had')

  const malformed = await h.inject({ url: '/api/v1/join/12-34' })
  t.equal(malformed.statusCode, 400)

  let last = 0
  let retryAfter: string | undefined
  for (let i = 0; i < 4; i++) {
    const res = await h.inject({ url: '/api/v1/join/555-555-555' })
    last = res.statusCode
    retryAfter = res.headers['retry-after'] as string | undefined
  }
  t.equal(last, 429, 'one number tried too often is refused for a while')
  t.ok(Number(retryAfter) > 0, 'with Retry-After')
  const file = await h.inject({ url: '/api/v1/join/555-555-555/downloads/helpline-agent.mjs' })
  t.equal(file.statusCode, 429, 'its downloads too: they would tell a guesser the number is right')
})

t.test('nothing built, or built for another version: said, not offered', async (t) => {
  const h = await setupApp(t, { AGENT_DOWNLOADS_DIR: mkdtempSync(join(tmpdir(), 'helpline-none-')) })
  const none = (await h.inject({ url: '/api/v1/agent-downloads' })).json()
  t.same(none.artifacts, [])
  t.match(none.problem, /has not been built .*npm run build/)
  t.equal(none.buildCommand, 'npm run build')
  t.ok(h.logs.some((line) => line.includes('has not been built')), 'the server says so at start-up')
  const { data: session } = await h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Jane' } })
  const info = (await h.inject({ url: `/api/v1/join/${session!.number}` })).json()
  t.same(info.downloads, [], 'the join page has nothing to offer …')
  t.match(info.problem, /npm run build/, '… and says which command builds it')

  const old = setupApp(t, { AGENT_DOWNLOADS_DIR: downloadsDir({ 'helpline-agent.mjs': script }, '0.0.1') })
  const stale = (await (await old).inject({ url: '/api/v1/agent-downloads' })).json()
  t.same(stale.artifacts, [], 'an agent of another version is not offered')
  t.match(stale.problem, new RegExp(`built for version 0\\.0\\.1, this server is ${version.replaceAll('.', '\\.')}`))
})

t.test('the join page', async (t) => {
  const h = await setupApp(t)
  for (const url of ['/join', '/join/987-654-321']) {
    const res = await h.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.headers['content-security-policy'], /script-src 'self'/, 'no inline script runs')
    t.notMatch(res.body, /987-654-321/, 'the page holds no session data: the script asks the API')
  }
  const script = await h.inject({ url: '/join/assets/join.js' })
  t.match(script.headers['content-type'], /^text\/javascript/)
  t.match(script.body, /textContent/, 'the script is served')
})
