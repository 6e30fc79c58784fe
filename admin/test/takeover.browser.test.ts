/**
 * What the console shows for issue 12's takeover and oversight rules, in a real browser with real
 * agents (child processes on their simulated computers): a second computer joining with the
 * session number is refused and shown as a banner; "Let this computer in" (after a confirmation)
 * lets it join, and it replaces the first computer. On the script pages the owner gets Edit and
 * Delete, a site admin on someone else's script gets Unpublish and Transfer owner instead.
 *
 * Starts its own server (PGlite) with the console built from the current sources.
 */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uploadScript } from '@helpline/sdk'
import { AgentProcess } from './helpers/agent.ts'
import { ensureConsoleBuilt, launch, signIn, signOut, target, steps, tokenFor } from './helpers/browser.ts'

t.setTimeout(180_000)

t.test('a refused computer, let in from the banner; script pages by ownership', async (t) => {
  ensureConsoleBuilt()
  const server = await target(t)
  const suffix = Date.now().toString(36)
  const admin = await tokenFor(server.url, server.adminEmail, server.adminPassword)
  const csr = { email: `takeover-${suffix}@example.com`, name: `Toni ${suffix}`, password: `takeover-pw-${suffix}` }
  const other = { email: `other-${suffix}@example.com`, name: `Otto ${suffix}`, password: `other-pw-${suffix}` }
  await admin.POST('/api/v1/users', { body: { ...csr, role: 'csr' } })
  await admin.POST('/api/v1/users', { body: { ...other, role: 'csr' } })
  const api = await tokenFor(server.url, csr.email, csr.password)
  const customer = `Ines ${suffix}`
  const { data: session } = await api.POST('/api/v1/sessions', { body: { customerName: customer } })
  const { id: sessionId, number } = session!

  const dirs = [mkdtempSync(join(tmpdir(), 'helpline-agent-')), mkdtempSync(join(tmpdir(), 'helpline-agent-'))]
  const agents: AgentProcess[] = []
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.stop()))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })
  const first = new AgentProcess(number, server.url, dirs[0], {}, ['--platform', 'simulated'])
  agents.push(first)
  await first.waitFor(`You joined support session ${number}`)

  const browser = await launch(t)
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 1000 } })
  const page = await context.newPage()
  page.setDefaultTimeout(20_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  const step = steps(t)

  const banner = page.getByTestId('join-attempt')
  const chat = page.getByTestId('chat')

  await step('a second computer with the number is refused: banner and chat line', async (t) => {
    await signIn(page, server.url, csr.email, csr.password)
    await page.goto(`${server.url}/#/sessions/${sessionId}/show`)
    await page.locator('[data-stream="open"]').waitFor()
    const second = new AgentProcess(number, server.url, dirs[1], {}, ['--platform', 'simulated'])
    agents.push(second)
    await second.waitFor('Ask your support representative to let this computer in')
    await banner.getByText('Another computer tried to join this session').waitFor()
    t.match(await banner.innerText(), /simulated-pc, Simulated Linux 1\.0 from 127\.0\.0\.1/, 'which computer, from where')
    await chat.getByText(/Another computer tried to join with the session number \(simulated-pc, Simulated Linux 1\.0\) from 127\.0\.0\.1; it was refused/).waitFor()
    t.pass('the chat says so')
    await page.screenshot({ path: '/tmp/helpline-takeover-banner.png' })
  })

  await step('Let this computer in: confirmed, shown while open, the new computer joins and replaces the first', async (t) => {
    await banner.getByRole('button', { name: 'Let this computer in' }).click()
    const dialog = page.getByRole('dialog')
    t.match(await dialog.innerText(), new RegExp(`Let a new computer into the session with ${customer}\\?[\\s\\S]*replaces the current one`), 'the dialog says what happens')
    await dialog.getByRole('button', { name: 'Let this computer in' }).click()
    await page.getByTestId('admission-open').getByText(/A new computer may join with the session number until .* \(let in by Toni/).waitFor()
    t.pass('the open admission is shown')
    await agents[1]!.waitFor(`You joined support session ${number}`, 20_000)
    await chat.getByText(/A new computer took the session over, let in by Toni .*; the previous computer can no longer act in this session/).waitFor()
    t.equal(await first.exited, 4, 'the first computer’s agent is out (its tokens no longer work)')
    await page.getByTestId('admission-open').waitFor({ state: 'detached' })
    t.equal(await banner.count(), 0, 'the attempt is settled')
    await page.screenshot({ path: '/tmp/helpline-takeover-replaced.png' })
  })

  const { data: category } = await admin.POST('/api/v1/script-categories', { body: { name: `Takeover ${suffix}` } })
  const script = await uploadScript(api, {
    name: `Owned ${suffix}`,
    categoryId: category!.id,
    published: true,
    executable: { name: 'run.sh', content: '#!/bin/sh\necho owned\n' },
  })
  const edit = page.getByRole('link', { name: 'Edit' })
  const del = page.getByRole('button', { name: 'Delete' })
  const unpublish = page.getByRole('button', { name: 'Unpublish' })
  const transfer = page.getByRole('button', { name: 'Transfer owner' })

  await step('the owner’s script page: Edit and Delete, nothing of an admin’s', async (t) => {
    await page.goto(`${server.url}/#/scripts/${script.id}/show`)
    await edit.waitFor()
    t.equal(await del.count(), 1, 'Delete')
    t.equal(await unpublish.count(), 0, 'no Unpublish')
    t.equal(await transfer.count(), 0, 'no Transfer owner')
  })

  await step('a site admin on someone else’s script: Unpublish and Transfer owner, no Edit or Delete', async (t) => {
    await signOut(page)
    await signIn(page, server.url, server.adminEmail, server.adminPassword)
    await page.goto(`${server.url}/#/scripts/${script.id}/show`)
    await unpublish.waitFor()
    await transfer.waitFor()
    t.equal(await edit.count(), 0, 'no Edit')
    t.equal(await del.count(), 0, 'no Delete')
    await unpublish.click()
    await page.getByRole('dialog').getByRole('button', { name: 'Unpublish' }).click()
    await page.getByText('Script unpublished').waitFor()
    await unpublish.waitFor({ state: 'detached' })
    t.pass('unpublished, and the button goes')

    await transfer.click()
    const dialog = page.getByRole('dialog')
    await dialog.getByRole('combobox').click()
    await page.getByRole('option', { name: new RegExp(`Otto ${suffix}`) }).click()
    await dialog.getByRole('button', { name: 'Transfer owner' }).click()
    await page.getByText(`The script now belongs to Otto ${suffix}`).waitFor()
    const { data: moved } = await admin.GET('/api/v1/scripts/{id}', { params: { path: { id: script.id } } })
    t.equal(moved?.ownerName, `Otto ${suffix}`, 'the owner changed')
    t.equal(moved?.published, false)
    await page.screenshot({ path: '/tmp/helpline-takeover-script.png' })
    t.same(pageErrors, [], 'no errors in the page')
  })
})
