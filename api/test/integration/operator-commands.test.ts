import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runBuiltCommand } from '../helpers/built-server.ts'
import { createTestDatabase, testDatabaseUrl } from '../helpers/db.ts'

/**
 * `npm run keys:rotate` and `npm run audit:verify` as an operator runs them: the built commands
 * (api/dist/keys-rotate.js, audit-verify.js) with plain node and only the server's environment.
 * (The rotation's re-signing is tested in script-integrity.test.ts, the checker's findings in
 * database-roles.test.ts and audit-trail.test.ts.) PostgreSQL: the embedded database's first
 * start (initdb) alone would take most of a minute.
 */
const skip = testDatabaseUrl ? false : 'needs PostgreSQL: set TEST_DATABASE_URL (an embedded database would be created from scratch)'

t.test('keys:rotate, built, retires the signing key into KEY_DIR; audit:verify then finds the site trail intact', { skip }, async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const dir = mkdtempSync(join(tmpdir(), 'helpline-commands-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const env = { DATABASE_URL: db.url!, KEY_DIR: join(dir, 'keys'), CONSOLE_DIR: '/nonexistent', LOG_LEVEL: 'warn' }

  const rotated = await runBuiltCommand('keys-rotate', env)
  t.equal(rotated.code, 0, 'keys:rotate exits 0')
  const retired = /Retired signing key (\w+): moved to (\S+)/.exec(rotated.output)
  t.ok(retired, `it names the retired key (${rotated.output.split('\n')[0]})`)
  t.ok(retired && existsSync(retired[2]!), 'the retired key is kept where it says')
  const current = readFileSync(join(dir, 'keys', 'signing-ed25519.pem'), 'utf8')
  t.not(current, retired && readFileSync(retired[2]!, 'utf8'), 'and a new one took its place')

  const verified = await runBuiltCommand('audit-verify', env)
  t.equal(verified.code, 0, 'audit:verify exits 0')
  t.match(verified.output, /All intact: 0 session trail\(s\) and the site trail, [1-9]\d* events/, 'the rotation is in the site trail, and the chain holds')
})
