/**
 * Working on the customer's computer in a real browser, with the real agent as a child process on
 * its simulated computer (`--platform simulated`: any user name logs on with the password in
 * HELPLINE_AGENT_SIMULATED_PASSWORD; a restart makes the agent exit with code 10 and this test
 * starts it again with `rejoin`). The CSR logs on as another user through the dialog, sees who
 * the agent works as, logs off, restarts the computer and sees the rejoin; a script run and a
 * snapshot are added through the API; then the CSR reads the session's report, downloads it,
 * opens its print view, and finds it under Reports.
 *
 * Starts its own server (PGlite) with the console built from the current sources.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runScripts, uploadScript, waitForBatch } from '@helpline/sdk'
import { AgentProcess } from './helpers/agent.ts'
import { ensureConsoleBuilt, launch, signIn, target, steps, tokenFor } from './helpers/browser.ts'

// The whole file: ~80 s in a CI run, over 120 s on a loaded machine (it timed out there); as tap's own limit (package.json).
t.setTimeout(300_000)

const PASSWORD = `sim-${randomBytes(9).toString('base64url')}`
const SCRIPT = '#!/bin/sh\necho "checked $1"\necho "disk almost full" >&2\nexit 3\n'
const SIMULATED = { HELPLINE_AGENT_SIMULATED_PASSWORD: PASSWORD }

t.test('log on as another user, log off, restart and the report, in the console', async (t) => {
  ensureConsoleBuilt()
  const server = await target(t)
  const suffix = Date.now().toString(36)
  const admin = await tokenFor(server.url, server.adminEmail, server.adminPassword)
  const csr = { email: `access-${suffix}@example.com`, name: `Avery ${suffix}`, password: `access-pw-${suffix}` }
  await admin.POST('/api/v1/users', { body: { ...csr, role: 'csr' } })
  const api = await tokenFor(server.url, csr.email, csr.password)
  const customer = `Quinn ${suffix}`
  const { data: session } = await api.POST('/api/v1/sessions', { body: { customerName: customer } })
  const { id: sessionId, number } = session!

  const stateDir = mkdtempSync(join(tmpdir(), 'helpline-agent-'))
  const agents: AgentProcess[] = []
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.stop()))
    rmSync(stateDir, { recursive: true, force: true })
  })
  agents.push(new AgentProcess(number, server.url, stateDir, SIMULATED, ['--platform', 'simulated']))
  await agents[0]!.waitFor(`You joined support session ${number}`)

  const browser = await launch(t)
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 1000 }, acceptDownloads: true })
  // Every page, the print view's window included: record print() instead of opening a dialog.
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
  // What leaves the browser: the password must never be in it.
  const sent: string[] = []
  page.on('request', (request) => sent.push(`${request.url()}\n${request.postData() ?? ''}`))

  const step = steps(t)

  const header = page.getByTestId('session-header')
  const chat = page.getByTestId('chat')

  await step('Log on as another user: the customer approves, the CSR types the account, the agent logs on', async (t) => {
    await signIn(page, server.url, csr.email, csr.password)
    await page.goto(`${server.url}/#/sessions/${sessionId}/show`)
    await header.getByText('Active', { exact: true }).waitFor()
    await page.locator('[data-stream="open"]').waitFor()
    await header.getByRole('button', { name: 'Log on as another user' }).click()
    const dialog = page.getByTestId('logon-dialog')
    // The agent approves at once (--approve all): the dialog moves on from waiting by itself.
    await page.locator('[data-testid="logon-dialog"][data-phase="credentials"]').waitFor()
    t.match(await dialog.innerText(), /The customer approved/, 'the approval is stated')
    await page.getByTestId('consents').locator('[data-consent="logon_as_user"] [data-consent-status="approved"]').waitFor()
    t.equal(await dialog.getByTestId('logon-password').getAttribute('type'), 'password', 'the password is not shown')
    await dialog.getByTestId('logon-username').fill('fixer')
    await dialog.getByTestId('logon-password').fill(PASSWORD)
    await dialog.getByRole('button', { name: 'Log on' }).click()
    await dialog.getByTestId('logon-outcome').getByText('Logged on as fixer').waitFor()
    t.pass('the dialog says the agent logged on')
    await page.screenshot({ path: '/tmp/helpline-access-logon.png' })
    await dialog.getByRole('button', { name: 'Close' }).click()
    await dialog.waitFor({ state: 'detached' })
    await header.getByTestId('working-as').getByText('Working as fixer').waitFor()
    t.pass('the header shows who the agent works as')
    await chat.getByText('Logged on to the customer’s computer as fixer').waitFor()
    t.notOk(
      sent.some((s) => s.includes(PASSWORD)),
      'the password never left the browser in the clear',
    )
    t.ok(sent.some((s) => s.includes('/logon/credentials') && s.includes('"ciphertext"')), 'only its ciphertext did')
  })

  await step('a wrong password says logon failed', async (t) => {
    await header.getByRole('button', { name: 'Log off' }).click()
    await header.getByTestId('working-as').waitFor({ state: 'detached' })
    await chat.getByText('Logged off: back to the customer’s own user').waitFor()
    t.pass('Log off: back to the customer’s own user')
    await header.getByRole('button', { name: 'Log on as another user' }).click()
    const dialog = page.getByTestId('logon-dialog')
    await dialog.getByTestId('logon-username').fill('fixer')
    await dialog.getByTestId('logon-password').fill('not-the-password')
    await dialog.getByRole('button', { name: 'Log on' }).click()
    await dialog.getByTestId('logon-outcome').getByText('Logon failed: wrong user name or password').waitFor()
    t.pass('the failure, in our words')
    const logonConsents = page.getByTestId('consents').locator('[data-consent="logon_as_user"]')
    const asked = await logonConsents.count()
    // The approval takes three tries: the CSR retries without asking the customer again.
    for (const left of [2, 1]) {
      await dialog.locator(`[data-testid="logon-attempts"][data-left="${left}"]`).waitFor()
      t.match(await dialog.getByTestId('logon-attempts').innerText(), new RegExp(`${left} attempts? left`), `${left} left, it says`)
      await dialog.getByRole('button', { name: 'Try again' }).click()
      await page.locator('[data-testid="logon-dialog"][data-phase="credentials"]').waitFor()
      t.match(await dialog.innerText(), new RegExp(`${left} attempts? left with this approval`), 'the form says how many tries are left')
      await dialog.getByTestId('logon-username').fill('fixer')
      await dialog.getByTestId('logon-password').fill(`still-wrong-${left}`)
      await dialog.getByRole('button', { name: 'Log on' }).click()
      await dialog.getByTestId('logon-outcome').getByText('Logon failed: wrong user name or password').waitFor()
    }
    t.equal(await logonConsents.count(), asked, 'the customer was not asked again')
    await dialog.locator('[data-testid="logon-attempts"][data-left="0"]').getByText('no attempts left').waitFor()
    t.equal(await dialog.getByRole('button', { name: 'Try again' }).count(), 0, 'no retry after the third try')
    t.ok(await dialog.getByRole('button', { name: 'Ask the customer again' }).isVisible(), 'a new request is offered')
    await dialog.getByRole('button', { name: 'Close' }).click()
    await dialog.waitFor({ state: 'detached' })
    t.equal(await header.getByTestId('working-as').count(), 0, 'still the customer’s own user')
  })

  await step('Restart computer: a warning first, then restarting, then the agent rejoins', async (t) => {
    await header.getByRole('button', { name: 'Restart computer' }).click()
    const confirm = page.getByRole('dialog')
    await confirm.getByText(`Restart ${customer}’s computer?`).waitFor()
    t.match(await confirm.innerText(), /save their work/, 'the CSR is reminded that the customer should save their work')
    await confirm.getByRole('button', { name: 'Restart' }).click()
    await header.getByTestId('restarting').getByText('Restarting…').waitFor()
    t.pass('the header shows the computer restarting')
    await chat.getByText('The customer’s computer is restarting; the agent rejoins by itself').waitFor()
    t.equal(await agents[0]!.exited, 10, 'the simulated computer "restarts": the agent exits with code 10')
    await page.screenshot({ path: '/tmp/helpline-access-restarting.png' })

    agents.push(AgentProcess.rejoin(stateDir, SIMULATED, ['--platform', 'simulated']))
    await agents[1]!.waitFor(`Rejoined your support session ${number}`)
    await chat.getByText(`${customer} rejoined after the restart`).waitFor()
    t.pass('the chat shows the rejoin')
    await header.getByTestId('restarting').waitFor({ state: 'detached' })
    await header.locator('[data-agent-status="online"]').waitFor()
    t.ok(await header.getByRole('button', { name: 'Log on as another user' }).isEnabled(), 'the computer can be worked on again')
  })

  let digest = ''
  await step('after the restart: a script that fails and a snapshot (through the API)', async (t) => {
    const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: `Access tests ${suffix}` } })
    const script = await uploadScript(api, { name: `Check disk ${suffix}`, categoryId: category!.id, executable: { name: 'check.sh', content: SCRIPT } })
    digest = script.digest
    const batch = await runScripts(api, { scripts: [{ scriptId: script.id, args: ['hello world'] }], sessionIds: [sessionId] })
    const done = await waitForBatch(api, batch.id, { intervalMs: 250, timeoutMs: 30_000 })
    t.equal(done.sessions[0]!.runs[0]!.exitCode, 3, 'the script ran and failed')
    await api.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: sessionId } } })
    const deadline = Date.now() + 20_000
    while ((await api.GET('/api/v1/sessions/{id}/snapshots', { params: { path: { id: sessionId } } })).data!.total === 0) {
      if (Date.now() > deadline) throw new Error('no snapshot')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    t.pass('a snapshot was collected')
  })

  await step('the Report lists the logon, the log off, the restart and the rejoin', async (t) => {
    await header.getByRole('link', { name: 'Report' }).click()
    await page.waitForURL(new RegExp(`#/sessions/${sessionId}/report$`))
    const report = page.getByTestId('report')
    const access = report.getByTestId('report-access')
    await access.locator('[data-event-type="agent.rejoined"]').waitFor()
    const types = await access.locator('[data-event-type]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event-type')))
    // Three failed logons: the wrong password and its two retries with the same approval.
    const failed = ['agent.logon_failed', 'agent.logon_failed', 'agent.logon_failed']
    t.same(types, ['agent.logged_on', 'agent.logged_off', ...failed, 'agent.rebooting', 'agent.rejoined'], 'in order')
    const text = await access.innerText()
    t.match(text, 'Logged on as fixer')
    t.match(text, 'Logged off fixer')
    t.match(text, 'Logon failed: wrong user name or password')
    t.match(text, 'The customer’s computer is restarting')
    t.match(text, 'rejoined after the restart')
    t.match(await report.getByTestId('report-who').innerText(), new RegExp(`${customer}[\\s\\S]*${csr.name}[\\s\\S]*Simulated Linux 1\\.0 · x64 · simulated-pc`), 'who: customer, CSR, platform')
    const timeline = report.getByTestId('report-timeline')
    t.ok((await timeline.locator('[data-event-type]').count()) > 10, 'the full timeline')
    t.equal(await timeline.locator('[data-known="false"]').count(), 0, 'every event in words')
    const consents = report.getByTestId('report-consents')
    t.ok(await consents.locator('[data-consent="reboot"] [data-consent-status="approved"]').isVisible(), 'the restart’s consent, approved')
    t.equal(await consents.locator('[data-consent="logon_as_user"]').count(), 2, 'both logon requests')
    t.match(await report.getByTestId('report-chat').innerText(), `${customer} rejoined after the restart`, 'the chat transcript')
    const run = report.getByTestId('report-scripts').getByTestId('report-script-run')
    t.equal(await run.count(), 1, 'the script run')
    const runText = await run.innerText()
    t.match(runText, `Check disk ${suffix} (version 1)`, 'with its version')
    t.match(runText, digest, 'its sha256')
    t.match(runText, '"hello world"', 'its arguments')
    t.match(runText, /Exit code\s+3/, 'its exit code')
    t.match(runText, /Failed/, 'its status')
    await run.locator('[data-stream="stdout"]', { hasText: 'checked hello world' }).waitFor()
    await run.locator('[data-stream="stderr"]', { hasText: 'disk almost full' }).waitFor()
    t.pass('its output, stdout and stderr apart')
    const snapshots = report.getByTestId('report-snapshots')
    t.equal(await snapshots.locator('[data-snapshot-id]').count(), 1, 'the snapshot')
    t.match(await snapshots.innerText(), 'simulated-pc', 'with its computer')
    const [snapshotText] = await Promise.all([page.waitForEvent('download'), snapshots.getByRole('button', { name: 'Full text (.txt)' }).click()])
    t.match(readFileSync(await snapshotText.path(), 'utf8'), 'Helpline: system information', 'its full text downloads')
    t.notMatch(await report.innerText(), PASSWORD, 'never the password')
    await page.screenshot({ path: '/tmp/helpline-access-report.png', fullPage: true })
  })

  await step('Download .txt and Print', async (t) => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download .txt' }).click()])
    t.match(download.suggestedFilename(), new RegExp(`^session-report-Quinn-${suffix}-${number}-\\d{4}-\\d{2}-\\d{2}_\\d{4}\\.txt$`), 'named after the customer and the time')
    const text = readFileSync(await download.path(), 'utf8')
    for (const type of ['agent.logged_on', 'agent.logged_off', 'agent.rebooting', 'agent.rejoined']) t.match(text, type, `the .txt has ${type}`)
    t.notMatch(text, PASSWORD, 'never the password')

    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Print' }).click()])
    popup.setDefaultTimeout(20_000)
    popup.on('pageerror', (error) => pageErrors.push(`print view: ${error.message}`))
    await popup.getByTestId('report-print-view').waitFor()
    await popup.getByTestId('report-access').locator('[data-event-type="agent.rejoined"]').waitFor()
    await popup.waitForFunction(() => (window as unknown as { __printCalls: number }).__printCalls > 0)
    t.pass("the browser's print was called")
    await popup.emulateMedia({ media: 'print' })
    t.ok(await popup.getByRole('button', { name: 'Print' }).isHidden(), 'buttons are not printed')
    await popup.screenshot({ path: '/tmp/helpline-access-report-print.png', fullPage: true })
    await popup.close()
  })

  await step('Reports, in the menu: the session filtered by date and status, opening its report', async (t) => {
    await page.getByRole('menuitem', { name: 'Reports' }).click()
    await page.waitForURL(/#\/reports/)
    await page.getByTestId('report').waitFor({ state: 'detached' })
    const row = page.getByRole('row').filter({ hasText: customer })
    await row.waitFor()
    const today = new Date()
    const day = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`
    await page.locator('input[name="from"]').fill(day)
    await page.locator('input[name="to"]').fill(day)
    await page.waitForURL(/from/)
    await row.waitFor()
    t.pass('today’s sessions include it')
    await page.locator('input[name="from"]').fill(`${today.getFullYear() + 1}-01-01`)
    await row.waitFor({ state: 'detached' })
    t.pass('a later day’s do not')
    await page.locator('input[name="from"]').fill(day)
    await row.waitFor()
    await page.getByRole('combobox', { name: 'Status' }).click()
    await page.getByRole('option', { name: 'Ended' }).click()
    await row.waitFor({ state: 'detached' })
    t.pass('it is not among the ended sessions')
    await page.getByRole('combobox', { name: 'Status' }).click()
    await page.getByRole('option', { name: 'Active' }).click()
    await row.waitFor()
    t.pass('but among the active ones')
    await page.screenshot({ path: '/tmp/helpline-access-reports.png' })
    await row.click()
    await page.waitForURL(new RegExp(`#/sessions/${sessionId}/report$`))
    await page.getByTestId('report-access').waitFor()
  })

  t.same(pageErrors, [], 'no uncaught errors on the pages')
})
