import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AuthMethods, LoginResponse, OidcCallbackQuery, OidcExchange, OidcStartQuery } from '../../schemas/accounts.ts'
import { errors, ref } from '../../schemas/common.ts'
import { notFound, tooManyRequests } from '../../errors.ts'

/** Single sign-on with OpenID Connect (docs/sso.md), and what the sign-in page offers. */
export default async function oidcRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { auth } = app.services
  const c = app.config
  // One budget per client address for the three steps, the size of password sign-in's.
  const perAddress = app.createRateLimit({ max: c.LOGIN_MAX_ATTEMPTS_PER_IP, timeWindow: c.LOGIN_WINDOW_SECONDS * 1000, keyGenerator: (r: FastifyRequest) => `oidc-ip:${r.ip}` })
  const limited = async (request: FastifyRequest) => {
    const result = await perAddress(request)
    if (!result.isAllowed && result.isExceeded) throw tooManyRequests(`Too many sign-in attempts; try again in ${result.ttlInSeconds} s`, result.ttlInSeconds)
  }
  const configured = () => {
    const oidc = app.services.oidc
    if (!oidc) throw notFound('Single sign-on', 'OIDC_NOT_CONFIGURED')
    return oidc
  }

  app.get(
    '/auth/methods',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'getAuthMethods',
        tags: ['auth'],
        summary: 'How one signs in here: passwords, single sign-on, or both',
        response: { 200: ref(AuthMethods) },
      },
    },
    async () => {
      const oidc = app.services.oidc
      return {
        password: c.LOCAL_PASSWORDS === 'on' ? ('all' as const) : ('break_glass' as const),
        ...(oidc ? { sso: { displayName: oidc.settings.displayName, startUrl: '/api/v1/auth/oidc/start' } } : {}),
      }
    },
  )

  app.get(
    '/auth/oidc/start',
    {
      config: { auth: 'public', rateLimited: true },
      preHandler: limited,
      schema: {
        operationId: 'startOidcSignIn',
        tags: ['auth'],
        summary: 'Single sign-on: go to the identity provider',
        description:
          'A browser navigation, not an API call: redirects (302) to the identity provider with a fresh state, nonce and PKCE challenge, which the server keeps for 10 minutes. `returnTo`: the console page to open afterwards. 404 OIDC_NOT_CONFIGURED without single sign-on; 503 OIDC_PROVIDER_UNAVAILABLE when the provider cannot be reached.',
        querystring: OidcStartQuery,
        response: { 302: Type.Null({ description: 'To the identity provider (Location)' }), ...errors(404) },
      },
    },
    async (request, reply) => reply.redirect(await configured().start(request.query.returnTo), 302),
  )

  app.get(
    '/auth/oidc/callback',
    {
      config: { auth: 'public', rateLimited: true },
      preHandler: limited,
      schema: {
        operationId: 'handleOidcCallback',
        tags: ['auth'],
        summary: 'Single sign-on: the identity provider’s answer',
        description: [
          'The redirect URL registered at the identity provider. On success, redirects (302) to the console with a one-time code (`#/login?oidc=…`, valid 60 s, once) for POST /auth/oidc/exchange; the provider’s refusal (e.g. the user cancelled) redirects to the console with `oidc_error`.',
          '400 OIDC_STATE_INVALID: unknown, expired or already used state (no sign-in); 400 OIDC_NONCE_INVALID; 400 OIDC_CODE_REJECTED: the provider refused the code;',
          '401 OIDC_TOKEN_INVALID (wrong audience or issuer, bad signature) or OIDC_TOKEN_EXPIRED;',
          '403 OIDC_DOMAIN_NOT_ALLOWED (email unverified or of another domain), OIDC_NO_ROLE (in none of the mapped groups), ACCOUNT_DISABLED, OIDC_ACCOUNT_MISMATCH (the email is linked to another identity), OIDC_BREAK_GLASS_ACCOUNT (the break-glass admin signs in with its password only).',
        ].join(' '),
        querystring: OidcCallbackQuery,
        response: { 302: Type.Null({ description: 'To the console (Location)' }), ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => reply.redirect(await configured().callback(request.query as Record<string, string | undefined>), 302),
  )

  app.post(
    '/auth/oidc/exchange',
    {
      config: { auth: 'public', rateLimited: true },
      preHandler: limited,
      schema: {
        operationId: 'exchangeOidcCode',
        tags: ['auth'],
        summary: 'Single sign-on: exchange the one-time code for a console sign-in',
        description:
          'The same answer as POST /auth/login. 401 OIDC_CODE_INVALID: unknown, expired or already used; 401 ACCOUNT_DISABLED. A single sign-on is not asked for a two-factor code here: the identity provider does that (docs/sso.md).',
        body: OidcExchange,
        response: { 200: ref(LoginResponse), ...errors(401, 404) },
      },
    },
    async (request) => configured().exchange(request.body.code, request.ip),
  )
}
