/**
 * A support session end to end in a real browser, with the real agent as a child process: a CSR
 * creates the session in the console, the agent joins with `--approve all`, the CSR reads the
 * system information (categories, Refresh, Save, Print), chats both ways and ends the session.
 *
 * Starts its own server (PGlite) with the console built from the current sources: admin/dist is
 * rebuilt first when any console source is newer than it.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { AgentProcess } from './helpers/agent.ts'
import { ensureConsoleBuilt } from './helpers/browser.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const CATEGORIES = ['system', 'hardware', 'storage', 'network', 'software', 'processes', 'services', 'users', 'environment'] as const

interface Server {
  url: string
  adminEmail: string
  adminPassword: string
}
type StartTestServer = (t: Test) => Promise<Server>

async function startServer(t: Test): Promise<Server> {
  ensureConsoleBuilt()
  // A variable specifier keeps the API's test helpers out of the console's type-check.
  const helper = '../../api/test/helpers/server.ts'
  const { startTestServer } = (await import(helper)) as { startTestServer: StartTestServer }
  const server = await startTestServer(t)
  return { ...server, url: server.url.replace(/\/+$/, '') }
}

async function api<T>(url: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

async function signIn(page: Page, url: string, email: string, password: string) {
  await page.goto(`${url}/#/login`)
  await page.locator('input[name="email"]').fill(email)
  await page.locator('input[name="password"]').fill(password)
  await page.locator('button[type="submit"]').click()
  await page.getByRole('menuitem', { name: 'Sessions' }).waitFor()
}

// A browser, a server and an agent collecting system information twice take a while.
t.setTimeout(300_000)

t.test('a support session in the console, with a real agent', async (t) => {
  const server = await startServer(t)
  const suffix = Date.now().toString(36)
  const admin = await api<{ token: string }>(server.url, '/api/v1/auth/login', {
    method: 'POST',
    body: { email: server.adminEmail, password: server.adminPassword },
  })
  const csr = { email: `csr-${suffix}@example.com`, name: `Casey ${suffix}`, password: `csr-password-${suffix}` }
  await api(server.url, '/api/v1/users', { method: 'POST', token: admin.token, body: { ...csr, role: 'csr' } })

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'],
  })
  t.teardown(() => browser.close())
  const context: BrowserContext = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 }, acceptDownloads: true })
  // Every page of the context, the print view's window included: record print() instead of opening a dialog.
  await context.addInitScript(() => {
    const w = window as unknown as { __printCalls: number }
    w.__printCalls = 0
    window.print = () => {
      w.__printCalls++
    }
  })
  const page = await context.newPage()
  page.setDefaultTimeout(20_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  const stateDir = mkdtempSync(join(tmpdir(), 'helpline-agent-'))
  let agent: AgentProcess | undefined
  t.teardown(async () => {
    await agent?.stop()
    rmSync(stateDir, { recursive: true, force: true })
  })

  // Each step builds on the one before: after a failure the rest would only time out, one by one.
  let broken = false
  const step = (name: string, fn: (t: Test) => Promise<void>) =>
    t.test(name, async (t) => {
      if (broken) return void t.pass('skipped: an earlier step failed')
      try {
        await fn(t)
      } catch (error) {
        broken = true
        throw error
      }
      if (!t.passing()) broken = true
    })

  const customer = 'Jane Doe'
  let number = ''
  let sessionId = ''

  await step('the CSR creates a session and gets the number and the agent command', async (t) => {
    await signIn(page, server.url, csr.email, csr.password)
    await page.getByRole('link', { name: 'New session' }).click()
    await page.locator('input[name="customerName"]').fill(customer)
    await page.locator('input[name="customerEmail"]').fill('jane@example.com')
    await page.locator('textarea[name="description"]').fill('Printer does not print')
    await page.getByRole('button', { name: 'Save' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('Session created').waitFor()
    number = (await dialog.getByTestId('session-number').innerText()).trim()
    t.match(number, /^\d{3}-\d{3}-\d{3}$/, 'the number is shown as 123-456-789')
    t.equal((await dialog.getByTestId('join-link').innerText()).trim(), `${server.url}/join/${number}`, 'the join link to send the customer')
    const mailto = await dialog.getByTestId('join-mailto').getAttribute('href')
    t.match(mailto, /^mailto:jane@example\.com\?subject=[^&]*&body=/, 'an email to the customer')
    t.ok(decodeURIComponent(mailto!).includes(`${server.url}/join/${number}`), 'with the link in it')
    t.ok(await dialog.getByRole('button', { name: 'Copy the link' }).isVisible(), 'the link can be copied')
    t.equal(
      (await dialog.getByTestId('agent-command').innerText()).trim(),
      `curl -fLo helpline-agent.mjs '${server.url}/api/v1/join/${number}/downloads/helpline-agent.mjs' && node helpline-agent.mjs`,
      'the one line for a customer who prefers a terminal',
    )
    t.ok(await dialog.getByRole('button', { name: 'Copy the number' }).isVisible(), 'the number can be copied')
    await page.screenshot({ path: '/tmp/helpline-session-created.png' })
    await dialog.getByRole('button', { name: 'Open the session' }).click()
    await page.waitForURL(/#\/sessions\/[0-9a-f-]+\/show$/)
    sessionId = /#\/sessions\/([0-9a-f-]+)\/show$/.exec(page.url())![1]!
    const header = page.getByTestId('session-header')
    await header.getByText('Waiting for the customer').waitFor()
    t.ok(await header.locator('[data-agent-status="none"]').isVisible(), 'no agent yet')
    t.equal((await header.getByTestId('header-number').innerText()).trim(), number, 'the header shows the number')
    await page.locator('[data-stream="open"]').waitFor()
    t.pass('the live stream is open')
  })

  await step('the agent joins and the page follows live', async (t) => {
    // A secret-looking variable the agent must leave out of the Environment category.
    agent = new AgentProcess(number, server.url, stateDir, { HELPLINE_BROWSER_TEST_TOKEN: 'must-not-leave-the-computer' })
    await agent.waitFor(`You joined support session ${number}`)
    const header = page.getByTestId('session-header')
    await header.locator('[data-agent-status="online"]').waitFor()
    await header.getByText('Active', { exact: true }).waitFor()
    t.match(await header.locator('[data-agent-status="online"]').innerText(), /Agent online · .+/, 'online, with the platform')
    await page.getByTestId('chat').getByText(`${customer} joined`).waitFor()
    t.pass('the join is a system line in the chat')
  })

  let firstTitles: string[] = []

  await step('System information: Refresh asks consent, then every category can be read', async (t) => {
    const panel = page.getByTestId('system-info')
    await panel.getByTestId('no-snapshots').waitFor()
    await panel.getByRole('button', { name: 'Refresh' }).click()
    // The agent approves at once (--approve all): the request is listed as approved.
    await page.getByTestId('consents').locator('[data-consent="view_system_info"] [data-consent-status="approved"]').waitFor()
    await panel.locator('[data-activity="collected"]').waitFor({ timeout: 60_000 })
    t.match(await panel.locator('[data-activity="collected"]').innerText(), /allowed viewing the system information/, 'the approval is stated')
    const list = panel.getByTestId('category-list')
    await list.locator('[data-category-id]').first().waitFor()
    const ids = await list.locator('[data-category-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-category-id')))
    t.same(ids, [...CATEGORIES], 'every category is listed, in order')

    const view = panel.getByTestId('category-view')
    await view.locator('[data-category="system"]').waitFor()
    t.ok(await list.locator('[data-category-id="system"][aria-current="true"]').isVisible(), 'System is chosen first')
    for (const id of ['hardware', 'network', 'processes', 'environment', 'system'] as const) {
      await list.locator(`[data-category-id="${id}"]`).click()
      await view.locator(`[data-category="${id}"]`).waitFor()
      t.equal(await view.locator('[data-category]').count(), 1, `only ${id} is on the right`)
    }
    await list.locator('[data-category-id="environment"]').click()
    await view.locator('[data-category="environment"]').waitFor()
    t.notMatch(await view.innerText(), /must-not-leave-the-computer/, 'a TOKEN variable is not shown')
    await list.locator('[data-category-id="hardware"]').click()
    await view.locator('[data-category="hardware"]').waitFor()
    await page.screenshot({ path: '/tmp/helpline-session-sysinfo.png', fullPage: true })

    const snapshots = await api<{ data: { id: string }[] }>(server.url, `/api/v1/sessions/${sessionId}/snapshots`, { token: admin.token })
    const first = await api<{ categories: { title: string }[] }>(server.url, `/api/v1/sessions/${sessionId}/snapshots/${snapshots.data[0]!.id}`, {
      token: admin.token,
    })
    firstTitles = first.categories.map((c) => c.title)
    t.equal(firstTitles.length, CATEGORIES.length, 'the snapshot has every category')
  })

  await step('Refresh again: no second consent, a new snapshot, the older one stays listed', async (t) => {
    const panel = page.getByTestId('system-info')
    await panel.getByRole('button', { name: 'Refresh' }).click()
    await panel.locator('[data-activity="collected"]').waitFor({ state: 'detached' })
    await panel.locator('[data-activity="collected"]').waitFor({ timeout: 60_000 })
    t.equal(await page.getByTestId('consents').locator('[data-consent]').count(), 1, 'the customer was not asked again')
    await panel.getByTestId('snapshot-picker').click()
    const options = page.getByRole('listbox').getByRole('option')
    await options.nth(1).waitFor()
    t.equal(await options.count(), 2, 'both snapshots are offered')
    t.match(await options.nth(0).innerText(), /\(latest\)/, 'the newest first, marked latest')
    t.ok(await options.nth(0).getAttribute('aria-selected'), 'and chosen')
    // Pick the older one, then back to the newest: the view follows the picker.
    await options.nth(1).click()
    await panel.getByTestId('category-view').locator('[data-category]').waitFor()
    await panel.getByTestId('snapshot-picker').click()
    await page.getByRole('listbox').getByRole('option').nth(0).click()
    await panel.getByTestId('category-view').locator('[data-category]').waitFor()
  })

  await step('Save downloads the .txt with every category', async (t) => {
    const panel = page.getByTestId('system-info')
    const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name: 'Save' }).click()])
    t.match(download.suggestedFilename(), new RegExp(`^system-info-Jane-Doe-${number}-\\d{4}-\\d{2}-\\d{2}_\\d{4}\\.txt$`), 'named after the customer and the time')
    const path = await download.path()
    const text = readFileSync(path, 'utf8')
    t.match(text, 'Helpline: system information', 'the API’s text export')
    t.match(text, number, 'for this session')
    for (const title of firstTitles) t.match(text, `# ${title.toUpperCase()}`, `has the ${title} heading`)
    await page.getByText(/^Saved system-info-/).waitFor()
  })

  await step('Print opens a print view with every category and calls print()', async (t) => {
    const panel = page.getByTestId('system-info')
    const [popup] = await Promise.all([context.waitForEvent('page'), panel.getByRole('button', { name: 'Print' }).click()])
    popup.setDefaultTimeout(20_000)
    popup.on('pageerror', (error) => pageErrors.push(`print view: ${error.message}`))
    await popup.getByTestId('print-view').waitFor()
    for (const id of CATEGORIES) {
      await popup.locator(`[data-category="${id}"]`).waitFor()
    }
    const headings = await popup.locator('[data-category] h2').allInnerTexts()
    t.same(headings, ['System', 'Hardware', 'Storage', 'Network', 'Software', 'Processes', 'Services', 'Users', 'Environment'], 'every category under its heading')
    t.match(await popup.getByTestId('print-view').innerText(), new RegExp(`${customer}[\\s\\S]*${number}`), 'with the customer and the number')
    await popup.waitForFunction(() => (window as unknown as { __printCalls: number }).__printCalls > 0)
    t.pass("the browser's print was called")
    t.equal(await popup.evaluate(() => (window as unknown as { __printCalls: number }).__printCalls), 1, 'once')
    await popup.emulateMedia({ media: 'print' })
    t.ok(await popup.getByRole('button', { name: 'Print' }).isHidden(), 'buttons are not printed')
    await popup.screenshot({ path: '/tmp/helpline-print-view.png' })
    await popup.close()
  })

  await step('chat: one message each way', async (t) => {
    const chat = page.getByTestId('chat')
    await chat.getByTestId('chat-input').fill('Hello Jane, I can see your computer now.')
    await chat.getByTestId('chat-input').press('Enter')
    await chat.locator('[data-sender="csr"]').filter({ hasText: 'Hello Jane, I can see your computer now.' }).waitFor()
    await agent!.waitFor(`[${csr.name}] Hello Jane, I can see your computer now.`)
    t.pass('the customer sees the CSR’s message in the agent')
    agent!.type('Thank you, the printer is the one upstairs.')
    await chat.locator('[data-sender="customer"]').filter({ hasText: 'Thank you, the printer is the one upstairs.' }).waitFor()
    t.pass('the CSR sees the customer’s message live')
    t.equal(await chat.getByTestId('chat-input').inputValue(), '', 'the send box is cleared')
  })

  await step('the session page speaks Japanese too', async (t) => {
    await page.locator('header button[aria-haspopup="true"]', { hasText: 'English' }).click()
    await page.getByRole('menuitem', { name: '日本語' }).click()
    const panel = page.getByTestId('system-info')
    await panel.getByRole('heading', { name: 'システム情報' }).waitFor()
    t.ok(await panel.getByTestId('category-list').getByText('ハードウェア').isVisible(), 'category names')
    t.ok(await panel.getByRole('button', { name: '更新' }).isVisible(), 'Refresh')
    t.ok(await page.getByTestId('chat').getByText('システム情報を取得しました').first().isVisible(), 'system lines in the chat')
    t.ok(await page.getByTestId('session-header').getByText('進行中').isVisible(), 'the session status')
    await page.screenshot({ path: '/tmp/helpline-session-ja.png', fullPage: true })
    await page.locator('header button[aria-haspopup="true"]', { hasText: '日本語' }).click()
    await page.getByRole('menuitem', { name: 'English' }).click()
    await panel.getByRole('heading', { name: 'System information' }).waitFor()
  })

  await step('the session is ended from the console', async (t) => {
    const header = page.getByTestId('session-header')
    await header.getByRole('button', { name: 'End session' }).click()
    const confirm = page.getByRole('dialog')
    await confirm.getByText(`End the session with ${customer}?`).waitFor()
    await confirm.getByRole('button', { name: 'End session' }).click()
    await header.getByText('Ended', { exact: true }).waitFor()
    await page.getByTestId('chat').getByText('the chat is closed').waitFor()
    t.equal(await header.getByRole('button', { name: 'End session' }).count(), 0, 'no End button on an ended session')
    await agent!.waitFor('ended the session')
    t.equal(await agent!.exited, 0, 'the agent exits cleanly')
    t.ok(await page.getByTestId('system-info').getByRole('button', { name: 'Refresh' }).isDisabled(), 'Refresh is off')
    t.ok(await page.getByTestId('system-info').getByRole('button', { name: 'Save' }).isEnabled(), 'snapshots can still be saved')
    await page.screenshot({ path: '/tmp/helpline-session-ended.png', fullPage: true })
  })

  await step('the list shows the session; an admin sees it with its CSR', async (t) => {
    await page.goto(`${server.url}/#/sessions`)
    const row = page.getByRole('row').filter({ hasText: number })
    await row.waitFor()
    t.match(await row.innerText(), /Ended/, 'ended')
    t.match(await row.innerText(), customer, 'with the customer')
    t.match(await row.innerText(), /Disconnected|Customer left|Agent offline/, 'the agent is gone')

    const adminPage = await context.browser()!.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 } }).then((c) => c.newPage())
    t.teardown(() => adminPage.context().close())
    await signIn(adminPage, server.url, server.adminEmail, server.adminPassword)
    await adminPage.goto(`${server.url}/#/sessions`)
    const adminRow = adminPage.getByRole('row').filter({ hasText: number })
    await adminRow.waitFor()
    t.match(await adminRow.innerText(), csr.name, 'the admin sees whose session it is')
    await adminPage.screenshot({ path: '/tmp/helpline-sessions-list.png' })
  })

  t.same(pageErrors, [], 'no uncaught errors on the pages')
})
