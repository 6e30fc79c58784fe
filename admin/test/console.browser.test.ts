/**
 * The console in a real browser against a real server: sign in as the site
 * admin, create a CSR through the form, sign in as that CSR, check what a CSR
 * is offered and refused, make and revoke an API token, and switch to Japanese.
 *
 * HELPLINE_URL (+ HELPLINE_ADMIN_EMAIL, HELPLINE_ADMIN_PASSWORD) points it at a
 * running server; without it the test starts one (building the console first
 * when admin/dist is missing).
 */
import t from 'tap'
import type { Browser, Page } from 'playwright-core'
import { launch, signIn, signOut, target, visible } from './helpers/browser.ts'

const SCREENSHOT = '/tmp/helpline-console.png'

/** A request with the token the console stored, as a script on the page would send it. */
async function apiStatus(page: Page, path: string): Promise<{ status: number; code?: string }> {
  return page.evaluate(async (path) => {
    const token = localStorage.getItem('helpline.token')
    const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } })
    const body = (await response.json().catch(() => ({}))) as { code?: string }
    return { status: response.status, code: body.code }
  }, path)
}

// A browser and a server take longer than tap's default 30 s.
t.setTimeout(180_000)

t.test('the console in a browser', async (t) => {
  const server = await target(t)
  const browser: Browser = await launch(t)
  // An English browser: the console starts in English and is switched by hand.
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  const suffix = Date.now().toString(36)
  const csr = { email: `csr-${suffix}@example.com`, name: `Casey ${suffix}`, password: `csr-password-${suffix}` }

  await t.test('the admin signs in and sees Users', async (t) => {
    await signIn(page, server.url, server.adminEmail, server.adminPassword)
    t.ok(await visible(page.getByRole('menuitem', { name: 'Users' })), 'Users is in the menu')
    t.ok(await visible(page.getByText('Helpline', { exact: true }).first()), 'the product name is shown')
  })

  await t.test('the admin creates a CSR through the form', async (t) => {
    await page.goto(`${server.url}/#/users/create`)
    // An email already in use comes back from the API as an error on the field.
    await page.locator('input[name="email"]').fill(server.adminEmail)
    await page.locator('input[name="name"]').fill(csr.name)
    await page.locator('input[name="password"]').fill(csr.password)
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByText('This email is already used by another user').waitFor()
    t.pass('EMAIL_TAKEN is shown on the email field')

    await page.locator('input[name="email"]').fill(csr.email)
    await page.getByRole('button', { name: 'Save' }).click()
    await page.waitForURL(/#\/users$/)
    const row = page.getByRole('row').filter({ hasText: csr.email })
    await row.waitFor()
    t.match(await row.innerText(), /Support representative/, 'listed with the CSR role')
    t.match(await row.innerText(), /Active/, 'listed as active')
    const own = page.getByRole('row').filter({ hasText: server.adminEmail })
    t.equal(await own.getByRole('button', { name: 'Disable' }).count(), 0, 'no Disable on your own account')
    await page.screenshot({ path: '/tmp/helpline-console-users.png' })
  })

  await t.test('the admin disables and enables the CSR', async (t) => {
    const row = page.getByRole('row').filter({ hasText: csr.email })
    await row.getByRole('button', { name: 'Disable' }).click()
    await row.getByRole('button', { name: 'Enable' }).waitFor()
    t.match(await row.innerText(), /Disabled/, 'shown as disabled')
    await row.getByRole('button', { name: 'Enable' }).click()
    await row.getByRole('button', { name: 'Disable' }).waitFor()
    t.match(await row.innerText(), /Active/, 'shown as active again')
  })

  await t.test('the admin signs out', async (t) => {
    await signOut(page)
    t.equal(await page.evaluate(() => localStorage.getItem('helpline.token')), null, 'the token is forgotten')
  })

  await t.test('the CSR is not offered Users and the API refuses them', async (t) => {
    await signIn(page, server.url, csr.email, csr.password)
    t.equal(await page.getByRole('menuitem', { name: 'Users' }).count(), 0, 'no Users menu entry')
    t.same(await apiStatus(page, '/api/v1/users?page=1&perPage=10&sort=createdAt&order=desc'), {
      status: 403,
      code: 'FORBIDDEN',
    })
    t.equal((await apiStatus(page, '/api/v1/me')).status, 200, 'the same token works where a CSR may go')
  })

  await t.test('the CSR makes an API token, sees it once, and revokes it', async (t) => {
    await page.goto(`${server.url}/#/tokens/create`)
    await page.locator('input[name="name"]').fill('ci script')
    await page.getByRole('button', { name: 'Save' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('It will not be shown again').waitFor()
    const secret = await dialog.getByTestId('new-token').inputValue()
    t.ok(secret.length > 20, 'the token is shown')
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${secret}` } })
    t.equal(me.status, 200, 'the shown token works')
    t.equal(((await me.json()) as { email: string }).email, csr.email, 'and belongs to the CSR')
    t.ok(await visible(dialog.getByRole('button', { name: 'Copy' }).first()), 'a copy button is offered')
    await dialog.getByRole('button', { name: 'I have copied it' }).click()

    await page.waitForURL(/#\/tokens$/)
    const row = page.getByRole('row').filter({ hasText: 'ci script' })
    await row.waitFor()
    t.notMatch(await page.locator('body').innerText(), secret, 'the list does not show the secret')
    await row.getByRole('button', { name: 'Revoke' }).click()
    await page.getByRole('dialog').getByText('Programs using this token will stop working').waitFor()
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click()
    // The notice comes after the server answered; the row alone can vanish for a moment while the list refetches.
    await page.getByText('API token revoked').waitFor()
    await row.waitFor({ state: 'detached' })
    const after = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${secret}` } })
    t.equal(after.status, 401, 'the revoked token no longer works')
  })

  await t.test('the console switches to Japanese', async (t) => {
    await page.locator('header button[aria-haspopup="true"]', { hasText: 'English' }).click()
    await page.getByRole('menuitem', { name: '日本語' }).click()
    await page.getByRole('menuitem', { name: 'API トークン' }).waitFor()
    t.ok(await visible(page.getByRole('menuitem', { name: 'プロフィール' })), 'our labels are Japanese')
    // The token list is empty again: react-admin's own empty page speaks Japanese too.
    t.ok(await visible(page.getByText('作成しますか？')), "react-admin's labels are Japanese")
    t.ok(await visible(page.getByRole('link', { name: '作成' })), 'and so are its buttons')
    await page.screenshot({ path: SCREENSHOT })
  })

  await t.test('the CSR changes their password on the profile page', async (t) => {
    await page.goto(`${server.url}/#/profile`)
    await page.getByRole('heading', { name: csr.name }).waitFor()
    const newPassword = `${csr.password}-new`
    await page.locator('input[name="currentPassword"]').fill('not-my-password')
    await page.locator('input[name="newPassword"]').fill(newPassword)
    await page.locator('input[name="confirmPassword"]').fill(newPassword)
    await page.getByRole('button', { name: 'パスワードを変更' }).click()
    await page.getByText('現在のパスワードが違います').waitFor()
    t.pass('a wrong current password is shown on its field, in Japanese')

    await page.locator('input[name="currentPassword"]').fill(csr.password)
    await page.getByRole('button', { name: 'パスワードを変更' }).click()
    await page.getByText('パスワードを変更しました').waitFor()
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: csr.email, password: newPassword }),
    })
    t.equal(login.status, 200, 'the new password signs in')
  })

  t.same(pageErrors, [], 'no uncaught errors on the page')
})
