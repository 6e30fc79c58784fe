import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import Provider from 'oidc-provider'
import type { Config } from '../../src/config.ts'
import type { T } from './app.ts'

/**
 * A real OpenID Connect provider (oidc-provider) on a loopback port, for the single sign-on
 * tests. Its interaction signs in whichever account the test chose (`next`), with no page; the
 * ID tokens its token endpoint sends can be swapped for forged ones (`tamper`, with `forge`), as
 * an attacker between the two would.
 */
export interface Account {
  email: string
  email_verified: boolean
  name: string
  groups: string[]
}

export interface TestProvider {
  issuer: string
  clientSecret: string
  /** Accounts by subject; `account()` adds one (a CSR of example.com unless told otherwise). */
  accounts: Record<string, Account>
  account(id: string, fields?: Partial<Account>): string
  /** Who the provider signs in next; `deny`: the user refuses instead. */
  next: { accountId: string; deny?: boolean }
  /** Replaces the ID token the token endpoint sends, when set. */
  tamper: ((idToken: string) => Promise<string>) | undefined
  /** An ID token like the provider's with changes, signed with its key (or a stranger's). */
  forge(idToken: string, changes: Record<string, unknown>, options?: { strangerKey?: boolean }): Promise<string>
  /** The settings that point a Helpline server at this provider. */
  config(redirectUrl: string): Partial<Config>
}

export async function startProvider(t: T, redirectUrl: string): Promise<TestProvider> {
  const clientSecret = 'provider-client-secret-0123456789'
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const signingJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' }
  const { privateKey: strangerKey } = await generateKeyPair('RS256')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const accounts: Record<string, Account> = {}
  const state: TestProvider = {
    issuer,
    clientSecret,
    accounts,
    account(id, fields = {}) {
      accounts[id] = { email: `${id}@example.com`, email_verified: true, name: `Ms ${id}`, groups: ['helpline-csrs'], ...fields }
      return id
    },
    next: { accountId: '' },
    tamper: undefined,
    forge: (idToken, changes, options = {}) =>
      new SignJWT({ ...decodeJwt(idToken), ...changes }).setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' }).sign(options.strangerKey ? strangerKey : privateKey),
    config: (redirect) => ({
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: 'helpline',
      OIDC_CLIENT_SECRET: clientSecret,
      OIDC_REDIRECT_URL: redirect,
      OIDC_ALLOWED_DOMAINS: 'example.com',
      OIDC_ADMIN_VALUES: 'helpline-admins',
      OIDC_CSR_VALUES: 'helpline-csrs,helpdesk',
      OIDC_DISPLAY_NAME: 'Example SSO',
    }),
  }

  const provider = new Provider(issuer, {
    clients: [{ client_id: 'helpline', client_secret: clientSecret, redirect_uris: [redirectUrl], response_types: ['code'], grant_types: ['authorization_code'] }],
    jwks: { keys: [signingJwk] },
    cookies: { keys: ['a-cookie-key-for-the-test-provider'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    features: { devInteractions: { enabled: false } },
    findAccount: async (_ctx, id) => (accounts[id] ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) } : undefined),
  })
  provider.use(async (ctx, nextMiddleware) => {
    await nextMiddleware()
    const body = ctx.body as { id_token?: string } | undefined
    if (ctx.path === '/token' && state.tamper && body?.id_token) body.id_token = await state.tamper(body.id_token)
  })
  const handle = provider.callback()
  async function interact(req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res)
    if (state.next.deny) {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user said no' }, { mergeWithLastSubmission: false })
      return
    }
    const { accountId } = state.next
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) })
    grant.addOIDCScope(String(details.params.scope))
    const grantId = await grant.save()
    await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false })
  }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/interaction/')) interact(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)))
    else void handle(req, res)
  })
  return state
}
