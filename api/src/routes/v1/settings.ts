import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { SiteSettings, SiteSettingsUpdate } from '../../schemas/accounts.ts'
import { ref } from '../../schemas/common.ts'
import { principalOf } from '../../plugins/app/auth.ts'

/** Site-wide settings (site admins). Changing them needs a console sign-in and is audited. */
export default async function settingsRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { settings } = app.services
  const tags = ['settings']

  app.get(
    '/settings',
    {
      config: { auth: 'admin' },
      schema: { operationId: 'getSiteSettings', tags, summary: 'The site’s settings', response: { 200: ref(SiteSettings) } },
    },
    async () => settings.get(),
  )

  app.patch(
    '/settings',
    {
      config: { auth: 'admin', signInOnly: true },
      schema: {
        operationId: 'updateSiteSettings',
        tags,
        summary: 'Change the site’s settings',
        description:
          '`requireTwoFactor`: everyone must sign in with two-factor; a user without it may, once signed in, only set it up (403 TOTP_ENROLLMENT_REQUIRED elsewhere). Recorded in the site’s audit trail. Console sign-in only.',
        body: SiteSettingsUpdate,
        response: { 200: ref(SiteSettings) },
      },
    },
    async (request) => settings.update(principalOf(request), request.body),
  )
}
