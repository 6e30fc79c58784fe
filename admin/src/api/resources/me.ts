import { call } from '../errors.ts'
import type { HelplineClient } from '../client.ts'

/** Calls on the signed-in user's own account; exposed on the data provider. */
export function meActions(client: HelplineClient) {
  return {
    changePassword: (body: { currentPassword: string; newPassword: string }): Promise<void> =>
      call(async () => {
        await client.PUT('/api/v1/me/password', { body })
      }),
  }
}
