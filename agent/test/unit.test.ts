import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { en } from '../src/i18n/en.ts'
import { detectLang, translator } from '../src/i18n/index.ts'
import { ja } from '../src/i18n/ja.ts'
import { createSimulatedPlatform } from '../src/platform/simulated.ts'
import { SystemInfoRunner } from '../src/runners/system-info.ts'
import { StateStore } from '../src/state.ts'
import { isSecretName, redactEnvironment } from '../src/sysinfo/environment.ts'
import { CATEGORY_IDS } from '../src/sysinfo/types.ts'
import { Terminal } from '../src/terminal.ts'
import { UiHub } from '../src/ui/hub.ts'
import { safeUser } from '../src/sysinfo/collect.ts'
import { raw, typedFields } from '../src/sysinfo/format.ts'
import { compatible } from '../src/version.ts'

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

t.test('English and Japanese catalogues have the same keys and placeholders', async (t) => {
  t.same(Object.keys(ja).sort(), Object.keys(en).sort())
  for (const key of Object.keys(en) as (keyof typeof en)[]) {
    t.same(placeholders(ja[key]), placeholders(en[key]), `${key}: same placeholders`)
    t.ok(ja[key].trim().length > 0, `${key}: translated`)
  }
})

t.test('language: --lang first, then LC_ALL, LC_MESSAGES, LANG', async (t) => {
  t.equal(detectLang('ja', { LANG: 'en_US.UTF-8' }), 'ja')
  t.equal(detectLang(undefined, { LANG: 'ja_JP.UTF-8' }), 'ja')
  t.equal(detectLang(undefined, { LC_ALL: 'en_GB.UTF-8', LANG: 'ja_JP.UTF-8' }), 'en')
  t.equal(detectLang(undefined, { LC_MESSAGES: 'ja' }), 'ja')
  t.equal(detectLang(undefined, {}), 'en')
  t.equal(translator('ja')('joined', { number: '123-456-789', csr: 'Carla' }), 'サポートセッション 123-456-789 に参加しました。担当: Carla')
})

t.test('environment variables with secret-looking names never leave', async (t) => {
  for (const name of ['API_KEY', 'GITHUB_TOKEN', 'aws_secret_access_key', 'DB_PASSWORD', 'PASSPHRASE', 'SSH_PASS', 'keychain']) t.ok(isSecretName(name), name)
  for (const name of ['HOME', 'PATH', 'LANG', 'SHELL']) t.notOk(isSecretName(name), name)
  const { kept, removed } = redactEnvironment({ PATH: '/bin', MY_TOKEN: 'x', HOME: '/root', PASSWORD: 'y' })
  t.same(kept, [['HOME', '/root'], ['PATH', '/bin']])
  t.equal(removed, 2)
})

t.test('server compatibility: same major, and the same minor while 0.x', async (t) => {
  t.ok(compatible('0.1.0', '0.1.3'))
  t.notOk(compatible('0.2.0', '0.1.0'))
  t.ok(compatible('1.4.0', '1.0.0'))
  t.notOk(compatible('2.0.0', '1.9.0'))
  t.notOk(compatible('nonsense', '0.1.0'))
})

t.test('the state file and the private key are 0600 in a 0700 folder', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'helpline-state-')), 'nested')
  const store = new StateStore(dir)
  store.save({ server: 'http://x', sessionId: 's', sessionNumber: '123-456-789', agentId: 'a', agentToken: 'hla_x', rejoinToken: 'hlr_y', cursor: 3, csrName: 'C', savedAt: '' })
  t.equal(statSync(store.statePath).mode & 0o777, 0o600)
  t.equal(statSync(dir).mode & 0o777, 0o700)
  t.equal(store.load()?.rejoinToken, 'hlr_y')
  const key = await store.publicKey()
  t.match(key, /BEGIN PUBLIC KEY/)
  t.equal(statSync(store.keyPath).mode & 0o777, 0o600)
  t.equal(await store.publicKey(), key, 'the key pair is made once')
  t.match(readFileSync(store.keyPath, 'utf8'), /BEGIN PRIVATE KEY/)
  store.clear()
  t.equal(store.load(), undefined)
})

t.test('terminal: y/n answers the open question, other lines are chat', async (t) => {
  const input = new PassThrough()
  const output = new PassThrough()
  let printed = ''
  output.on('data', (d: Buffer) => (printed += d.toString()))
  const terminal = new Terminal(input, output)
  const chat: string[] = []
  terminal.chat((line) => chat.push(line))
  input.write('hello before\n')
  const first = terminal.ask(['Question one?'], 'y or n please')
  const second = terminal.ask(['Question two?'], 'y or n please')
  input.write('maybe\n')
  input.write('y\n')
  t.equal(await first.answer, true)
  second.cancel()
  t.equal(await second.answer, undefined, 'a withdrawn question resolves empty')
  input.write('after\n')
  await new Promise((r) => setImmediate(r))
  t.same(chat, ['hello before', 'after'])
  t.match(printed, /Question one\?\ny or n please\nQuestion two\?/)
  terminal.close()
})

t.test('terminal: a lone y or n with no question open is not chat; the customer is told', async (t) => {
  const input = new PassThrough()
  const output = new PassThrough()
  let printed = ''
  output.on('data', (d: Buffer) => (printed += d.toString()))
  const hub = new UiHub(new Terminal(input, output), { answeredInWindow: () => '', nothingToAnswer: translator('en')('nothingToAnswer') })
  const chat: string[] = []
  hub.chat((line) => chat.push(line))
  for (const line of ['y', 'no', 'はい', 'yes please']) input.write(`${line}\n`)
  await new Promise((r) => setImmediate(r))
  t.same(chat, ['yes please'], 'only the sentence is sent')
  t.equal(printed.match(/There is no question to answer right now/g)?.length, 3)
  hub.close()
})

t.test('the agent runs as the account the operating system names, not $USER', async (t) => {
  t.equal(safeUser(() => ({ username: 'svc-helpline', uid: 0 })), 'svc-helpline (uid 0)')
  t.equal(safeUser(() => ({ username: 'alice', uid: -1 })), 'alice', 'Windows has no uid')
  t.match(safeUser(() => { throw new Error('no passwd entry') }), /^\(uid /)
})

t.test('system information goes out as keys and raw values, not English words', async (t) => {
  t.same(
    typedFields([
      ['system.uptime', 'Uptime', 1260.7, 'seconds'],
      ['system.localTime', 'Local time', new Date('2026-12-02T10:00:00Z'), 'date'],
      ['system.virtual', 'Virtual machine', true, 'boolean'],
      ['hardware.memoryTotal', 'Memory total', 8 * 1024 ** 3, 'bytes'],
      ['system.fqdn', 'FQDN', ''],
      ['system.os', 'OS', 'Debian GNU/Linux'],
    ]),
    [
      { label: 'Uptime', key: 'system.uptime', value: '1261', kind: 'seconds' },
      { label: 'Local time', key: 'system.localTime', value: '2026-12-02T10:00:00.000Z', kind: 'date' },
      { label: 'Virtual machine', key: 'system.virtual', value: 'true', kind: 'boolean' },
      { label: 'Memory total', key: 'hardware.memoryTotal', value: '8589934592', kind: 'bytes' },
      { label: 'OS', key: 'system.os', value: 'Debian GNU/Linux' },
    ],
    'empty values are left out',
  )
  t.equal(raw(12.345, 'percent'), '12.3')
  t.equal(raw(-1, 'bytes'), '', 'systeminformation’s -1 (unknown) is no value')
})

t.test('the system-info runner takes its collector as a field', async (t) => {
  const uploads: unknown[] = []
  const reports: unknown[] = []
  const runner = new SystemInfoRunner({
    collect: () => createSimulatedPlatform().collectSystemInfo(),
    upload: async (id, body) => void uploads.push({ id, body }),
    messages: { collecting: () => 'collecting', collected: (n) => `sent ${n}`, failed: (r) => `failed ${r}` },
  })
  const lines: string[] = []
  const context = { say: (l: string) => void lines.push(l), report: async (seq: number, r: unknown) => void reports.push([seq, r]) }
  await runner.run({ id: 'c1', kind: 'collect_system_info', consentId: null, payload: {}, createdAt: '' }, context)
  const body = (uploads[0] as { body: { categories: { id: string; available: boolean; reason?: string }[] } }).body
  t.same(body.categories.map((c) => c.id), CATEGORY_IDS, 'every category, in order')
  t.ok(body.categories.every((c) => c.available || c.reason), 'an unavailable category says why')
  t.same(lines, ['collecting', 'sent 9'])

  runner.collect = async () => {
    throw new Error('disk on fire')
  }
  await runner.run({ id: 'c2', kind: 'collect_system_info', consentId: null, payload: {}, createdAt: '' }, context)
  t.same(reports.at(-1), [1, { status: 'failed', message: 'disk on fire' }], 'a failure is reported, not uploaded')
})
