import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LoginRequest, LoginResponse, Me, PasswordChange } from '../../schemas/accounts.ts'
import { errors, ref } from '../../schemas/common.ts'
import { tooManyRequests } from '../../errors.ts'
import { principalOf } from '../../plugins/app/auth.ts'
import { toUser } from '../../services/accounts.service.ts'

export default async function authRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { auth, accounts, tokens } = app.services
  const window = app.config.LOGIN_WINDOW_SECONDS * 1000
  const max = app.config.LOGIN_MAX_ATTEMPTS
  const perAddress = app.createRateLimit({ max: app.config.LOGIN_MAX_ATTEMPTS_PER_IP, timeWindow: window, keyGenerator: (r: FastifyRequest) => `login-ip:${r.ip}` })
  const perAccount = app.createRateLimit({
    max,
    timeWindow: window,
    keyGenerator: (r: FastifyRequest) => `login-account:${String((r.body as { email?: unknown })?.email).trim().toLowerCase()}`,
  })

  app.post(
    '/auth/login',
    {
      config: { auth: 'public', rateLimited: true },
      // Two budgets: per client address (guessing many accounts) and per account (guessing one
      // account from many addresses).
      preHandler: async (request) => {
        for (const limit of [perAddress, perAccount]) {
          const result = await limit(request)
          if (!result.isAllowed && result.isExceeded) {
            throw tooManyRequests(`Too many sign-in attempts; try again in ${result.ttlInSeconds} s`, result.ttlInSeconds)
          }
        }
      },
      schema: {
        operationId: 'login',
        tags: ['auth'],
        summary: 'Sign in with email and password (and a code, with two-factor sign-in)',
        description: [
          'Returns a bearer token for the console. It expires after a period of inactivity.',
          'A user with two-factor sign-in gets 401 TOTP_REQUIRED until the request also carries `code` (6 digits from the authenticator app, or a recovery code); a wrong or already used code is 401 TOTP_INVALID.',
          'Codes count against the same attempt limits as passwords.',
          'With LOCAL_PASSWORDS=off, 403 LOCAL_PASSWORDS_OFF for everyone but the break-glass admin; an account made by single sign-on has no password (401 INVALID_CREDENTIALS).',
        ].join(' '),
        body: LoginRequest,
        response: { 200: ref(LoginResponse), ...errors(401, 403) },
      },
    },
    async (request) => auth.login(request.body.email, request.body.password, request.ip, request.body.code),
  )

  app.post(
    '/auth/logout',
    {
      // Any credential may end itself, whatever its scopes.
      config: { auth: 'user', scope: null, beforeTwoFactor: true },
      schema: {
        operationId: 'logout',
        tags: ['auth'],
        summary: 'Sign out: revoke the token used for this request',
        response: { 204: Type.Null({ description: 'Signed out' }) },
      },
    },
    async (request, reply) => {
      await tokens.signOut(principalOf(request))
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/me',
    {
      config: { auth: 'user', beforeTwoFactor: true },
      schema: { operationId: 'getMe', tags: ['auth'], summary: 'The signed-in user', response: { 200: ref(Me) } },
    },
    async (request) => {
      const p = principalOf(request)
      const row = await accounts.findRow(p.userId)
      const canChangePassword = row.passwordHash.startsWith('scrypt$') && auth.passwordAllowed(row.email)
      return { ...toUser(row), twoFactorEnrollmentRequired: p.mustEnrolTwoFactor, passwordPolicy: accounts.passwordPolicy, canChangePassword }
    },
  )

  app.put(
    '/me/password',
    {
      config: { auth: 'user', signInOnly: true },
      schema: {
        operationId: 'changeMyPassword',
        tags: ['auth'],
        summary: 'Change your own password',
        description:
          'Your other console sign-ins AND all your personal API tokens end (whoever knew the old password may have made them); this sign-in stays. Console sign-in only. 403 NO_LOCAL_PASSWORD: an account made by single sign-on has no password; 403 LOCAL_PASSWORDS_OFF: passwords are off for all but the break-glass admin.',
        body: PasswordChange,
        response: { 204: Type.Null({ description: 'Password changed' }), ...errors(422) },
      },
    },
    async (request, reply) => {
      await auth.changePassword(principalOf(request), request.body.currentPassword, request.body.newPassword)
      return reply.code(204).send(null)
    },
  )
}
