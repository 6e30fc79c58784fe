import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { fileURLToPath } from 'node:url'
import { terminalCommand } from '../../api/src/routes/v1/downloads.ts'
import { AgentDownloads } from '../../api/src/services/downloads.service.ts'
import { version } from '../../api/src/version.ts'

/**
 * The join page's offer by the customer's OS, in Chromium with a Windows and a Mac user agent:
 * Windows gets the .exe and the unsigned-app explanation, a Mac the .mjs with the Node.js
 * requirement and why there is no Mac app. Small stand-ins for the files keep it fast.
 */
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const UA = {
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  macos: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
}

const dir = mkdtempSync(join(tmpdir(), 'helpline-join-platforms-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const files: [string, 'windows' | 'linux' | 'any', Buffer][] = [
  ['helpline-agent-win-x64.exe', 'windows', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(4096, 2)])],
  ['helpline-agent-linux-x64', 'linux', Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(4096, 1)])],
  ['helpline-agent.mjs', 'any', Buffer.from('console.log(1)\n')],
]
const artifacts = files.map(([fileName, platform, content]) => {
  writeFileSync(join(dir, fileName), content)
  const node = platform === 'any'
  return { platform, arch: node ? 'any' : 'x64', kind: node ? 'node-script' : 'executable', fileName, size: content.length, sha256: sha256(content), version }
})
writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version, artifacts }))

const downloads = AgentDownloads.fromDir(dir, version)
const NUMBER = '123-456-789'
const SITE = 'http://join.test'
const joinInfo = {
  number: NUMBER,
  csrName: 'Ann',
  orgName: 'Acme Support',
  server: SITE,
  downloads: downloads.artifacts.map((a) => {
    const url = `${SITE}/api/v1/join/${NUMBER}/downloads/${a.fileName}`
    return { ...a, url, command: terminalCommand(a, url) }
  }),
  problem: downloads.problem ?? null,
  buildCommand: 'npm run build',
  checkedAt: new Date().toISOString(),
}
const page = (name: string) => readFileSync(fileURLToPath(new URL(`../../api/src/join-page/${name}`, import.meta.url)))
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] })
t.teardown(() => browser.close())

async function primaryFor(userAgent: string) {
  const context = await browser.newContext({ locale: 'en-US', userAgent })
  // The page and its data without a server: the join route's JSON is built as the route builds it.
  await context.route(`${SITE}/**`, (route) => {
    const path = new URL(route.request().url()).pathname
    if (path === `/join/${NUMBER}`) return route.fulfill({ contentType: 'text/html', body: page('index.html') })
    if (path === '/join/assets/join.js') return route.fulfill({ contentType: 'text/javascript', body: page('join.js') })
    if (path === '/join/assets/join.css') return route.fulfill({ contentType: 'text/css', body: page('join.css') })
    if (path === `/api/v1/join/${NUMBER}`) return route.fulfill({ contentType: 'application/json', body: JSON.stringify(joinInfo) })
    return route.fulfill({ status: 404, body: '' })
  })
  const tab = await context.newPage()
  await tab.goto(`${SITE}/join/${NUMBER}`)
  await tab.getByLabel('I agree').check()
  const primary = tab.locator('#primary')
  const link = primary.getByRole('link').first()
  await link.waitFor()
  const result = { link: await link.innerText(), href: await link.getAttribute('href'), card: await primary.innerText(), then: await tab.locator('#then').innerText(), command: (await tab.locator('#command').textContent()) ?? '' }
  await context.close()
  return result
}

t.test('a Windows browser is offered the Windows executable', async (t) => {
  const offer = await primaryFor(UA.windows)
  t.equal(offer.link, 'Download for Windows')
  t.match(offer.href, /\/helpline-agent-win-x64\.exe$/)
  t.match(offer.card, /helpline-agent-win-x64\.exe/)
  t.match(offer.then, /not signed yet.*More info.*Run anyway/)
  t.match(offer.command, /^powershell -NoProfile -Command "Invoke-WebRequest -Uri '.+' -OutFile helpline-agent-win-x64\.exe; \.\\helpline-agent-win-x64\.exe"$/)
  t.match(downloads.find('helpline-agent-win-x64.exe'), { platform: 'windows', arch: 'x64' }, 'what GET /api/v1/agent-downloads lists')
})

t.test('a Mac is offered the .mjs, with Node.js and why there is no Mac app said plainly', async (t) => {
  const offer = await primaryFor(UA.macos)
  t.match(offer.href, /\/helpline-agent\.mjs$/)
  t.match(offer.card, /Needs Node\.js 20 or later/)
  t.match(offer.then, /no Mac app yet .*not signed.*Node\.js 20 or later.*node helpline-agent\.mjs/)
})
