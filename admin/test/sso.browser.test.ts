/**
 * Single sign-on in a real browser against a real server and a real OpenID Connect provider
 * (api/test/helpers/oidc-provider.ts): with local passwords off, the sign-in page offers only
 * "Sign in with Example SSO" and a small "Administrator sign-in" link; the button goes to the
 * provider and back, the console exchanges the one-time code and is signed in (the profile offers
 * no password change); a refusal at the provider comes back as a message; the break-glass admin
 * still signs in with a password.
 *
 * Starts its own server (PGlite) with the console built from the current sources.
 */
import t from 'tap'
import { createServer } from 'node:net'
import { ensureConsoleBuilt, launch, visible } from './helpers/browser.ts'

t.setTimeout(180_000)

// Variable specifiers keep the API's test helpers out of the console's type-check.
interface Idp {
  account(id: string, fields?: Record<string, unknown>): string
  next: { accountId: string; deny?: boolean }
  config(redirectUrl: string): Record<string, unknown>
}
const providerHelper = '../../api/test/helpers/oidc-provider.ts'
const serverHelper = '../../api/test/helpers/server.ts'
const { startProvider } = (await import(providerHelper)) as { startProvider: (t: unknown, redirectUrl: string) => Promise<Idp> }
const { startTestServer } = (await import(serverHelper)) as {
  startTestServer: (t: unknown, overrides: Record<string, unknown>, options: { port: number }) => Promise<{ url: string; adminEmail: string; adminPassword: string }>
}

/** A free loopback port: the redirect URL registered at the provider must name it before the server starts. */
const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number }
    probe.close(() => resolve(port))
  })
})

t.test('SSO only, with the break-glass admin’s password behind a link', async (t) => {
  ensureConsoleBuilt()
  const redirectUrl = `http://127.0.0.1:${port}/api/v1/auth/oidc/callback`
  const idp = await startProvider(t, redirectUrl)
  const server = await startTestServer(t, { ...idp.config(redirectUrl), LOCAL_PASSWORDS: 'off', BREAK_GLASS_ADMIN: 'admin@example.com' }, { port })
  const url = server.url.replace(/\/+$/, '')
  const browser = await launch(t)
  const page = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } })).newPage()
  page.setDefaultTimeout(20_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  const button = page.getByRole('link', { name: 'Sign in with Example SSO' })

  await t.test('the sign-in page offers the provider and hides the password form', async (t) => {
    await page.goto(`${url}/#/login`)
    t.ok(await visible(button), 'the SSO button')
    t.ok(await visible(page.getByRole('button', { name: 'Administrator sign-in' })), 'the break-glass link')
    t.equal(await page.locator('input[name="password"]').count(), 0, 'no password form')
  })

  await t.test('a refusal at the provider comes back as a message', async (t) => {
    idp.next = { accountId: idp.account('yan'), deny: true }
    await button.click()
    t.ok(await visible(page.getByText('Sign-in was cancelled or refused at your identity provider.')), 'the reason is shown')
  })

  await t.test('the button signs in through the provider; the profile has no password to change', async (t) => {
    idp.next = { accountId: idp.account('zoe') }
    await page.goto(`${url}/#/login`)
    await button.click()
    await page.getByRole('menuitem', { name: /Sessions/ }).first().waitFor()
    t.notMatch(page.url(), /oidc=/, 'the one-time code is gone from the address bar')
    t.ok(await page.evaluate(() => window.localStorage.getItem('helpline.token')?.startsWith('hls_')), 'signed in')
    await page.goto(`${url}/#/profile`)
    t.ok(await visible(page.getByText('zoe@example.com')), 'her profile')
    t.equal(await page.getByText('Change password').count(), 0, 'no password change for an SSO account')
    await page.evaluate(() => window.localStorage.clear())
  })

  await t.test('the break-glass admin signs in with a password', async (t) => {
    await page.goto(`${url}/#/login`)
    await page.getByRole('button', { name: 'Administrator sign-in' }).click()
    await page.locator('input[name="email"]').fill(server.adminEmail)
    await page.locator('input[name="password"]').fill(server.adminPassword)
    await page.locator('button[type="submit"]').click()
    t.ok(await visible(page.getByRole('menuitem', { name: /API tokens/ })), 'signed in')
  })

  t.same(pageErrors, [], 'no page errors')
})
