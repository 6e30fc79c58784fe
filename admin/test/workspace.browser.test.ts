/**
 * The console for a CSR's whole day (issue 14), in one browser run against three real agents on
 * simulated computers: Ada and Ben approve everything (`--approve all`), Cleo is asked in her
 * terminal (`--approve ask`), so her requests wait. Checked: Script runs → a row opens the batch
 * (it used to crash), the workspace's tabs and badges for a background session (a message, a
 * consent), a notification while the page is hidden, keyboard switching, the logon wait beside
 * its button with the chat still usable and the refusal staying there, the sessions list by
 * keyboard only, the session page at 390 px, and axe-core on the main pages.
 *
 * Starts its own server (PGlite) with the console built from the current sources.
 */
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runScripts, uploadScript, waitForBatch } from '@helpline/sdk'
import type { Page } from 'playwright-core'
import { AgentProcess } from './helpers/agent.ts'
import { ensureConsoleBuilt, launch, sideways, signIn, target, steps, tokenFor } from './helpers/browser.ts'

t.setTimeout(180_000)

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: { target: string[] }[]
}

/** axe-core's serious and critical findings on the page as it is now. */
async function axeProblems(page: Page): Promise<string[]> {
  // Evaluated, not a <script>: the console's Content-Security-Policy rightly refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource)
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } }).axe
    return (await axe.run(document, { resultTypes: ['violations'] })).violations
  })
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)
}

t.test('the workspace, waits that do not block, keyboard, phone and axe', async (t) => {
  ensureConsoleBuilt()
  const server = await target(t)
  const suffix = Date.now().toString(36)
  const admin = await tokenFor(server.url, server.adminEmail, server.adminPassword)
  const csr = { email: `desk-${suffix}@example.com`, name: `Dana ${suffix}`, password: `desk-pw-${suffix}` }
  await admin.POST('/api/v1/users', { body: { ...csr, role: 'csr' } })
  const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: `Desk ${suffix}` } })
  const api = await tokenFor(server.url, csr.email, csr.password)

  const names = [`Ada ${suffix}`, `Ben ${suffix}`, `Cleo ${suffix}`] as const
  const sessions: { id: string; number: string }[] = []
  const agents: AgentProcess[] = []
  const dirs: string[] = []
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.stop()))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })
  for (const [i, customerName] of names.entries()) {
    const { data } = await api.POST('/api/v1/sessions', { body: { customerName } })
    sessions.push({ id: data!.id, number: data!.number })
    const dir = mkdtempSync(join(tmpdir(), 'helpline-agent-'))
    dirs.push(dir)
    const common = ['--server', server.url, '--state-dir', dir, '--lang', 'en', '--platform', 'simulated']
    // Cleo answers in her terminal: her requests wait until the test types y or n.
    agents.push(
      i < 2
        ? new AgentProcess(data!.number, server.url, dir, {}, ['--platform', 'simulated'])
        : new AgentProcess(['join', data!.number, ...common, '--approve', 'ask', '--ui', 'terminal']),
    )
  }
  await Promise.all(agents.map((a, i) => a.waitFor(`You joined support session ${sessions[i]!.number}`)))
  const [ada, , cleo] = sessions as [{ id: string; number: string }, { id: string; number: string }, { id: string; number: string }]
  const cleoAgent = agents[2]!

  // One finished batch on Ada, for the Script runs list.
  const script = await uploadScript(api, { name: `Desk check ${suffix}`, categoryId: category!.id, executable: { name: 'check.sh', content: '#!/bin/sh\necho ok\n' } })
  const batch = await runScripts(api, { scripts: [{ scriptId: script.id }], sessionIds: [ada.id] })
  await waitForBatch(api, batch.id, { intervalMs: 250, timeoutMs: 60_000 })

  const browser = await launch(t)
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 900 } })
  // Notifications: a recorder instead of the browser's, and a page that can be told it is hidden.
  // (A string: the test's transpiler would wrap a class in helpers the page does not have.)
  await context.addInitScript(`
    window.__notes = []
    window.__hidden = false
    window.Notification = class {
      static permission = 'granted'
      static requestPermission() { return Promise.resolve('granted') }
      constructor(title, options) { window.__notes.push(title + ': ' + ((options && options.body) || '')) }
      close() {}
    }
    Object.defineProperty(document, 'visibilityState', { get: () => (window.__hidden ? 'hidden' : 'visible'), configurable: true })
  `)
  const page = await context.newPage()
  page.setDefaultTimeout(30_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  const step = steps(t)

  const tab = (id: string) => page.locator(`[data-testid="workspace-tab"][data-session-id="${id}"]`)
  const pane = (id: string) => page.locator(`[data-testid="workspace-pane"][data-session-id="${id}"]`)

  await step('Script runs: a row opens its batch (it used to crash)', async (t) => {
    await signIn(page, server.url, csr.email, csr.password)
    await page.goto(`${server.url}/#/script-batches`)
    await page.getByRole('row').filter({ hasText: `Desk check ${suffix}` }).click()
    await page.getByTestId('batch-grid').waitFor()
    t.equal(await page.getByText('Something went wrong').count(), 0, 'no error page')
    t.equal(await page.getByTestId('session-row').count(), 1, 'the grid shows the batch’s session')
  })

  await step('the workspace: a tab per session; a message and a consent on a background tab raise its badges', async (t) => {
    await page.goto(`${server.url}/#/workspace?open=${ada.id}`)
    await tab(cleo.id).waitFor()
    t.equal(await page.getByTestId('workspace-tab').count(), 3, 'three tabs')
    t.equal(await tab(ada.id).getAttribute('data-current'), 'true', 'the linked session is shown')
    await pane(ada.id).locator('[data-stream="open"]').waitFor()
    await pane(cleo.id).locator('[data-stream="open"]').waitFor({ state: 'attached' })
    await tab(cleo.id).locator('[data-agent-status="online"]').waitFor()
    t.pass('each tab shows its agent, live')

    await page.getByTestId('workspace-notify').click()
    cleoAgent.type(`Hello from Cleo ${suffix}`)
    await tab(cleo.id).getByTestId('badge-unread').waitFor()
    t.equal(await tab(cleo.id).getByTestId('badge-unread').getAttribute('data-count'), '1', 'one unread message')
    await api.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: cleo.id } } })
    await tab(cleo.id).getByTestId('badge-consent').waitFor()
    t.pass('the pending consent shows on the background tab')

    // The CSR is elsewhere: Cleo's answer is a notification.
    await page.evaluate(() => ((window as unknown as { __hidden: boolean }).__hidden = true))
    await cleoAgent.waitFor('Allow? Type y')
    cleoAgent.type('y')
    await tab(cleo.id).getByTestId('badge-consent').waitFor({ state: 'detached' })
    await page.waitForFunction(() => (window as unknown as { __notes: string[] }).__notes.some((n) => n.includes('allowed')))
    t.pass('a notification says Cleo allowed it')
    await page.evaluate(() => ((window as unknown as { __hidden: boolean }).__hidden = false))
  })

  await step('switching keeps each session’s draft; Alt+↓ and Alt+3 move between tabs', async (t) => {
    await pane(ada.id).getByTestId('chat-input').fill('a draft for Ada')
    await page.keyboard.press('Alt+ArrowDown')
    await page.locator(`[data-testid="workspace-tab"][data-current="true"]`).and(tab(sessions[1]!.id)).waitFor()
    await page.keyboard.press('Alt+3')
    await page.locator(`[data-testid="workspace-tab"][data-current="true"]`).and(tab(cleo.id)).waitFor()
    t.equal(await tab(cleo.id).getByTestId('badge-unread').count(), 0, 'looking at it reads it')
    await tab(ada.id).getByTestId('workspace-tab-button').click()
    t.equal(await pane(ada.id).getByTestId('chat-input').inputValue(), 'a draft for Ada', 'the draft is still there')
    t.same(await axeProblems(page), [], 'axe: the workspace')
  })

  await step('logon waits beside its button: the chat stays usable; the refusal stays visible', async (t) => {
    await tab(cleo.id).getByTestId('workspace-tab-button').click()
    const cleoPane = pane(cleo.id)
    const mark = cleoAgent.output.length
    await cleoPane.getByRole('button', { name: 'Log on as another user' }).click()
    await cleoPane.getByTestId('logon-waiting').waitFor()
    t.equal(await page.getByTestId('logon-dialog').count(), 0, 'no dialog in the way')
    await cleoPane.getByTestId('chat-input').fill('Please click Allow')
    await cleoPane.getByTestId('chat-input').press('Enter')
    await cleoPane.getByTestId('chat-body').getByText('Please click Allow').waitFor()
    await cleoAgent.waitFor('Please click Allow')
    t.pass('the CSR chats while the request waits')
    for (const deadline = Date.now() + 30_000; !cleoAgent.output.slice(mark).includes('Allow? Type y'); ) {
      if (Date.now() > deadline) throw new Error(`Cleo was not asked; her terminal:\n${cleoAgent.output.slice(mark)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    cleoAgent.type('n')
    await cleoPane.getByTestId('logon-refused').waitFor()
    t.equal(await cleoPane.getByTestId('logon-refused').getAttribute('data-reason'), 'denied', 'the denial stays beside the action')
  })

  await step('keyboard only: from the sessions list into a session', async (t) => {
    await page.goto(`${server.url}/#/sessions`)
    const link = page.getByTestId('session-link').filter({ hasText: names[1] })
    await link.waitFor()
    await link.focus()
    t.equal(await link.evaluate((el) => getComputedStyle(el).outlineStyle), 'solid', 'the focus ring is visible')
    await page.keyboard.press('Enter')
    await page.waitForURL(new RegExp(`#/sessions/${sessions[1]!.id}/show$`))
    await page.getByTestId('session-header').waitFor()
    const names_ = await page.getByRole('button', { name: /refresh|reload/i }).evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? e.textContent))
    t.equal(new Set(names_).size, names_.length, 'no two refresh buttons share a name')
    t.same(await axeProblems(page), [], 'axe: the session page')
  })

  await step('axe: the sessions list, script library, script runs and run scripts', async (t) => {
    for (const path of ['sessions', 'scripts', 'script-batches', 'run-scripts']) {
      await page.goto(`${server.url}/#/${path}`)
      await page.locator('main').getByRole('heading').or(page.locator('main table')).first().waitFor()
      await page.waitForTimeout(300)
      t.same(await axeProblems(page), [], `axe: ${path}`)
      if (path === 'scripts') {
        const row = page.getByRole('row').filter({ hasText: `Desk check ${suffix}` })
        t.ok(await row.getByTestId('script-link').isVisible(), 'the script’s name is a link')
        t.ok(await row.getByRole('link', { name: 'Edit' }).isVisible(), 'its owner gets Edit in the row')
        t.ok(await row.getByRole('button', { name: 'Delete' }).isVisible(), 'and Delete')
      }
      if (path === 'run-scripts') t.ok(await page.getByTestId('script-picker').getByLabel('Order').isVisible(), 'the picker sorts (and filters by category)')
    }
  })

  await step('390 px: the session page’s panels stack and nothing is wider than the screen', async (t) => {
    // A snapshot, so the panel has its wide tables.
    await api.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: ada.id } } })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${server.url}/#/sessions/${ada.id}/show`)
    await page.getByTestId('session-header').waitFor()
    await page.getByTestId('chat').waitFor()
    await page.getByTestId('system-info').getByTestId('category-view').waitFor()
    for (const name of ['Save', 'Print']) {
      const button = page.getByTestId('system-info').getByRole('button', { name })
      await button.scrollIntoViewIfNeeded()
      const at = await button.boundingBox()
      t.ok(at && at.x >= 0 && at.x + at.width <= 390, `${name} is on screen`)
    }
    const { scrollWidth: width, wide } = await sideways(page, 390)
    t.ok(width <= 390, `the page does not scroll sideways (${width} px): ${wide.join(' | ')}`)
    const userMenu = page.locator('header button[aria-label^="Profile"]')
    const box = await userMenu.boundingBox()
    t.ok(box && box.x + box.width <= 390, 'the user menu is on screen')
  })

  t.same(pageErrors, [], 'no errors in the page')
})
