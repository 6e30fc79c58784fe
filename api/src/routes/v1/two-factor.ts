import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { RecoveryCodes, TwoFactorConfirm, TwoFactorProof, TwoFactorEnrollment } from '../../schemas/accounts.ts'
import { errors, ref } from '../../schemas/common.ts'
import { tooManyRequests } from '../../errors.ts'
import { principalOf } from '../../plugins/app/auth.ts'

/**
 * Your own two-factor sign-in (TOTP). Console sign-in only: an API token must not be able to turn
 * off the second factor or enrol one of its own.
 */
export default async function twoFactorRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { twoFactor } = app.services
  const tags = ['auth']
  // Guessing a code or the password here costs the same budget as signing in.
  const perAccount = app.createRateLimit({
    max: app.config.LOGIN_MAX_ATTEMPTS,
    timeWindow: app.config.LOGIN_WINDOW_SECONDS * 1000,
    keyGenerator: (r: FastifyRequest) => `two-factor:${principalOf(r).userId}`,
  })
  const limited = async (request: FastifyRequest) => {
    const result = await perAccount(request)
    if (!result.isAllowed && result.isExceeded) throw tooManyRequests(`Too many attempts; try again in ${result.ttlInSeconds} s`, result.ttlInSeconds)
  }

  app.post(
    '/me/two-factor',
    {
      config: { auth: 'user', signInOnly: true, beforeTwoFactor: true, rateLimited: true },
      preHandler: limited,
      schema: {
        operationId: 'startTwoFactor',
        tags,
        summary: 'Start setting up two-factor sign-in: a new secret for your authenticator app',
        description: [
          'Show `uri` as a QR code (or type `secret`), then confirm with a code. Until confirmed, sign-in is unchanged.',
          'With two-factor already on, this replaces the authenticator (and the recovery codes) once confirmed, and needs `password` or a `code` (422 PROOF_REQUIRED, WRONG_PASSWORD, TOTP_INVALID); the body is `{}` otherwise. Console sign-in only.',
        ].join(' '),
        body: TwoFactorProof,
        response: { 200: ref(TwoFactorEnrollment), ...errors(422) },
      },
    },
    async (request) => twoFactor.start(principalOf(request), request.body),
  )

  app.post(
    '/me/two-factor/confirm',
    {
      config: { auth: 'user', signInOnly: true, beforeTwoFactor: true, rateLimited: true },
      preHandler: limited,
      schema: {
        operationId: 'confirmTwoFactor',
        tags,
        summary: 'Turn two-factor sign-in on with a code from your authenticator app',
        description: 'Answers the ten recovery codes, once: keep them safe. TOTP_INVALID (422) for a wrong code, TOTP_NOT_STARTED (409) without a set-up in progress. Console sign-in only.',
        body: TwoFactorConfirm,
        response: { 200: ref(RecoveryCodes), ...errors(409, 422) },
      },
    },
    async (request) => twoFactor.confirm(principalOf(request), request.body.code),
  )

  app.post(
    '/me/two-factor/disable',
    {
      config: { auth: 'user', signInOnly: true, rateLimited: true },
      preHandler: limited,
      schema: {
        operationId: 'disableTwoFactor',
        tags,
        summary: 'Turn two-factor sign-in off, with your password or a code',
        description: 'Refused while the site requires two-factor sign-in (TOTP_REQUIRED_BY_SITE). Console sign-in only.',
        body: TwoFactorProof,
        response: { 204: Type.Null({ description: 'Two-factor sign-in is off' }), ...errors(409, 422) },
      },
    },
    async (request, reply) => {
      await twoFactor.disable(principalOf(request), request.body)
      return reply.code(204).send(null)
    },
  )
}
