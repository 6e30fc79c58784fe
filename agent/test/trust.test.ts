import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { versionDigestText, versionStatement } from '@helpline/sdk'
import { translator } from '../src/i18n/index.ts'
import { executeScript, writeRunFile } from '../src/runners/script-exec.ts'
import { ScriptsRunner, type PayloadScript, type RunsApi } from '../src/runners/scripts.ts'
import { describeProblem, verifyScripts, wordProblem } from '../src/runners/verify.ts'
import { RunJournal, type ApprovedScript, type SigningKey } from '../src/state.ts'
import { Terminal } from '../src/terminal.ts'

/**
 * The agent trusts nothing it is sent: it verifies what the customer is asked to approve with the
 * key it got at join, writes files only inside the run folder, and shows no control characters.
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

function signingKey(): { key: SigningKey; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return { key: { algorithm: 'ed25519', keyId: createHash('sha256').update(der).digest('hex').slice(0, 16), publicKey: der.toString('base64') }, privateKey }
}

const server = signingKey()

/** A script as the server lists it in a run_scripts consent, signed by `by`. */
function signed(name: string, content: string, by = server, extra: Partial<ApprovedScript> = {}): ApprovedScript {
  const files = [{ name: 'run.sh', role: 'executable', size: Buffer.byteLength(content), sha256: sha256(content) }]
  const digest = sha256(versionDigestText(files as { name: string; role: 'executable'; size: number; sha256: string }[]))
  const claim = { scriptId: '11111111-1111-4111-8111-111111111111', versionId: '22222222-2222-4222-8222-222222222222', number: 3, digest }
  return {
    position: 0,
    name,
    version: 3,
    files,
    args: [],
    timeoutSeconds: 60,
    scriptId: claim.scriptId,
    versionId: claim.versionId,
    digest,
    signature: sign(null, Buffer.from(versionStatement(claim)), by.privateKey).toString('base64'),
    signatureKeyId: by.key.keyId,
    ...extra,
  }
}

t.test('signature verification: only what the server signed, as listed, with the key from join', async (t) => {
  const good = signed('Disk check', '#!/bin/sh\necho ok\n')
  t.equal(verifyScripts([good], server.key), undefined, 'a signed version whose listed files give its digest')

  const tamperedDigest = { ...good, digest: sha256('something else') }
  t.match(verifyScripts([tamperedDigest], server.key), { code: 'digest_mismatch', script: 'Disk check', version: 3 }, 'a digest that the files do not give')

  const evil = '#!/bin/sh\nrm -rf /\n'
  const tamperedFiles = { ...good, files: [{ name: 'run.sh', role: 'executable', size: evil.length, sha256: sha256(evil) }] }
  t.match(verifyScripts([tamperedFiles], server.key), { code: 'digest_mismatch' }, 'a file list changed under the digest')
  const files = tamperedFiles.files as { name: string; role: 'executable'; size: number; sha256: string }[]
  const matching = { ...tamperedFiles, digest: sha256(versionDigestText(files)) }
  t.match(verifyScripts([matching], server.key), { code: 'bad_signature', version: 3 }, 'files and digest changed together: the signature still tells')

  t.match(verifyScripts([{ ...good, signatureKeyId: 'ffffffffffffffff' }], server.key), { code: 'unknown_key', keyId: 'ffffffffffffffff', known: server.key.keyId }, 'a key id the agent does not know')
  const forger = signingKey()
  const forged = signed('Disk check', '#!/bin/sh\necho ok\n', forger, { signatureKeyId: server.key.keyId })
  t.match(verifyScripts([forged], server.key), { code: 'bad_signature' }, 'a signature by another key, claiming the server’s id')
  t.match(verifyScripts([{ ...good, versionId: '33333333-3333-4333-8333-333333333333' }], server.key), { code: 'bad_signature' }, 'a signature moved to another version')
  t.match(verifyScripts([{ ...good, version: 4 }], server.key), { code: 'bad_signature' }, 'or another version number')
  t.match(verifyScripts([{ ...good, signature: 'not base64 at all!' }], server.key), { code: 'bad_signature' }, 'garbage is not a signature')
  t.match(verifyScripts([good, tamperedDigest], server.key), { code: 'digest_mismatch' }, 'one bad script refuses the whole list')

  t.match(verifyScripts([good], undefined), { code: 'no_signing_key' }, 'no key from join: nothing runs')
  const { signature: _s, ...unsigned } = good
  t.match(verifyScripts([unsigned], server.key), { code: 'incomplete', field: 'signature' }, 'an approval without a signature (an older agent’s journal)')
  t.match(verifyScripts([good], { ...server.key, keyId: forger.key.keyId }), { code: 'bad_key' }, 'a key whose id is not its own')
  t.match(verifyScripts([good], { ...server.key, publicKey: forger.key.publicKey }), { code: 'bad_key' }, 'the id of one key with another key')
})

t.test('file names are checked before anything else, and named escaped', async (t) => {
  const good = signed('Disk check', '#!/bin/sh\necho ok\n')
  const escape = { ...good, files: [...good.files, { name: '../../../../tmp/x\u001b[2K', role: 'input', size: 1, sha256: sha256('x') }] }
  const problem = verifyScripts([escape], server.key)
  t.match(problem, { code: 'bad_file_name', file: '../../../../tmp/x\u001b[2K', rule: 'separator' }, 'before the digest is even looked at')
  t.equal(describeProblem(problem!), '"Disk check": file name "../../../../tmp/x\\u001b[2K" must be a plain file name, without / or \\', 'for the CSR: the name with its escape written out')
  t.match(wordProblem(problem!, translator('ja')), /「Disk check」に、このコンピューターでは使えないファイル名があります: "\.\.\/\.\.\/\.\.\/\.\.\/tmp\/x\\u001b\[2K"/, 'for the customer, in their language')
  for (const name of ['CON', 'nul.txt', 'x\u202egnp.sh', 'run.sh.', '..']) {
    t.match(verifyScripts([{ ...good, files: [{ ...good.files[0]!, name }] }], server.key), { code: 'bad_file_name' }, `${JSON.stringify(name)} refused`)
  }
})

/** A runner with a fake server: records what it was asked for. */
function runnerWith(approval: ApprovedScript[], key: SigningKey | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'helpline-trust-'))
  const journal = new RunJournal(dir)
  journal.approve('consent-1', approval)
  const calls: string[] = []
  const finished: { runId: string; status: string; error?: string }[] = []
  const api: RunsApi = {
    download: async (runId, name) => {
      calls.push(`download ${name}`)
      return new TextEncoder().encode('#!/bin/sh\necho ok\n')
    },
    start: async () => {
      calls.push('start')
      return 'started'
    },
    output: async () => ({ kind: 'stored', status: 'running' }),
    finish: async (runId, body) => {
      finished.push({ runId, status: body.status, ...(body.error ? { error: body.error } : {}) })
      return 'done'
    },
  }
  const said: string[] = []
  const executed: string[][] = []
  const runner = new ScriptsRunner({
    api,
    journal,
    signingKey: () => key,
    spillDir: tmpdir(),
    signalFor: () => new AbortController().signal,
    messages: { starting: (n) => `starting ${n}`, finished: (n, s) => `${n} ${s}`, refused: (r) => `refused: ${r}`, unverified: (p) => `unverified: ${p.code}` },
    execute: async (options) => {
      executed.push(options.files.map((f) => f.name))
      return { status: 'succeeded', exitCode: 0, signal: null, durationMs: 1, error: null, outputBytes: 0, droppedBytes: 0, truncated: false, dir: '' }
    },
  })
  const payload = (scripts: ApprovedScript[]): PayloadScript[] =>
    scripts.map((s, i) => ({ runId: `run-${i}`, position: s.position, name: s.name, version: s.version, executable: 'run.sh', files: s.files, args: s.args, timeoutSeconds: s.timeoutSeconds ?? 60 }))
  const run = (scripts = approval) =>
    runner.run(
      { id: 'command-1', kind: 'run_scripts', consentId: 'consent-1', payload: { batchId: 'b', stopOnFailure: false, scripts: payload(scripts) }, createdAt: '' },
      { say: (line) => void said.push(line), report: async () => undefined },
    )
  return { run, calls, finished, said, executed }
}

t.test('the runner checks the journaled approval again: a bad name or no key runs nothing and downloads nothing', async (t) => {
  const good = signed('Disk check', '#!/bin/sh\necho ok\n')
  const ok = runnerWith([good], server.key)
  await ok.run()
  t.same(ok.executed, [['run.sh']], 'a verified approval runs')

  const bad = { ...good, files: [{ ...good.files[0]!, name: '../../../../tmp/helpline-escape' }] }
  const refused = runnerWith([bad], server.key)
  await refused.run()
  t.same(refused.calls, [], 'nothing was downloaded or started')
  t.same(refused.executed, [], 'nothing ran')
  t.match(refused.finished, [{ runId: 'run-0', status: 'failed', error: /file name "\.\.\/\.\.\/\.\.\/\.\.\/tmp\/helpline-escape" must be a plain file name/ }], 'the run failed, naming the file')
  t.same(refused.said, ['unverified: bad_file_name'], 'the customer is told')

  const keyless = runnerWith([good], undefined)
  await keyless.run()
  t.same(keyless.executed, [], 'an agent without the server’s key runs nothing')
  t.match(keyless.finished, [{ status: 'failed', error: /no signing key/ }])

  const other = runnerWith([good], signingKey().key)
  await other.run()
  t.same(other.executed, [], 'nor one whose key did not sign it')

  const longer = runnerWith([good], server.key)
  await longer.run([{ ...good, timeoutSeconds: 3600 }])
  t.same(longer.executed, [], 'a command with another timeout than the approved one runs nothing')
})

t.test('files are written only inside the run folder, new, never through a link', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'helpline-write-'))
  const outside = join(tmpdir(), `helpline-outside-${process.pid}-${Date.now()}`)
  await t.rejects(writeRunFile(dir, `../${outside.split('/').pop()}`, new Uint8Array([1]), 0o600), /must be a plain file name/)
  await t.rejects(writeRunFile(dir, '..', new Uint8Array([1]), 0o600), /must not be \. or contain \.\./)
  await t.rejects(writeRunFile(dir, 'a\u0000b', new Uint8Array([1]), 0o600), /control characters/)
  t.notOk(existsSync(outside), 'nothing was written outside')

  const target = join(mkdtempSync(join(tmpdir(), 'helpline-target-')), 'victim')
  writeFileSync(target, 'original')
  symlinkSync(target, join(dir, 'planted.sh'))
  await t.rejects(writeRunFile(dir, 'planted.sh', new TextEncoder().encode('evil'), 0o700), { code: 'EEXIST' }, 'a symlink planted under the name is not followed')
  t.equal(readFileSync(target, 'utf8'), 'original', 'its target is untouched')
  t.ok(lstatSync(join(dir, 'planted.sh')).isSymbolicLink())
  writeFileSync(join(dir, 'exists.txt'), 'before')
  await t.rejects(writeRunFile(dir, 'exists.txt', new Uint8Array([1]), 0o600), { code: 'EEXIST' }, 'an existing file is not overwritten')

  const previous = process.umask(0o277)
  try {
    await writeRunFile(dir, 'run.sh', new TextEncoder().encode('#!/bin/sh\n'), 0o700)
    await writeRunFile(dir, 'data.txt', new TextEncoder().encode('x'), 0o600)
  } finally {
    process.umask(previous)
  }
  t.equal(statSync(join(dir, 'run.sh')).mode & 0o777, 0o700, 'the executable 0700 whatever the umask')
  t.equal(statSync(join(dir, 'data.txt')).mode & 0o777, 0o600, 'an input 0600')

  const root = mkdtempSync(join(tmpdir(), 'helpline-exec-'))
  const result = await executeScript({
    files: [
      { name: 'run.sh', content: new TextEncoder().encode('#!/bin/sh\necho ran\n'), executable: true },
      { name: '../escaped.txt', content: new Uint8Array([1]), executable: false },
    ],
    args: [],
    timeoutMs: 10_000,
    onOutput: () => undefined,
    tmpRoot: root,
  })
  t.equal(result.status, 'failed', 'executeScript refuses a path among its files')
  t.match(result.error, /Could not write the script's files: file name "\.\.\/escaped\.txt"/)
  t.same(readdirSync(root), [], 'and leaves nothing, in its folder or next to it')
})

t.test('the terminal shows no control or bidi character, in lines and in prompts', async (t) => {
  const input = new PassThrough()
  const output = new PassThrough()
  const bytes: Buffer[] = []
  output.on('data', (d: Buffer) => bytes.push(d))
  const terminal = new Terminal(input, output)
  terminal.say('[Carla\u001b]0;owned\u0007] hi \u001b[31mred\u001b[0m \u202egnp.exe')
  const prompt = terminal.ask(['1. “\u001b[2K\rApprove? (this is safe)”', 'Allow? Type y (yes) or n (no) and press Enter:'], 'again\u009b2J')
  input.write('what\n')
  input.write('n\n')
  t.equal(await prompt.answer, false)
  const printed = Buffer.concat(bytes).toString('utf8')
  t.equal(
    printed,
    '[Carla]0;owned] hi [31mred[0m gnp.exe\n1. “[2KApprove? (this is safe)”\nAllow? Type y (yes) or n (no) and press Enter:\nagain2J\n',
    'only printable text and newlines reach the output',
  )
  terminal.close()
})

t.test('nothing in the agent writes to stdout or stderr except through the sanitiser', async (t) => {
  const src = fileURLToPath(new URL('../src/', import.meta.url))
  const offenders: string[] = []
  for (const file of readdirSync(src, { recursive: true }).map(String)) {
    // terminal.ts holds the sanitiser; the system-information child writes JSON to the agent, not to the customer.
    if (!file.endsWith('.ts') || file === 'terminal.ts' || file === join('sysinfo', 'cli.ts')) continue
    const text = readFileSync(join(src, file), 'utf8')
    if (/console\.(log|error|warn|info|debug)\(|process\.(stdout|stderr)\.write/.test(text)) offenders.push(file)
  }
  t.same(offenders, [], 'every line goes through Terminal.say or print()')
})
