/**
 * The script library in a real browser against a real server: a site admin creates a category;
 * a CSR uploads a script with an input file (dropped on the form; a taken name comes back on
 * the name field), sorts the library by a column header, edits the script (a new version, the
 * old one kept) and deletes it.
 */
import t from 'tap'
import { createClient, uploadScript } from '@helpline/sdk'
import type { Page } from 'playwright-core'
import { launch, signIn, signOut, target, visible } from './helpers/browser.ts'

const SCREENSHOT = '/tmp/helpline-scripts.png'

t.setTimeout(240_000)

/** The names in the list's rows, top to bottom. */
async function rowNames(page: Page): Promise<string[]> {
  return page.locator('tbody tr td:nth-child(1)').allInnerTexts()
}

/** Waits until the list shows exactly these names in this order (it re-renders when the answer comes). */
async function listShows(page: Page, names: string[]) {
  await page.waitForFunction(
    (expected) => Array.from(document.querySelectorAll('tbody tr td:nth-child(1)'), (td) => td.textContent).join('|') === expected,
    names.join('|'),
  )
}

t.test('the script library in a browser', async (t) => {
  const server = await target(t)
  const browser = await launch(t)
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 1000 } })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  const suffix = Date.now().toString(36)
  const category = `Diagnostics ${suffix}`
  const csr = { email: `scripter-${suffix}@example.com`, name: `Sam ${suffix}`, password: `scripter-pw-${suffix}` }
  const name = `Check disk ${suffix}`

  await t.test('the admin creates a category', async (t) => {
    await signIn(page, server.url, server.adminEmail, server.adminPassword)
    await page.getByRole('menuitem', { name: 'Categories' }).click()
    await page.getByRole('link', { name: 'New category' }).click()
    await page.locator('input[name="name"]').fill(category)
    await page.getByRole('button', { name: 'Save' }).click()
    await page.waitForURL(/#\/categories$/)
    await page.getByRole('row').filter({ hasText: category }).waitFor()
    t.pass('the category is listed')

    // The CSR and someone else's published scripts to sort against, set up through the API.
    const token = await page.evaluate(() => localStorage.getItem('helpline.token'))
    const admin = createClient({ baseUrl: server.url, token: token! })
    await admin.POST('/api/v1/users', { body: { email: csr.email, name: csr.name, role: 'csr', password: csr.password } })
    const { data: categories } = await admin.GET('/api/v1/script-categories', { params: { query: { q: category } } })
    const categoryId = categories!.data[0]!.id
    for (const [scriptName, bytes] of [[`Taken ${suffix}`, 10], [`Zeta ${suffix}`, 5000]] as const) {
      await uploadScript(admin, { name: scriptName, categoryId, published: true, description: suffix, executable: { name: 'a.sh', content: 'x'.repeat(bytes) } })
    }
    await signOut(page)
  })

  await t.test('the CSR uploads a script with an input file', async (t) => {
    await signIn(page, server.url, csr.email, csr.password)
    await page.getByRole('menuitem', { name: 'Script library' }).click()
    await page.getByRole('link', { name: 'New script' }).click()
    await page.locator('input[name="name"]').fill(`taken ${suffix}`)
    await page.getByRole('combobox', { name: /Category/ }).click()
    await page.getByRole('option', { name: category }).click()
    await page.locator('textarea[name="description"]').fill(`${suffix} checks the disks`)
    await page.getByLabel('Published').check()
    await page.locator('input[name="defaultTimeoutSeconds"]').fill('90')
    await page.getByTestId('executable-file').setInputFiles({ name: 'check.sh', mimeType: 'text/x-shellscript', buffer: Buffer.from('#!/bin/sh\ndf -h $(cat mounts.txt)\n') })
    // The input file is dropped on its zone, as a user drags it from the desktop.
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer()
      transfer.items.add(new File(['/\n/home\n'], 'mounts.txt', { type: 'text/plain' }))
      return transfer
    })
    await page.getByTestId('input-files-input-drop').dispatchEvent('drop', { dataTransfer: dropped })
    await page.getByTestId('input-files').getByText('mounts.txt').waitFor()
    const budget = await page.getByTestId('file-budget').innerText()
    t.match(budget, /42 B of 1 MiB used \(42 bytes\)/, 'the size budget shows what the files use')

    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByText('This name is already in use').waitFor()
    t.pass('a taken name (ignoring case) is shown on the name field')

    await page.locator('input[name="name"]').fill(name)
    await page.getByRole('button', { name: 'Save' }).click()
    await page.waitForURL(/#\/scripts\/[0-9a-f-]+\/show$/)
    const current = page.getByTestId('files-v1').first()
    await current.getByText('mounts.txt').waitFor()
    t.match(await current.innerText(), /check\.sh[\s\S]*Executable[\s\S]*mounts\.txt[\s\S]*Input/, 'the files with their roles')
    t.match(await current.innerText(), /[0-9a-f]{64}/, 'and their sha256')
    await current.getByRole('button', { name: 'Preview' }).first().click()
    const preview = page.getByTestId('file-preview')
    await preview.waitFor()
    t.match(await preview.innerText(), /df -h \$\(cat mounts\.txt\)/, 'a text file is previewed')
    await page.getByRole('button', { name: 'Close' }).click()
  })

  await t.test('the CSR sorts the library by a column header', async (t) => {
    await page.getByRole('menuitem', { name: 'Script library' }).click()
    await page.locator('input[name="q"]').fill(suffix)
    await page.waitForURL(/filter=/)
    await page.getByRole('row').filter({ hasText: name }).waitFor()
    t.same(await rowNames(page), [name, `Taken ${suffix}`, `Zeta ${suffix}`], 'by name at first')
    await page.getByRole('columnheader', { name: 'Size' }).getByRole('button').click()
    await page.waitForURL(/sort=size/)
    await t.resolves(listShows(page, [`Taken ${suffix}`, name, `Zeta ${suffix}`]), 'smallest first after clicking Size')
    await page.getByRole('columnheader', { name: 'Size' }).getByRole('button').click()
    await page.waitForURL(/order=DESC/)
    await t.resolves(listShows(page, [`Zeta ${suffix}`, name, `Taken ${suffix}`]), 'largest first after a second click')
    await page.screenshot({ path: SCREENSHOT })
  })

  await t.test('the CSR edits the script: a new version, the old one kept', async (t) => {
    await page.getByRole('row').filter({ hasText: name }).click()
    await page.waitForURL(/\/show$/)
    await page.getByRole('link', { name: 'Edit' }).click()
    await page.locator('input[name="name"]').waitFor()
    t.equal(await page.getByTestId('script-file').count(), 2, 'the stored files are listed')
    await page.getByTestId('executable-file').setInputFiles({ name: 'check.sh', mimeType: 'text/x-shellscript', buffer: Buffer.from('#!/bin/sh\ndf -h\n') })
    await page.getByRole('button', { name: 'Save' }).click()
    await page.waitForURL(/\/show$/)
    await page.getByTestId('files-v2').first().waitFor()
    const history = page.getByTestId('version-history')
    await history.getByText(/^Version 1 ·/).waitFor()
    t.ok(await visible(history.getByText(/^Version 2 ·/)), 'version 2 is in the history')
    t.ok(await visible(history.getByText(/^Version 1 ·/)), 'and version 1 stays')
    await page.getByTestId('files-v1').getByRole('button', { name: 'Preview' }).first().click()
    t.match(await page.getByTestId('file-preview').innerText(), /cat mounts\.txt/, 'version 1 still shows what it was')
    await page.getByRole('button', { name: 'Close' }).click()
  })

  await t.test('the CSR deletes the script after confirming', async (t) => {
    await page.getByRole('button', { name: 'Delete' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('It leaves the library').waitFor()
    await dialog.getByRole('button', { name: 'Confirm' }).click()
    await page.waitForURL(/#\/scripts(\?.*)?$/)
    await page.getByText('Script deleted').waitFor()
    await page.getByRole('row').filter({ hasText: `Zeta ${suffix}` }).waitFor()
    t.equal(await page.getByRole('row').filter({ hasText: name }).count(), 0, 'it is gone from the library')
  })

  t.same(pageErrors, [], 'no uncaught errors on the page')
})
