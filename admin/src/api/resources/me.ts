import type { Schemas } from '@helpline/sdk'
import { call } from '../errors.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type TwoFactorEnrollment = Schemas['TwoFactorEnrollment']
export type SiteSettings = Schemas['SiteSettings']

/** Calls on the signed-in user's own account and the site's settings; exposed on the data provider. */
export function meActions(client: HelplineClient) {
  return {
    changePassword: (body: { currentPassword: string; newPassword: string }): Promise<void> =>
      call(async () => {
        await client.PUT('/api/v1/me/password', { body })
      }),
    /** `proof` (password or code) only when replacing an authenticator that is already on. */
    startTwoFactor: (proof: { password?: string; code?: string } = {}): Promise<TwoFactorEnrollment> =>
      call(async () => dataOf(await client.POST('/api/v1/me/two-factor', { body: proof }))),
    confirmTwoFactor: (code: string): Promise<string[]> =>
      call(async () => dataOf(await client.POST('/api/v1/me/two-factor/confirm', { body: { code } })).recoveryCodes),
    disableTwoFactor: (proof: { password?: string; code?: string }): Promise<void> =>
      call(async () => {
        await client.POST('/api/v1/me/two-factor/disable', { body: proof })
      }),
    getSettings: (): Promise<SiteSettings> => call(async () => dataOf(await client.GET('/api/v1/settings', {}))),
    updateSettings: (body: Partial<SiteSettings>): Promise<SiteSettings> =>
      call(async () => dataOf(await client.PATCH('/api/v1/settings', { body }))),
  }
}
