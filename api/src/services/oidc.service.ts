import { and, eq, gt, lt, sql } from 'drizzle-orm'
import * as client from 'openid-client'
import type { Config } from '../config.ts'
import type { Db } from '../db/client.ts'
import { oidcCodes, oidcLogins, users } from '../db/schema.ts'
import { AppError, badRequest, forbidden, unauthorized, unavailable } from '../errors.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import { hashToken, newToken } from '../lib/crypto.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { Role } from './accounts.service.ts'
import type { AuthService } from './auth.service.ts'

/** A sign-in started at the provider must come back within this long. */
const LOGIN_TTL_MS = 10 * 60_000
/** The console exchanges its one-time code at once; a minute covers a slow page load. */
const CODE_TTL_MS = 60_000
const CALLBACK_PATH = '/api/v1/auth/oidc/callback'
/** What an SSO-only user has for a password: no scrypt hash, so no password ever matches. */
export const NO_PASSWORD = '!sso'

/** The settings single sign-on runs on, derived once from the Config (docs/sso.md). */
export interface OidcSettings {
  issuer: URL
  clientId: string
  clientSecret: string | undefined
  redirectUrl: string
  /** The console's address: the callback sends the browser back here. */
  consoleUrl: string
  allowedDomains: string[]
  roleClaim: string
  adminValues: string[]
  csrValues: string[]
  displayName: string
  /** BREAK_GLASS_ADMIN, lower-cased: the account single sign-on never links, re-maps or signs in. */
  breakGlass: string | undefined
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

export function oidcSettings(c: Config): OidcSettings | undefined {
  if (!c.OIDC_ISSUER || !c.OIDC_CLIENT_ID) return undefined
  const base = c.PUBLIC_URL?.replace(/\/+$/, '')
  const redirectUrl = c.OIDC_REDIRECT_URL ?? `${base}${CALLBACK_PATH}`
  const consoleUrl = base ? `${base}/` : new URL(redirectUrl.endsWith(CALLBACK_PATH) ? redirectUrl.slice(0, -CALLBACK_PATH.length) + '/' : '/', redirectUrl).href
  return {
    issuer: new URL(c.OIDC_ISSUER),
    clientId: c.OIDC_CLIENT_ID,
    clientSecret: c.OIDC_CLIENT_SECRET,
    redirectUrl,
    consoleUrl,
    allowedDomains: list(c.OIDC_ALLOWED_DOMAINS).map((d) => d.toLowerCase()),
    roleClaim: c.OIDC_ROLE_CLAIM,
    adminValues: list(c.OIDC_ADMIN_VALUES),
    csrValues: list(c.OIDC_CSR_VALUES),
    displayName: c.OIDC_DISPLAY_NAME,
    breakGlass: c.BREAK_GLASS_ADMIN?.trim().toLowerCase(),
  }
}

/** The role a user's claims map to: admin before CSR; none → no access. */
export function mapRole(s: Pick<OidcSettings, 'roleClaim' | 'adminValues' | 'csrValues'>, claims: Record<string, unknown>): Role | undefined {
  const raw = claims[s.roleClaim]
  const values = (Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw]).map(String)
  if (s.adminValues.some((v) => values.includes(v))) return 'admin'
  if (s.csrValues.includes('*') || s.csrValues.some((v) => values.includes(v))) return 'csr'
  return undefined
}

const stateInvalid = () => badRequest('OIDC_STATE_INVALID', 'This sign-in is unknown, expired or already used: start again from the sign-in page')

/** What openid-client's refusal of the provider's answer means, as a stable error. */
function refusal(err: unknown): AppError {
  const e = err as { code?: unknown; message?: string; cause?: { cause?: { claim?: unknown }; error?: unknown } }
  const claim = e.cause?.cause?.claim
  if (e.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && claim === 'nonce') return badRequest('OIDC_NONCE_INVALID', 'The identity provider’s answer does not belong to this sign-in (nonce)')
  if (e.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return unauthorized('OIDC_TOKEN_EXPIRED', `The identity provider’s ID token is expired or not yet valid (${String(claim ?? 'exp')})`)
  if (e.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') return unauthorized('OIDC_TOKEN_INVALID', `The identity provider’s ID token was not issued for this server (${String(claim)})`)
  if (e.code === 'OAUTH_INVALID_RESPONSE' || e.code === 'OAUTH_KEY_SELECTION_FAILED' || e.code === 'OAUTH_PARSE_ERROR') {
    return unauthorized('OIDC_TOKEN_INVALID', 'The identity provider’s ID token is not validly signed or not well formed')
  }
  if (err instanceof client.ResponseBodyError) return badRequest('OIDC_CODE_REJECTED', `The identity provider refused the sign-in code (${err.error})`)
  if (err instanceof client.AuthorizationResponseError) return badRequest('OIDC_PROVIDER_ERROR', `The identity provider answered ${err.error}`)
  return unavailable('OIDC_PROVIDER_UNAVAILABLE', 'The identity provider could not be reached or answered unexpectedly; try again')
}

/**
 * OpenID Connect sign-in (authorization code with PKCE, state and nonce), through openid-client.
 * The provider's metadata is discovered on first use and kept. The console never sees a bearer
 * token in a URL: the callback hands it a one-time code to exchange.
 */
export class OidcService {
  private configuration: Promise<client.Configuration> | undefined

  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly auth: AuthService,
    readonly settings: OidcSettings,
  ) {}

  private provider(): Promise<client.Configuration> {
    const s = this.settings
    this.configuration ??= client
      .discovery(
        s.issuer,
        s.clientId,
        undefined,
        s.clientSecret ? client.ClientSecretBasic(s.clientSecret) : client.None(),
        // http:// is allowed only for a loopback issuer (config.ts), i.e. a provider in a test.
        s.issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests], timeout: 10 } : { timeout: 10 },
      )
      .then((config) => {
        // The ID token's signature is checked too, not only TLS to the token endpoint (which the
        // specification allows): a token swapped on its way, or a provider that does not sign, is refused.
        client.enableNonRepudiationChecks(config)
        return config
      })
      .catch((err: unknown) => {
        this.configuration = undefined
        throw err
      })
    return this.configuration
  }

  /** Stores state, nonce and PKCE verifier; returns the provider's authorization URL. */
  async start(returnTo: string | undefined): Promise<string> {
    const config = await this.provider().catch((err: unknown) => {
      throw refusal(err)
    })
    const state = client.randomState()
    const nonce = client.randomNonce()
    const codeVerifier = client.randomPKCECodeVerifier()
    const now = Date.now()
    await this.db.insert(oidcLogins).values({ stateHash: hashToken(state), nonce, codeVerifier, returnTo: returnTo ?? null, expiresAt: new Date(now + LOGIN_TTL_MS) })
    return client
      .buildAuthorizationUrl(config, {
        redirect_uri: this.settings.redirectUrl,
        scope: 'openid email profile',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      })
      .toString()
  }

  /**
   * The provider's answer: checks it, finds or creates the user, and returns where to send the
   * browser (the console, with a one-time code or the provider's refusal).
   */
  async callback(query: Record<string, string | undefined>): Promise<string> {
    const state = query.state
    if (!state) throw stateInvalid()
    // Single use: taking the row deletes it, so a replayed callback finds nothing.
    const [login] = await this.db
      .delete(oidcLogins)
      .where(and(eq(oidcLogins.stateHash, hashToken(state)), gt(oidcLogins.expiresAt, new Date())))
      .returning()
    if (!login) throw stateInvalid()
    const back = new URL(this.settings.consoleUrl)
    if (query.error) {
      // The user cancelled or the provider refused them: back to the sign-in page with its reason.
      back.hash = `#/login?oidc_error=${encodeURIComponent(query.error === 'access_denied' ? 'access_denied' : 'provider_error')}`
      return back.href
    }
    const config = await this.provider().catch((err: unknown) => {
      throw refusal(err)
    })
    const current = new URL(this.settings.redirectUrl)
    for (const [key, value] of Object.entries(query)) if (value !== undefined) current.searchParams.set(key, value)
    let claims: Record<string, unknown>
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      })
      const idClaims = tokens.claims()
      if (!idClaims) throw unauthorized('OIDC_TOKEN_INVALID', 'The identity provider sent no ID token')
      claims = { ...idClaims }
      // Groups and email are often only in userinfo (Okta, Keycloak without mappers).
      if (config.serverMetadata().userinfo_endpoint) {
        const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)
        // The ID token wins where both have a claim; userinfo fills in the rest.
        claims = { ...info, ...idClaims }
      }
    } catch (err) {
      if (err instanceof AppError) throw err
      throw refusal(err)
    }
    const userId = await this.signIn(String(claims.iss), String(claims.sub), claims)
    const code = newToken('hlo')
    await this.db.insert(oidcCodes).values({ codeHash: hashToken(code), userId, expiresAt: new Date(Date.now() + CODE_TTL_MS) })
    const params = new URLSearchParams({ oidc: code })
    if (login.returnTo) params.set('returnTo', login.returnTo)
    back.hash = `#/login?${params.toString()}`
    return back.href
  }

  /** Finds the user by issuer and subject, else links by verified email, else creates; maps the role. */
  private async signIn(issuer: string, subject: string, claims: Record<string, unknown>): Promise<string> {
    const email = typeof claims.email === 'string' ? claims.email.trim() : ''
    const domain = email.includes('@') ? email.slice(email.lastIndexOf('@') + 1).toLowerCase() : ''
    if (!email || claims.email_verified !== true) throw forbidden('OIDC_DOMAIN_NOT_ALLOWED', 'The identity provider did not give a verified email address for this account')
    if (this.settings.allowedDomains.length > 0 && !this.settings.allowedDomains.includes(domain)) {
      throw forbidden('OIDC_DOMAIN_NOT_ALLOWED', `Accounts of ${domain} may not sign in here`)
    }
    // The break-glass admin is the way in when the provider is down or misconfigured: a provider
    // that claimed its email must not link it, take it over, or demote it by its groups.
    if (this.settings.breakGlass !== undefined && email.toLowerCase() === this.settings.breakGlass) {
      throw forbidden('OIDC_BREAK_GLASS_ACCOUNT', 'This is the break-glass administrator: it signs in with its password, not with single sign-on')
    }
    const role = mapRole(this.settings, claims)
    if (!role) throw forbidden('OIDC_NO_ROLE', `Your account is in none of the groups that give access to Helpline (claim ${this.settings.roleClaim})`)
    const name = (typeof claims.name === 'string' && claims.name.trim()) || email
    return this.auth.changingUsers(async (tx, changed) => {
      const [bySubject] = await tx.select().from(users).where(and(eq(users.oidcIssuer, issuer), eq(users.oidcSubject, subject))).for('update')
      const user = bySubject ?? (await tx.select().from(users).where(sql`lower(${users.email}) = ${email.toLowerCase()}`).for('update'))[0]
      const system = { type: 'system' as const }
      if (!user) {
        const [created] = await tx.insert(users).values({ email, name: name.slice(0, 200), role, passwordHash: NO_PASSWORD, oidcIssuer: issuer, oidcSubject: subject }).returning()
        await appendSiteEvent(tx, this.keyring, { type: 'user.created', actor: system, targetType: 'user', targetId: created!.id, data: { method: 'oidc', issuer, role } })
        return created!.id
      }
      if (user.disabled) throw forbidden('ACCOUNT_DISABLED', 'This account is disabled')
      if (!bySubject) {
        if (user.oidcSubject !== null) throw forbidden('OIDC_ACCOUNT_MISMATCH', 'This email belongs to an account linked to another identity')
        await tx.update(users).set({ oidcIssuer: issuer, oidcSubject: subject, updatedAt: new Date() }).where(eq(users.id, user.id))
        await appendSiteEvent(tx, this.keyring, { type: 'user.sso_linked', actor: system, targetType: 'user', targetId: user.id, data: { issuer } })
      }
      if (user.role !== role) {
        changed(user.id)
        await tx.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, user.id))
        await appendSiteEvent(tx, this.keyring, { type: 'user.role_changed', actor: system, targetType: 'user', targetId: user.id, data: { from: user.role, to: role, method: 'oidc' } })
      }
      return user.id
    })
  }

  /** The console's one-time code → a console sign-in (the same answer as a password sign-in). */
  async exchange(code: string, ip: string) {
    const [row] = /^hlo_[A-Za-z0-9_-]{20,}$/.test(code)
      ? await this.db
          .delete(oidcCodes)
          .where(and(eq(oidcCodes.codeHash, hashToken(code)), gt(oidcCodes.expiresAt, new Date())))
          .returning()
      : []
    if (!row) throw unauthorized('OIDC_CODE_INVALID', 'This sign-in code is unknown, expired or already used: sign in again')
    return this.auth.issueSession(row.userId, ip, 'oidc', async (tx, userId) => {
      await appendSiteEvent(tx, this.keyring, { type: 'user.signed_in', actor: { type: 'user', id: userId }, targetType: 'user', targetId: userId, data: { method: 'oidc', ip } })
    })
  }

  /** Drops sign-ins and codes nobody came back for (the sweeper). */
  async expire(): Promise<number> {
    const now = new Date()
    const logins = await this.db.delete(oidcLogins).where(lt(oidcLogins.expiresAt, now)).returning({ h: oidcLogins.stateHash })
    const codes = await this.db.delete(oidcCodes).where(lt(oidcCodes.expiresAt, now)).returning({ h: oidcCodes.codeHash })
    return logins.length + codes.length
  }
}
