import { fileURLToPath } from 'node:url'
import type { Config } from '../../src/config.ts'
import { setupApp, type SetupOptions, type T, type TestApp } from './app.ts'

export const consoleDir = fileURLToPath(new URL('../../../admin/dist', import.meta.url))

export interface TestServer {
  url: string
  adminEmail: string
  adminPassword: string
  h: TestApp
}

/**
 * A real HTTP server on a free loopback port, with the built console at `/`, for browser and
 * agent tests. Closed when the test ends.
 */
export async function startTestServer(t: T, overrides: Partial<Config> = {}, options: SetupOptions & { port?: number } = {}): Promise<TestServer> {
  const { port = 0, ...setup } = options
  const h = await setupApp(t, { CONSOLE_DIR: consoleDir, ...overrides }, setup)
  const address = await h.app.listen({ port, host: '127.0.0.1' })
  return { url: address, adminEmail: h.admin.email, adminPassword: h.admin.password, h }
}
