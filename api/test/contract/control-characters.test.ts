import t, { type Test } from 'tap'
import { eq } from 'drizzle-orm'
import { chatMessages, scriptCategories, scripts, supportSessions, users } from '../../src/db/schema.ts'
import { testPlatform, testPublicKey } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { createCategory, multipartBody, upload } from '../helpers/scripts.ts'

/**
 * Names a customer's agent shows (the CSR's name, script and category names, the customer's own
 * name and the session's notes) are refused with 422 CONTROL_CHARACTERS naming the field when
 * they hold a control character or a bidi override or isolate; nothing is stored. The chat lines
 * the server writes itself carry none of them, whatever values went into them.
 */
const h = await setupApp(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await h.createUser('csr', { name: 'Carla CSR' })
const categoryId = await createCategory(h, 'Names')
const script = await upload(csr, categoryId, { name: 'Clean name' })
const { db } = h.app.database

const bad = ['esc\u001b[2K', 'osc\u001b]0;title\u0007', 'line\nbreak', 'tab\there', 'c1\u009b31m', 'del\u007f', 'nul\u0000', 'rlo\u202egnp', 'isolate\u2066x\u2069']

function expectRefused(t: Test, res: { statusCode: number; json(): { code: string; errors?: Record<string, string> } }, field: string, what: string) {
  t.equal(res.statusCode, 422, `${what}: 422`)
  t.equal(res.json().code, 'CONTROL_CHARACTERS', `${what}: CONTROL_CHARACTERS`)
  t.match(res.json().errors?.[field], /must not contain control characters/, `${what}: names ${field}`)
}

t.test('script, user, category and session names: refused, nothing stored', async (t) => {
  for (const value of bad) {
    const what = JSON.stringify(value)
    const form = multipartBody([
      { name: 'name', value },
      { name: 'categoryId', value: categoryId },
      { name: 'executable', filename: 'run.sh', content: '#!/bin/sh\n' },
    ])
    expectRefused(t, await h.inject({ method: 'POST', url: '/api/v1/scripts', token: csr.token, payload: form.payload, headers: form.headers }), 'name', `createScript ${what}`)
    expectRefused(t, await h.inject({ method: 'PATCH', url: `/api/v1/scripts/${script.id}`, token: csr.token, payload: { name: value } }), 'name', `updateScript ${what}`)
    expectRefused(t, await h.inject({ method: 'POST', url: '/api/v1/script-categories', token: h.admin.token, payload: { name: value } }), 'name', `createScriptCategory ${what}`)
    expectRefused(t, await h.inject({ method: 'PATCH', url: `/api/v1/script-categories/${categoryId}`, token: h.admin.token, payload: { name: value } }), 'name', `renameScriptCategory ${what}`)
    const user = { email: `u${bad.indexOf(value)}@example.com`, name: value, role: 'csr', password: 'a-long-password-1' }
    expectRefused(t, await h.inject({ method: 'POST', url: '/api/v1/users', token: h.admin.token, payload: user }), 'name', `createUser ${what}`)
    expectRefused(t, await h.inject({ method: 'PATCH', url: `/api/v1/users/${csr.id}`, token: h.admin.token, payload: { name: value } }), 'name', `updateUser ${what}`)
    expectRefused(t, await h.inject({ method: 'POST', url: '/api/v1/sessions', token: csr.token, payload: { customerName: value } }), 'customerName', `createSession ${what}`)
  }
  t.same((await db.select({ name: scripts.name }).from(scripts)).map((r) => r.name), ['Clean name'], 'no script stored or renamed')
  t.same((await db.select({ name: scriptCategories.name }).from(scriptCategories)).map((r) => r.name), ['Names'], 'no category stored or renamed')
  t.same((await db.select({ name: users.name }).from(users).where(eq(users.id, csr.id))).map((r) => r.name), ['Carla CSR'], 'the user keeps their name')
  t.equal((await db.select().from(supportSessions)).length, 0, 'no session opened')
})

t.test('session notes may have lines and tabs, not other controls; several fields are named at once', async (t) => {
  const ok = await h.inject({ method: 'POST', url: '/api/v1/sessions', token: csr.token, payload: { customerName: 'Dana', description: 'Printer:\n\tjams on page 2' } })
  t.equal(ok.statusCode, 201, 'newlines and tabs in the notes are fine')
  const res = await h.inject({ method: 'POST', url: '/api/v1/sessions', token: csr.token, payload: { customerName: 'Dana\u202e', description: 'notes\u001b[2J' } })
  expectRefused(t, res, 'description', 'an escape in the notes')
  t.ok(res.json().errors?.customerName, 'and the name beside it')
  t.match(res.json().message, /customerName, description must not contain control characters/)
  const names = await h.inject({ method: 'POST', url: '/api/v1/sessions', token: csr.token, payload: { customerName: 'Ådne Øvrebø 日本 “quoted”' } })
  t.equal(names.statusCode, 201, 'ordinary Unicode is fine')
})

t.test('system lines the server writes carry no control characters from the values put into them', async (t) => {
  const { data: session } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Erin' } })
  // A name written before the server refused them, or straight into the database.
  await db.update(supportSessions).set({ customerName: 'Erin\u001b[2J\u202e' }).where(eq(supportSessions.id, session!.id))
  const join = await h.client().POST('/api/v1/agent/join', {
    body: { number: session!.number, protocol: 1, agentVersion: '0.1.0', platform: { ...testPlatform, hostname: 'pc\u001b]0;owned\u0007\u2067x' }, publicKey: testPublicKey },
  })
  t.equal(join.response.status, 201)
  const lines = await db.select({ body: chatMessages.body }).from(chatMessages).where(eq(chatMessages.sessionId, session!.id))
  const joined = lines.find((l) => /joined/.test(l.body))!
  t.equal(joined.body, 'Erin[2J joined from pc]0;ownedx, Debian GNU/Linux 12', 'the join line, cleaned')
  t.notOk(lines.some((l) => /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(l.body)), 'no system line holds one')
})
