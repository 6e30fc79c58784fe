/**
 * Containing credentials in the console, in a real browser against a real server: an admin makes
 * an API token with chosen scopes and sees its scopes, last use and address; a CSR is not offered
 * the admin scope; the admin sees a CSR's sign-ins and tokens and revokes one; the CSR sets up
 * two-factor sign-in (QR code, recovery codes) and signs in again with a code; the admin turns on
 * "require two-factor for everyone" and, having none, is sent to set it up.
 *
 * Starts its own server (PGlite) with the console built from the current sources.
 */
import t from 'tap'
import { Secret, TOTP } from 'otpauth'
import { createClient, type HelplineClient } from '@helpline/sdk'
import { ensureConsoleBuilt, launch, signIn, signOut, target, visible } from './helpers/browser.ts'

t.setTimeout(180_000)

const codeAt = (secret: string, timestamp: number) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp })

async function signedIn(url: string, email: string, password: string, code?: string): Promise<HelplineClient> {
  const { data } = await createClient({ baseUrl: url }).POST('/api/v1/auth/login', { body: { email, password, ...(code ? { code } : {}) } })
  return createClient({ baseUrl: url, token: data!.token })
}

t.test('scopes, an admin revoking a CSR’s token, two-factor set-up and sign-in, the site setting', async (t) => {
  ensureConsoleBuilt()
  const server = await target(t)
  const suffix = Date.now().toString(36)
  const adminApi = await signedIn(server.url, server.adminEmail, server.adminPassword)
  const csr = { email: `tokens-${suffix}@example.com`, name: `Toni ${suffix}`, password: `tokens-pw-${suffix}` }
  const { data: csrUser } = await adminApi.POST('/api/v1/users', { body: { ...csr, role: 'csr' } })
  const csrApi = await signedIn(server.url, csr.email, csr.password)
  const { data: robot } = await csrApi.POST('/api/v1/tokens', { body: { name: 'nightly robot', scopes: ['read'] } })

  const browser = await launch(t)
  const adminPage = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 1000 } })).newPage()
  const csrPage = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } })).newPage()
  const pageErrors: string[] = []
  for (const page of [adminPage, csrPage]) {
    page.setDefaultTimeout(20_000)
    page.on('pageerror', (error) => pageErrors.push(error.message))
  }

  await t.test('an admin makes a token with chosen scopes and sees its last use and address', async (t) => {
    await signIn(adminPage, server.url, server.adminEmail, server.adminPassword)
    await adminPage.goto(`${server.url}/#/tokens/create`)
    await adminPage.locator('input[name="name"]').fill('reporting')
    t.ok(await adminPage.getByRole('checkbox', { name: /^Read/ }).isChecked(), 'read is ticked by default')
    await adminPage.getByRole('checkbox', { name: /^Admin/ }).check()
    await adminPage.getByRole('button', { name: 'Save' }).click()
    const dialog = adminPage.getByRole('dialog')
    const secret = await dialog.getByTestId('new-token').inputValue()
    const users = await fetch(`${server.url}/api/v1/users`, { headers: { authorization: `Bearer ${secret}` } })
    t.equal(users.status, 200, 'the admin scope lets it list users')
    const write = await fetch(`${server.url}/api/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerName: 'Nope' }),
    })
    t.equal(((await write.json()) as { code: string }).code, 'SCOPE_REQUIRED', 'without the sessions scope it cannot run sessions')
    await dialog.getByRole('button', { name: 'I have copied it' }).click()
    const row = adminPage.getByRole('row').filter({ hasText: 'reporting' })
    await row.getByText('127.0.0.1').waitFor()
    t.match(await row.innerText(), /read[\s\S]*admin/, 'the list shows its scopes')
    t.notMatch(await row.innerText(), /sessions/, 'and only those')
    await adminPage.screenshot({ path: '/tmp/helpline-tokens-list.png' })
  })

  await t.test('a CSR is not offered the admin scope', async (t) => {
    await signIn(csrPage, server.url, csr.email, csr.password)
    await csrPage.goto(`${server.url}/#/tokens/create`)
    await csrPage.getByRole('checkbox', { name: /^Sessions/ }).waitFor()
    t.equal(await csrPage.getByRole('checkbox', { name: /^Admin/ }).count(), 0)
  })

  await t.test('the admin sees the CSR’s sign-ins and tokens and revokes one', async (t) => {
    await adminPage.goto(`${server.url}/#/users/${csrUser!.id}`)
    const panel = adminPage.getByTestId('user-credentials')
    const row = panel.getByRole('row').filter({ hasText: 'nightly robot' })
    await row.waitFor()
    t.ok(await visible(panel.getByRole('row').filter({ hasText: 'Console sign-in' }).first()), 'the console sign-ins are listed')
    await adminPage.screenshot({ path: '/tmp/helpline-tokens-user.png' })
    await row.getByRole('button', { name: 'Revoke' }).click()
    await adminPage.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click()
    await adminPage.getByText('Revoked: it stops working on its next request').waitFor()
    await row.waitFor({ state: 'detached' })
    const after = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${robot!.token}` } })
    t.equal(after.status, 401, 'the revoked token stops working')
  })

  let csrSecret = ''
  let confirmedAt = 0
  await t.test('the CSR sets up two-factor sign-in on the profile', async (t) => {
    await csrPage.goto(`${server.url}/#/profile`)
    const card = csrPage.getByTestId('two-factor')
    await card.getByRole('button', { name: 'Set up two-factor sign-in' }).click()
    await card.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor()
    csrSecret = (await card.getByTestId('two-factor-secret').innerText()).trim()
    t.match(csrSecret, /^[A-Z2-7]{32}$/, 'the key is shown for typing by hand')
    await csrPage.screenshot({ path: '/tmp/helpline-tokens-qr.png' })
    await card.locator('input[name="twoFactorCode"]').fill('000000')
    await card.getByRole('button', { name: 'Turn on' }).click()
    await card.getByText('The code is wrong or was already used').waitFor()
    confirmedAt = Date.now()
    await card.locator('input[name="twoFactorCode"]').fill(codeAt(csrSecret, confirmedAt))
    await card.getByRole('button', { name: 'Turn on' }).click()
    const codes = card.getByTestId('recovery-codes').locator('li')
    await codes.first().waitFor()
    t.equal(await codes.count(), 10, 'ten recovery codes are shown')
    await csrPage.screenshot({ path: '/tmp/helpline-tokens-recovery.png' })
    await card.getByRole('button', { name: 'I have saved them' }).click()
    await card.getByText('On: signing in asks for a code').waitFor()
  })

  await t.test('signing in asks for the code', async (t) => {
    await signOut(csrPage)
    await csrPage.locator('input[name="email"]').fill(csr.email)
    await csrPage.locator('input[name="password"]').fill(csr.password)
    await csrPage.locator('button[type="submit"]').click()
    await csrPage.getByText('Two-factor sign-in is on for this account').waitFor()
    await csrPage.screenshot({ path: '/tmp/helpline-tokens-code-step.png' })
    await csrPage.locator('input[name="code"]').fill(codeAt(csrSecret, confirmedAt + 30_000))
    await csrPage.locator('button[type="submit"]').click()
    await csrPage.getByRole('menuitem', { name: 'API tokens' }).waitFor()
    t.pass('signed in with the code')
  })

  await t.test('the admin requires two-factor for everyone and is sent to set it up', async (t) => {
    await adminPage.goto(`${server.url}/#/settings`)
    const toggle = adminPage.getByRole('switch', { name: 'Require two-factor sign-in for everyone' })
    // A controlled switch: it turns on once the server has saved it.
    await toggle.click()
    await adminPage.getByText('Settings saved').waitFor()
    t.ok(await toggle.isChecked(), 'the switch shows it on')
    await adminPage.goto(`${server.url}/#/sessions`)
    await adminPage.waitForURL(/#\/profile$/)
    await adminPage.getByText('This site requires two-factor sign-in: set it up to continue.').waitFor()
    t.pass('without two-factor the admin lands on the profile, asked to set it up')
    await adminPage.screenshot({ path: '/tmp/helpline-tokens-required.png' })
    // Back to normal for anyone else using this server: set it up through the API, then turn it off.
    const { data: started } = await adminApi.POST('/api/v1/me/two-factor', { body: {} })
    await adminApi.POST('/api/v1/me/two-factor/confirm', { body: { code: codeAt(started!.secret, Date.now()) } })
    const { data: settings } = await adminApi.PATCH('/api/v1/settings', { body: { requireTwoFactor: false } })
    t.equal(settings?.requireTwoFactor, false)
    await adminApi.POST('/api/v1/me/two-factor/disable', { body: { password: server.adminPassword } })
  })

  t.same(pageErrors, [], 'no uncaught errors on the pages')
})
