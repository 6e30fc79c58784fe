/**
 * Webhooks in the console, in a real browser against a real server and a receiver on loopback:
 * a site admin creates an endpoint (a non-http URL is refused on the field), sees the signing
 * secret once, watches a delivery arrive with its attempt, and sends it again; a CSR has no
 * Webhooks menu. Starts its own server (PGlite) with the console built from the current sources.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createClient, verifyWebhook, type HelplineClient } from '@helpline/sdk'
import { ensureConsoleBuilt, launch, signIn, target } from './helpers/browser.ts'

t.setTimeout(180_000)

async function signedIn(url: string, email: string, password: string): Promise<HelplineClient> {
  const { data } = await createClient({ baseUrl: url }).POST('/api/v1/auth/login', { body: { email, password } })
  return createClient({ baseUrl: url, token: data!.token })
}

t.test('a site admin registers an endpoint, keeps its secret, sees deliveries and sends one again', async (t) => {
  ensureConsoleBuilt()
  const server = await target(t)
  const received: { body: string; headers: Record<string, string | string[] | undefined> }[] = []
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    receiver.closeAllConnections()
    receiver.close()
  })
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
  const adminApi = await signedIn(server.url, server.adminEmail, server.adminPassword)
  const suffix = Date.now().toString(36)
  const csr = { email: `hooks-${suffix}@example.com`, name: `Hook ${suffix}`, password: `hooks-pw-${suffix}` }
  await adminApi.POST('/api/v1/users', { body: { ...csr, role: 'csr' } })

  const browser = await launch(t)
  const page = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1440, height: 1000 } })).newPage()
  page.setDefaultTimeout(20_000)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  await signIn(page, server.url, server.adminEmail, server.adminPassword)
  await page.getByRole('menuitem', { name: 'Webhooks' }).click()
  await page.getByRole('link', { name: 'New webhook endpoint' }).click()

  await page.locator('input[name="url"]').fill('ftp://files.example.com/hook')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByText('Must be an http:// or https:// URL').waitFor()
  t.pass('a non-http URL is refused on the field')

  await page.locator('input[name="url"]').fill(hookUrl)
  await page.locator('input[name="description"]').fill('Ticketing')
  await page.getByRole('button', { name: 'Save' }).click()
  const dialog = page.getByRole('dialog')
  const secret = await dialog.getByTestId('new-webhook-secret').inputValue()
  t.match(secret, /^whsec_/, 'the signing secret is shown once')
  await dialog.getByRole('button', { name: 'I have copied it' }).click()
  await page.getByText('No deliveries yet').waitFor()

  // An event: a session that ends (subscribed by default).
  const { data: session } = await adminApi.POST('/api/v1/sessions', { body: { customerName: 'Alice' } })
  await adminApi.POST('/api/v1/sessions/{id}/end', { params: { path: { id: session!.id } } })
  const deadline = Date.now() + 30_000
  while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const message = await verifyWebhook(secret, received[0]!.body, received[0]!.headers)
  t.equal(message.type, 'session.ended', 'the receiver got a delivery signed with the secret the console showed')

  // The worker records the result just after the receiver answers: refresh until it shows.
  const table = page.getByTestId('webhook-deliveries')
  for (let i = 0; i < 60 && !(await table.getByText('Delivered').isVisible()); i++) {
    await page.getByTestId('refresh-deliveries').click()
    await page.waitForTimeout(500)
  }
  await table.getByText('Delivered').waitFor()
  t.ok(await table.getByText('Session ended').isVisible(), 'the delivery is listed with its event')
  await table.getByRole('button', { name: 'Send again' }).click()
  await page.getByText('The delivery will be sent again shortly').waitFor()
  const again = Date.now() + 30_000
  while (received.length < 2 && Date.now() < again) await new Promise((r) => setTimeout(r, 100))
  t.equal(received[1]?.headers['webhook-id'], received[0]!.headers['webhook-id'], 'sent again with the same webhook-id')

  const csrPage = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } })).newPage()
  csrPage.setDefaultTimeout(20_000)
  await signIn(csrPage, server.url, csr.email, csr.password)
  await csrPage.getByRole('menuitem', { name: 'Sessions' }).waitFor()
  t.equal(await csrPage.getByRole('menuitem', { name: 'Webhooks' }).count(), 0, 'a CSR has no Webhooks menu')
  t.same(pageErrors, [], 'no script errors')
})
