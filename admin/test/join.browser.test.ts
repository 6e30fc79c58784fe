import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { launch } from './helpers/browser.ts'

/**
 * The customer's join page in Chromium, in English and Japanese: the number checked, who helps and
 * what they may do, "I agree", then the download for this computer (a Linux one here) with the
 * sha256 of exactly the file served, the other platforms, and the line for a terminal.
 */
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

interface StartTestServer {
  (t: unknown, overrides: Record<string, unknown>): Promise<{ url: string; h: { admin: { client: { POST: Function } } } }>
}

// The agents as `npm run build` lists them; small stand-ins keep the test fast.
const dir = mkdtempSync(join(tmpdir(), 'helpline-join-page-'))
const files = { 'helpline-agent-linux-x64': Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(2 * 1048576, 1)]), 'helpline-agent.mjs': Buffer.from('console.log(1)\n') }
const { version } = (await import('../../api/src/version.ts' as string)) as { version: string }
writeFileSync(
  join(dir, 'manifest.json'),
  JSON.stringify({
    version,
    artifacts: Object.entries(files).map(([fileName, content]) => {
      writeFileSync(join(dir, fileName), content)
      const node = fileName.endsWith('.mjs')
      return { platform: node ? 'any' : 'linux', arch: node ? 'any' : 'x64', kind: node ? 'node-script' : 'executable', fileName, size: content.length, sha256: sha256(content), version }
    }),
  }),
)

const helper = '../../api/test/helpers/server.ts'
const { startTestServer } = (await import(helper)) as { startTestServer: StartTestServer }
const server = await startTestServer(t, { AGENT_DOWNLOADS_DIR: dir, ORG_NAME: 'Acme Support' })
const { data: session } = (await server.h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Jane Doe' } })) as { data: { number: string } }
const browser = await launch(t)

t.test('English: number, who helps, I agree, the Linux download and its sha256', async (t) => {
  const context = await browser.newContext({ locale: 'en-US', acceptDownloads: true })
  const page = await context.newPage()
  await page.goto(`${server.url}/join`)
  await page.getByLabel('Your session number').fill('12-34')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByText('A session number has nine digits').waitFor()
  t.pass('a malformed number gets the page’s own message')
  await page.getByLabel('Your session number').fill('000-000-001')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByText('This number does not match an open support session').waitFor()
  t.pass('a wrong number gets the neutral message')

  await page.getByLabel('Your session number').fill(session.number)
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByText(`Site admin from Acme Support will help you (session ${session.number}).`).waitFor()
  t.equal(new URL(page.url()).pathname, `/join/${session.number}`, 'the address becomes the session’s link')
  t.equal(await page.title(), 'Acme Support remote support')
  t.match(await page.locator('#can').innerText(), /system information[\s\S]*scripts[\s\S]*another user[\s\S]*Restart/, 'what the CSR may do, in plain words')
  t.match(await page.locator('#ask-each').innerText(), /each of these asks you first/)
  t.notOk(await page.locator('#downloads').isVisible(), 'no download before “I agree”')

  await page.getByLabel('I agree').check()
  const primary = page.locator('#primary')
  await primary.getByRole('link', { name: 'Download for Linux' }).waitFor()
  const { data: info } = (await (await fetch(`${server.url}/api/v1/join/${session.number}`)).json().then((data) => ({ data }))) as {
    data: { downloads: { fileName: string; sha256: string }[] }
  }
  const linux = info.downloads.find((d) => d.fileName === 'helpline-agent-linux-x64')!
  t.match(await primary.innerText(), new RegExp(`SHA-256: ${linux.sha256}`), 'the sha256 of the file served')
  t.match(await primary.innerText(), /2\.0 MB/, 'and its size')
  const [download] = await Promise.all([page.waitForEvent('download'), primary.getByRole('link', { name: 'Download for Linux' }).click()])
  const saved = join(mkdtempSync(join(tmpdir(), 'helpline-dl-')), 'agent')
  await download.saveAs(saved)
  const { readFileSync } = await import('node:fs')
  t.equal(sha256(readFileSync(saved)), linux.sha256, 'the downloaded file has exactly that sha256')
  t.equal(download.suggestedFilename(), 'helpline-agent-linux-x64')

  await page.locator('#others-box summary').click()
  t.match(await page.locator('#others').innerText(), /any computer with Node\.js — helpline-agent\.mjs[\s\S]*Needs Node\.js 20 or later/, 'the other platforms are listed')
  await page.locator('#terminal-box summary').click()
  t.match(await page.locator('#command').innerText(), new RegExp(`^curl -fLo helpline-agent-linux-x64 '${server.url}/api/v1/join/${session.number}/downloads/helpline-agent-linux-x64' && chmod \\+x`))
  await page.screenshot({ path: '/tmp/helpline-join-en.png', fullPage: true })
  await context.close()
})

t.test('Japanese by the browser’s language, and the switcher', async (t) => {
  const context = await browser.newContext({ locale: 'ja-JP' })
  const page = await context.newPage()
  await page.goto(`${server.url}/join/${session.number}`)
  await page.getByText(`Acme Support の Site admin がサポートします（セッション ${session.number}）。`).waitFor()
  t.equal(await page.locator('html').getAttribute('lang'), 'ja')
  t.match(await page.locator('#ask-each').innerText(), /お客様の許可なしには何も行われません/)
  await page.getByLabel('同意します').check()
  await page.getByRole('link', { name: 'Linux 用をダウンロード' }).waitFor()
  t.match(await page.locator('#primary').innerText(), /SHA-256: [0-9a-f]{64}/, 'the sha256, in Japanese too')
  await page.screenshot({ path: '/tmp/helpline-join-ja.png', fullPage: true })
  await page.getByRole('button', { name: 'English' }).click()
  await page.getByRole('link', { name: 'Download for Linux' }).waitFor()
  t.equal(await page.locator('html').getAttribute('lang'), 'en', 'the switcher changes the language at once')
  await context.close()
})
