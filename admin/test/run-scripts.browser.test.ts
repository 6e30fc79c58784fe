/**
 * Running scripts end to end in a real browser, with two real agents as child processes: a CSR
 * opens Run scripts from a session page, picks two library scripts, puts them in order with
 * Down / Up, gives the first an argument, ticks both sessions and runs. The batch page's grid
 * turns green, a cell opens its output, and each session's chat shows both logs: one session's
 * page was open during the run (live from the stream), the other is opened afterwards.
 *
 * Starts its own server (PGlite) with the console built from the current sources.
 */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uploadScript } from '@helpline/sdk'
import type { Page } from 'playwright-core'
import { AgentProcess } from './helpers/agent.ts'
import { ensureConsoleBuilt, launch, signIn, target, steps, tokenFor } from './helpers/browser.ts'

// The whole file: ~58 s in a CI run, ~80 s on a loaded machine; 120 s was too close (as tap's own limit, package.json).
t.setTimeout(300_000)

const FIRST = '#!/bin/sh\necho "first $1"\necho "a warning" >&2\n'
const SECOND = 'print("second")\n'

/** The plan's script names, top to bottom. */
async function planOrder(page: Page): Promise<(string | null)[]> {
  return page.getByTestId('plan-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-script-name')))
}

t.test('running two scripts on two sessions from the console', async (t) => {
  ensureConsoleBuilt()
  const server = await target(t)
  const suffix = Date.now().toString(36)
  const admin = await tokenFor(server.url, server.adminEmail, server.adminPassword)
  const csr = { email: `runner-${suffix}@example.com`, name: `Robin ${suffix}`, password: `runner-pw-${suffix}` }
  await admin.POST('/api/v1/users', { body: { ...csr, role: 'csr' } })
  const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: `Run tests ${suffix}` } })
  const api = await tokenFor(server.url, csr.email, csr.password)

  const first = `Say first ${suffix}`
  const second = `Say second ${suffix}`
  await uploadScript(api, { name: first, categoryId: category!.id, published: true, defaultTimeoutSeconds: 45, executable: { name: 'first.sh', content: FIRST } })
  await uploadScript(api, { name: second, categoryId: category!.id, executable: { name: 'second.py', content: SECOND } })

  // Two customers, each with the agent running on their computer.
  const customers = ['Ada Customer', 'Ben Customer']
  const sessions: { id: string; number: string }[] = []
  const agents: AgentProcess[] = []
  const stateDirs: string[] = []
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.stop()))
    for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true })
  })
  for (const customerName of customers) {
    const { data: session } = await api.POST('/api/v1/sessions', { body: { customerName } })
    sessions.push({ id: session!.id, number: session!.number })
    const dir = mkdtempSync(join(tmpdir(), 'helpline-agent-'))
    stateDirs.push(dir)
    agents.push(new AgentProcess(session!.number, server.url, dir))
  }
  await Promise.all(agents.map((a, i) => a.waitFor(`You joined support session ${sessions[i]!.number}`)))

  const browser = await launch(t)
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 1000 } })
  const page = await context.newPage()
  page.setDefaultTimeout(20_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  // The second session's page stays open during the run: its chat follows the stream live.
  const watcher = await context.newPage()
  watcher.setDefaultTimeout(20_000)
  watcher.on('pageerror', (error) => pageErrors.push(`second session: ${error.message}`))
  // The page opened last has the focus; a background tab's animation frames are throttled, and
  // every click waits on them.
  await page.bringToFront()

  const step = steps(t)

  const [one, two] = sessions as [{ id: string; number: string }, { id: string; number: string }]

  await step('Run scripts opens from an active session’s page, with that session ticked', async (t) => {
    await signIn(page, server.url, csr.email, csr.password)
    await watcher.goto(`${server.url}/#/sessions/${two.id}/show`)
    await watcher.getByTestId('session-header').getByText('Active', { exact: true }).waitFor()
    await watcher.locator('[data-stream="open"]').waitFor()

    await page.goto(`${server.url}/#/sessions/${one.id}/show`)
    await page.getByTestId('session-header').getByText('Active', { exact: true }).waitFor()
    await page.getByTestId('session-header').getByRole('link', { name: 'Run scripts' }).click()
    await page.waitForURL(new RegExp(`#/run-scripts\\?session=${one.id}$`))
    const choices = page.getByTestId('session-choices')
    await choices.locator(`[data-session-id="${two.id}"]`).waitFor()
    t.ok(await choices.locator(`[data-session-id="${one.id}"] input[type="checkbox"]`).isChecked(), 'the session it came from is ticked')
    t.notOk(await choices.locator(`[data-session-id="${two.id}"] input[type="checkbox"]`).isChecked(), 'the other active session is offered, not ticked')
    t.ok(await page.getByTestId('run-button').isDisabled(), 'nothing to run yet')
    t.ok(await page.getByRole('menuitem', { name: 'Run scripts' }).isVisible(), 'Run scripts is in the menu too')
  })

  await step('the CSR picks two scripts from the library and orders them', async (t) => {
    const picker = page.getByTestId('script-picker')
    await picker.getByTestId('script-search').fill(suffix)
    await picker.locator(`[data-script-name="${second}"]`).waitFor()
    await picker.getByTestId('script-search').fill(`first ${suffix}`)
    await picker.locator(`[data-testid="library-script"]`).filter({ hasNotText: second }).first().waitFor()
    await page.waitForFunction((name) => document.querySelectorAll('[data-testid="library-script"]').length === 1 && document.querySelector(`[data-script-name="${name}"]`) !== null, first)
    t.pass('the search narrows the library')
    await picker.getByRole('button', { name: `Add ${first}` }).click()
    await picker.getByTestId('script-search').fill(suffix)
    await picker.getByRole('button', { name: `Add ${second}` }).click()
    t.same(await planOrder(page), [first, second], 'added in order')

    const firstItem = page.getByTestId('plan-item').filter({ hasText: first })
    await firstItem.getByRole('button', { name: 'Move down' }).click()
    t.same(await planOrder(page), [second, first], 'Move down')
    t.ok(await page.getByTestId('plan-item').first().getByRole('button', { name: 'Move up' }).isDisabled(), 'the first cannot go up')
    await page.getByTestId('plan-item').filter({ hasText: first }).getByRole('button', { name: 'Move up' }).click()
    t.same(await planOrder(page), [first, second], 'Move up')
    t.match(await page.getByTestId('plan-item').first().getByTestId('plan-item-title').innerText(), `1. ${first}`, 'numbered in order')

    await page.getByTestId('plan-item').first().getByTestId('plan-args').fill('from-the-console')
    t.match(await page.getByTestId('plan-item').first().innerText(), /Default: 45 s/, 'the default timeout is shown')
    t.notOk(await page.getByLabel('Stop at the first failure').isChecked(), 'stop at the first failure is off by default')
  })

  let batchId = ''

  await step('both sessions are ticked and the run starts', async (t) => {
    const choices = page.getByTestId('session-choices')
    await choices.locator(`[data-session-id="${two.id}"] input[type="checkbox"]`).check()
    t.match(await page.getByText(/Scripts: 2 · sessions: 2/).innerText(), /each customer approves first/)
    t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the page fits its width')
    await page.screenshot({ path: '/tmp/helpline-run-scripts.png', fullPage: true })
    // The first Run reaches the server, which creates the batch, but its answer is lost on the
    // way back (the connection resets): the CSR sees an error and presses Run again.
    const keys: (string | undefined)[] = []
    let lose = true
    await page.route('**/api/v1/script-batches', async (route) => {
      keys.push(route.request().headers()['idempotency-key'])
      if (!lose) return route.continue()
      lose = false
      await route.fetch()
      await route.abort('connectionreset')
    })
    await page.getByTestId('run-button').click()
    await page.getByTestId('run-error').waitFor()
    t.equal(keys.length, 1, 'the first Run reached the server')
    await page.getByTestId('run-button').click()
    await page.waitForURL(/#\/script-batches\/[0-9a-f-]+\/show$/)
    await page.unroute('**/api/v1/script-batches')
    batchId = /#\/script-batches\/([0-9a-f-]+)\/show$/.exec(page.url())![1]!
    t.equal(keys.length, 2, 'Run was pressed twice')
    t.match(keys[0], /^[0-9a-f]{32}$/, 'with an Idempotency-Key')
    t.equal(keys[1], keys[0], 'the same key for the same plan')
    const { data: mine } = await api.GET('/api/v1/script-batches', { params: { query: { sessionId: one.id } } })
    t.same(
      mine!.data.map((b) => b.id),
      [batchId],
      'one batch on the session: the second Run answered the batch the first created, nothing ran twice',
    )
    await page.getByTestId('script-column').nth(1).waitFor()
    const columns = await page.getByTestId('script-column').allInnerTexts()
    t.match(columns[0], `1. ${first}`, 'the scripts are the columns, in order')
    t.match(columns[1], `2. ${second}`)
    t.match(columns[0], '"from-the-console"', 'with the arguments')
    await page.getByTestId('session-row').nth(1).waitFor()
    t.equal(await page.getByTestId('session-row').count(), 2, 'one row per session')
  })

  await step('the grid turns green as the agents run the scripts', async (t) => {
    await page.waitForFunction(
      () => {
        const cells = Array.from(document.querySelectorAll('[data-testid="run-cell"]'))
        return cells.length === 4 && cells.every((c) => c.getAttribute('data-run-status') === 'succeeded')
      },
      undefined,
      { timeout: 45_000 },
    )
    t.pass('every run succeeded')
    await page.locator('[data-batch-status="finished"]').waitFor()
    t.equal(await page.locator('[data-testid="session-run-status"] [data-run-status="succeeded"]').count(), 2, 'both sessions succeeded')
    t.match(await page.getByTestId('run-cell').first().innerText(), /exit code 0/, 'with the exit code')
    t.equal(await page.getByRole('button', { name: 'Cancel the run' }).count(), 0, 'a finished run cannot be cancelled')
    await page.screenshot({ path: '/tmp/helpline-run-batch.png', fullPage: true })
  })

  await step('a cell opens its output, stderr apart', async (t) => {
    const row = page.getByTestId('session-row').filter({ hasText: customers[0]! })
    await row.getByRole('button', { name: `Output of ${first} for ${customers[0]}` }).click()
    const dialog = page.getByTestId('run-output-dialog')
    await dialog.getByText('first from-the-console').waitFor()
    await dialog.locator('[data-stream="stderr"]', { hasText: 'a warning' }).waitFor()
    t.equal(
      await dialog.locator('[data-stream="stderr"]').first().evaluate((el) => getComputedStyle(el).color === getComputedStyle(el.parentElement!).color),
      false,
      'stderr is in another colour',
    )
    await page.screenshot({ path: '/tmp/helpline-run-output.png' })
    await page.getByRole('button', { name: 'Close' }).click()
    await dialog.waitFor({ state: 'detached' })
  })

  await step('each session’s chat shows both logs', async (t) => {
    // Live: this page was open while the scripts ran.
    await watcher.bringToFront()
    const live = watcher.getByTestId('chat')
    await live.locator('[data-testid="script-run-log"][data-run-status="succeeded"]').nth(1).waitFor()
    const liveLogs = await live.getByTestId('script-run-log').allInnerTexts()
    t.equal(liveLogs.length, 2, 'one log box per script')
    t.match(liveLogs[0], new RegExp(`${first} \\(version 1\\)[\\s\\S]*Succeeded[\\s\\S]*first from-the-console`), 'the first, with its output')
    t.match(liveLogs[1], new RegExp(`${second} \\(version 1\\)[\\s\\S]*Succeeded[\\s\\S]*second`), 'then the second')
    await watcher.screenshot({ path: '/tmp/helpline-run-chat.png', fullPage: true })

    // Afterwards: the output written before the page opened is there too.
    await page.bringToFront()
    await page.goto(`${server.url}/#/sessions/${one.id}/show`)
    const chat = page.getByTestId('chat')
    await chat.getByTestId('script-run-log').nth(1).waitFor()
    await chat.getByText('first from-the-console').waitFor()
    await chat.locator('[data-testid="script-run-log"]', { hasText: second }).getByText('second', { exact: true }).waitFor()
    const logs = await chat.getByTestId('script-run-log').allInnerTexts()
    t.equal(logs.length, 2)
    t.ok(
      logs.every((l) => /Succeeded/.test(l)),
      'both succeeded',
    )
  })

  await step('the run is listed under Script runs', async (t) => {
    await page.getByRole('menuitem', { name: 'Script runs' }).click()
    const row = page.getByRole('row').filter({ hasText: `${first} → ${second}` })
    await row.waitFor()
    t.match(await row.innerText(), /Succeeded 4/, 'with its results')
    await row.click()
    await page.waitForURL(new RegExp(`#/script-batches/${batchId}/show$`))
  })

  await step('the batch page speaks Japanese too', async (t) => {
    await page.locator('header button[aria-haspopup="true"]', { hasText: 'English' }).click()
    await page.getByRole('menuitem', { name: '日本語' }).click()
    await page.getByRole('heading', { name: 'スクリプトの実行', exact: true }).waitFor()
    t.equal(await page.getByTestId('batch-grid').getByText('成功', { exact: true }).count(), 6, 'every status, in Japanese')
    t.ok(await page.getByRole('menuitem', { name: 'スクリプトを実行' }).isVisible(), 'the menu entry')
    await page.screenshot({ path: '/tmp/helpline-run-batch-ja.png', fullPage: true })
    await page.locator('header button[aria-haspopup="true"]', { hasText: '日本語' }).click()
    await page.getByRole('menuitem', { name: 'English' }).click()
    await page.getByRole('heading', { name: 'Script run', exact: true }).waitFor()
  })

  t.same(pageErrors, [], 'no uncaught errors on the pages')
})
