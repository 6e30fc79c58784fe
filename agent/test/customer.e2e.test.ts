import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { desktopExecWords } from '../src/service.ts'
import { at, newSession, startProgram, until, type Running } from './helpers/process.ts'

/**
 * The customer's path, with the files `npm run build` makes: the join page's downloads (the
 * linux-x64 single executable and the bundled .mjs), each run from a temporary folder with no
 * node_modules in reach and no arguments. The customer window (Chromium on the agent's local page)
 * confirms the server, answers a consent, chats both ways and leaves; a simulated restart with the
 * desktop autostart entry brings the agent back with "You are back in your support session".
 */
const downloads = fileURLToPath(new URL('../dist/downloads', import.meta.url))
if (!existsSync(join(downloads, 'manifest.json'))) {
  execFileSync('npm', ['run', 'build', '-w', 'agent'], { cwd: fileURLToPath(new URL('../../', import.meta.url)), stdio: 'pipe' })
}
const manifest = JSON.parse(readFileSync(join(downloads, 'manifest.json'), 'utf8')) as { artifacts: { fileName: string; platform: string }[] }
const hasExecutable = manifest.artifacts.some((a) => a.fileName === 'helpline-agent-linux-x64')

const server = await startTestServer(t, { AGENT_DOWNLOADS_DIR: downloads, ORG_NAME: 'Acme Support' })
const { h } = server
const api = h.admin.client
const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
})
t.teardown(() => browser.close())

/** What a customer's download is: the ticketed file from the join page's list, saved to a folder of its own. */
async function download(number: string, fileName: string): Promise<{ dir: string; path: string }> {
  const info = (await (await fetch(`${server.url}/api/v1/join/${number}`)).json()) as { downloads: { fileName: string; url: string; sha256: string }[] }
  const entry = info.downloads.find((d) => d.fileName === fileName)!
  const bytes = Buffer.from(await (await fetch(entry.url)).arrayBuffer())
  if (createHash('sha256').update(bytes).digest('hex') !== entry.sha256) throw new Error('the download does not match its listed sha256')
  const dir = mkdtempSync(join(tmpdir(), 'helpline-customer-'))
  const path = join(dir, fileName)
  writeFileSync(path, bytes)
  chmodSync(path, 0o755)
  return { dir, path }
}

/** A customer's computer: a home of its own, a desktop, no browser to open (the test is the browser). */
function customerEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, DISPLAY: ':99', HELPLINE_BROWSER: 'none', LANG: 'en_US.UTF-8', ...extra }
}

async function windowOf(agent: Running): Promise<Page> {
  await agent.waitFor(/Support window: (http:\/\/127\.0\.0\.1:\d+\/s\/\S+\/)/)
  const url = /Support window: (http:\/\/127\.0\.0\.1:\d+\/s\/\S+\/)/.exec(agent.output())!.at(-1)!
  const page = await browser.newPage()
  page.on('dialog', (dialog) => void dialog.accept())
  await page.goto(url)
  return page
}

const lastUrl = (agent: Running) => [...agent.output().matchAll(/Support window: (http:\/\/127\.0\.0\.1:\d+\/s\/\S+\/)/g)].at(-1)![1]!

t.test('the linux-x64 executable: confirm the server, allow system information, chat both ways, leave', { skip: hasExecutable ? false : 'no linux-x64 executable built on this machine' }, async (t) => {
  const session = await newSession(api, 'Jane Doe')
  const { dir, path } = await download(session.number, 'helpline-agent-linux-x64')
  const agent = startProgram(t, path, [], customerEnv(mkdtempSync(join(tmpdir(), 'helpline-home-'))), dir)
  const page = await windowOf(agent)

  await page.locator('#confirm').waitFor()
  t.equal(await page.locator('#confirm-server').innerText(), server.url, 'the customer sees the server’s address before anything is sent')
  t.match(await page.locator('#confirm-text').innerText(), new RegExp(`session ${session.number} with Site admin \\(Acme Support\\)`))
  t.equal((await api.GET('/api/v1/sessions/{id}', at(session.id))).data!.status, 'waiting', 'not joined before the customer says so')
  await page.getByRole('button', { name: 'Join' }).click()
  await page.locator('#phase.joined').waitFor()
  t.match(await page.locator('#who').innerText(), /Site admin is helping you/)
  await until('the agent online', async () => (await api.GET('/api/v1/sessions/{id}', at(session.id))).data!, (s) => s.agent?.status === 'online')

  await api.POST('/api/v1/sessions/{id}/system-info/refresh', at(session.id))
  const consent = page.locator('article.consent[data-state="pending"]')
  await consent.waitFor()
  t.match(await consent.innerText(), /View this computer’s system information[\s\S]*What it does/, 'the request with what the terminal shows')
  await consent.getByRole('button', { name: 'Allow' }).click()
  await page.locator('article.consent[data-state="approved"]').waitFor()
  const snapshots = await until('a snapshot', async () => (await api.GET('/api/v1/sessions/{id}/snapshots', at(session.id))).data!, (s) => s.total > 0, 90_000)
  t.equal(snapshots.total, 1, 'the real computer’s system information arrived')
  t.match(agent.output(), /Answered in the support window: allowed/, 'the terminal shows it was answered in the window')

  await api.POST('/api/v1/sessions/{id}/chat', { ...at(session.id), body: { body: 'Hello from support' } })
  await page.locator('#messages li.csr', { hasText: 'Hello from support' }).waitFor()
  await page.locator('#chat-input').fill('Hi, thanks!')
  await page.getByRole('button', { name: 'Send' }).click()
  await until('the customer’s message', async () => (await api.GET('/api/v1/sessions/{id}/chat', at(session.id))).data!.data, (m) => m.some((x) => x.sender === 'customer' && x.body === 'Hi, thanks!'))
  t.pass('chat both ways')
  await page.screenshot({ path: '/tmp/helpline-customer-window.png', fullPage: true })

  await page.getByRole('button', { name: 'Leave session' }).click()
  t.equal(await agent.exited, 0, 'Leave session ends the agent')
  await until('the agent left', async () => (await api.GET('/api/v1/sessions/{id}', at(session.id))).data!, (s) => s.agent?.status === 'left')
  await page.close()
})

t.test('the bundled .mjs: a restart with the desktop autostart entry brings the window back', async (t) => {
  const session = await newSession(api, 'Kim Lee')
  const { dir, path } = await download(session.number, 'helpline-agent.mjs')
  const home = mkdtempSync(join(tmpdir(), 'helpline-home-'))
  const env = customerEnv(home, { HELPLINE_AGENT_PLATFORM: 'simulated' })
  const autostart = join(home, '.config', 'autostart')
  execFileSync(process.execPath, [path, 'install-service', '--autostart-dir', autostart, '--platform', 'simulated'], { env, cwd: dir })
  const entry = readFileSync(join(autostart, 'helpline-agent.desktop'), 'utf8')
  const exec = desktopExecWords(/^Exec=(.*)$/m.exec(entry)![1]!)
  t.same(exec.slice(0, 2), [process.execPath, path], 'the entry starts this very file with Node')
  t.match(exec.join(' '), /rejoin --if-saved --ui browser --state-dir \S+ --platform simulated$/)

  const agent = startProgram(t, process.execPath, [path], env, dir)
  const page = await windowOf(agent)
  await page.getByRole('button', { name: 'Join' }).click()
  await page.locator('#phase.joined').waitFor()
  const { data: asked } = await api.POST('/api/v1/sessions/{id}/reboot', at(session.id))
  const consent = page.locator(`article.consent[data-consent-id="${asked!.consent!.id}"]`)
  await consent.waitFor()
  t.match(await consent.innerText(), /Restart this computer[\s\S]*Save your work/, 'the restart warning')
  await consent.getByRole('button', { name: 'Allow' }).click()
  t.equal(await agent.exited, 10, 'the (simulated) computer restarts: the agent exits 10')
  t.match(agent.output(), /starts again by itself after the restart \(the desktop autostart entry/, 'it said it comes back, and how')
  await page.close()

  // The customer logs in again: the desktop runs the autostart entry.
  const back = startProgram(t, exec[0]!, exec.slice(1), env, home)
  const again = await browser.newPage()
  await back.waitFor(/Support window:/)
  await again.goto(lastUrl(back))
  await again.locator('#notice', { hasText: 'You are back in your support session with Site admin.' }).waitFor()
  t.pass('the window opens with “You are back in your support session with Site admin.”')
  await until('rejoined', async () => (await api.GET('/api/v1/sessions/{id}', at(session.id))).data!, (s) => s.agent?.status === 'online' && !s.agent.rebooting)
  await again.screenshot({ path: '/tmp/helpline-customer-back.png', fullPage: true })
  await api.POST('/api/v1/sessions/{id}/end', at(session.id))
  t.equal(await back.exited, 0, 'the session ends: the agent ends')

  const nothing = startProgram(t, exec[0]!, exec.slice(1), env, home)
  t.equal(await nothing.exited, 0, 'at the next login, with nothing saved, the entry does nothing')
  t.notMatch(nothing.output(), /Support window/)
})

t.test('no window and no terminal: the CSR is told nobody can answer', async (t) => {
  const session = await newSession(api, 'Service Host')
  const { dir, path } = await download(session.number, 'helpline-agent.mjs')
  const home = mkdtempSync(join(tmpdir(), 'helpline-home-'))
  const env = { PATH: '/usr/bin:/bin', HOME: home, LANG: 'en_US.UTF-8', HELPLINE_AGENT_PLATFORM: 'simulated' }
  // Joined in a terminal first, then restarted as a service: stdin is /dev/null, no display.
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [path, 'join', session.number, '--server', server.url, '--ui', 'terminal'], { env, cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] })
  t.teardown(() => void child.kill('SIGKILL'))
  await until('the note in the chat', async () => (await api.GET('/api/v1/sessions/{id}/chat', at(session.id))).data!.data, (m) => m.some((x) => /Nobody can answer your requests on this computer/.test(x.body)))
  t.pass('the CSR reads why requests will wait')
  child.kill('SIGTERM')
})
