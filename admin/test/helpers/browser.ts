/**
 * What the console's browser tests share: a server to test (a running one given HELPLINE_URL,
 * HELPLINE_ADMIN_EMAIL and HELPLINE_ADMIN_PASSWORD, otherwise one started for the test, building
 * the console first when admin/dist is missing), Chromium, and signing in and out.
 */
import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createClient, type HelplineClient } from '@helpline/sdk'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const consoleIndex = fileURLToPath(new URL('../../dist/index.html', import.meta.url))
const adminDir = fileURLToPath(new URL('../../', import.meta.url))

/** The newest modification time under `dir` (files only). */
function newest(dir: string): number {
  let max = 0
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const stat = statSync(join(dir, entry))
    if (stat.isFile()) max = Math.max(max, stat.mtimeMs)
  }
  return max
}

/**
 * The API serves admin/dist: build it when it is missing or older than the console's sources, for
 * a test of what the sources say now. (A running server given by HELPLINE_URL serves its own.)
 */
export function ensureConsoleBuilt() {
  if (process.env.HELPLINE_URL) return
  const sources = Math.max(newest(join(adminDir, 'src')), statSync(join(adminDir, 'index.html')).mtimeMs)
  if (existsSync(consoleIndex) && statSync(consoleIndex).mtimeMs >= sources) return
  execFileSync('npm', ['run', 'build', '-w', 'admin'], { cwd: repoRoot, stdio: 'pipe' })
}

export interface Target {
  url: string
  adminEmail: string
  adminPassword: string
}

type StartTestServer = (t: Test) => Promise<Target>

export async function target(t: Test): Promise<Target> {
  const url = process.env.HELPLINE_URL
  if (url) {
    const adminEmail = process.env.HELPLINE_ADMIN_EMAIL
    const adminPassword = process.env.HELPLINE_ADMIN_PASSWORD
    if (!adminEmail || !adminPassword) throw new Error('HELPLINE_URL needs HELPLINE_ADMIN_EMAIL and HELPLINE_ADMIN_PASSWORD')
    return { url: url.replace(/\/+$/, ''), adminEmail, adminPassword }
  }
  if (!existsSync(consoleIndex)) {
    execFileSync('npm', ['run', 'build', '-w', 'admin'], { cwd: repoRoot, stdio: 'pipe' })
  }
  // A variable specifier keeps the API's test helpers out of the console's type-check.
  const helper = '../../../api/test/helpers/server.ts'
  const { startTestServer } = (await import(helper)) as { startTestServer: StartTestServer }
  const server = await startTestServer(t)
  return { ...server, url: server.url.replace(/\/+$/, '') }
}

/** Headless Chromium, closed when the test ends. */
export async function launch(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.teardown(() => browser.close())
  return browser
}

export async function signIn(page: Page, url: string, email: string, password: string) {
  await page.goto(`${url}/#/login`)
  await page.locator('input[name="email"]').fill(email)
  await page.locator('input[name="password"]').fill(password)
  await page.locator('button[type="submit"]').click()
  // The side menu appears once react-admin has the user's permissions.
  await page.getByRole('menuitem', { name: /API tokens|API トークン/ }).waitFor()
}

export async function signOut(page: Page) {
  // "Profile", or "Profile: <name>" where the button shows the user's name.
  await page.locator('header button[aria-label^="Profile"], header button[aria-label^="プロフィール"]').first().click()
  await page.getByRole('menuitem', { name: /Logout|ログアウト/ }).click()
  await page.locator('input[name="email"]').waitFor()
}

/**
 * Waits (up to the page timeout) for a locator to be visible; false if it never is.
 * `isVisible()` samples without waiting, which fails on a loaded CI machine.
 */
export async function visible(locator: { waitFor(o: { state: 'visible' }): Promise<void> }): Promise<boolean> {
  return locator.waitFor({ state: 'visible' }).then(
    () => true,
    () => false,
  )
}

/** The SDK signed in as a user, for arranging what a test needs through the API. */
export async function tokenFor(url: string, email: string, password: string): Promise<HelplineClient> {
  const { data } = await createClient({ baseUrl: url }).POST('/api/v1/auth/login', { body: { email, password } })
  return createClient({ baseUrl: url, token: data!.token })
}

/**
 * Subtests that build on each other: after a failure the rest are passed over (they would only
 * time out, one by one).
 */
export function steps(t: Test) {
  let broken = false
  return (name: string, fn: (t: Test) => Promise<void>) =>
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
}

/**
 * At a phone's `width`: how wide the page scrolls, and what sticks out (the outermost elements
 * wider than the screen, outside a table that scrolls by itself), to say where when it fails.
 */
export async function sideways(page: Page, width: number): Promise<{ scrollWidth: number; wide: string[] }> {
  // No named functions inside: the test's transpiler would wrap them in a helper the page does not have.
  return page.evaluate((limit) => {
    const wide = Array.from(document.querySelectorAll('body *'))
      .filter(
        (el) =>
          el.getBoundingClientRect().right > limit + 1 &&
          !el.closest('.hl-scroll-x') &&
          (el.parentElement?.getBoundingClientRect().right ?? 0) <= limit + 1,
      )
      .slice(0, 3)
      .map((el) => `${el.tagName}.${String(el.className).slice(0, 80)} [${el.getAttribute('data-testid') ?? ''}] ${Math.round(el.getBoundingClientRect().right)}`)
    return { scrollWidth: document.documentElement.scrollWidth, wide }
  }, width)
}
