import type { Schemas } from '@helpline/sdk'
import type { AuthProvider, UserIdentity } from 'react-admin'
import { call, toHttpError } from './errors.ts'
import { dataOf, type HelplineClient } from './client.ts'
import type { TokenStore } from './token-store.ts'

export type Role = Schemas['Role']
/** The signed-in user, as GET /api/v1/me answers. */
export type Me = Schemas['Me']
/** What the sign-in page offers, as GET /api/v1/auth/methods answers. */
export type AuthMethods = Schemas['AuthMethods']

/** The API's error code behind a react-admin HttpError (or an SDK ApiError), if any. */
export function errorCode(error: unknown): string | undefined {
  const e = error as { body?: { code?: unknown }; code?: unknown } | null
  const code = e?.body?.code ?? e?.code
  return typeof code === 'string' ? code : undefined
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}

/**
 * Bearer-token sign-in against the Helpline API. The token lives in
 * localStorage so a reload keeps the session; the API decides when it expires
 * and answers 401 from then on, which signs the console out.
 */
export function createAuthProvider(client: HelplineClient, tokens: TokenStore): AuthProvider {
  // Share one in-flight /me request between getIdentity and getPermissions;
  // react-admin caches the answers itself.
  let me: Promise<Me> | undefined
  const loadMe = (): Promise<Me> => {
    me ??= call(async () => dataOf(await client.GET('/api/v1/me', {}))).finally(() => {
      me = undefined
    })
    return me
  }

  return {
    /**
     * `code`: the second step for a user with two-factor sign-in (the first try answers TOTP_REQUIRED).
     * `oidcCode`: single sign-on, the one-time code the server sent the browser back with.
     */
    async login(params: { email: string; password: string; code?: string } | { oidcCode: string }) {
      try {
        const result =
          'oidcCode' in params
            ? dataOf(await client.POST('/api/v1/auth/oidc/exchange', { body: { code: params.oidcCode } }))
            : dataOf(await client.POST('/api/v1/auth/login', { body: { email: params.email, password: params.password, ...(params.code ? { code: params.code } : {}) } }))
        tokens.set(result.token)
      } catch (error) {
        throw toHttpError(error)
      }
    },

    async logout() {
      if (tokens.get()) {
        // The token is forgotten here whatever the server says: a failed
        // revocation must not keep the user signed in on this browser.
        await client.POST('/api/v1/auth/logout', {}).catch(() => undefined)
      }
      tokens.clear()
    },

    async checkAuth() {
      if (!tokens.get()) throw new Error('Not signed in')
    },

    async checkError(error: unknown) {
      if (statusOf(error) === 401) {
        tokens.clear()
        throw new Error('Session expired')
      }
      // The site requires two-factor sign-in and this user has none yet: stay signed in, set it up.
      if (statusOf(error) === 403 && errorCode(error) === 'TOTP_ENROLLMENT_REQUIRED') {
        throw { logoutUser: false, redirectTo: '/profile', message: 'helpline.errors.TOTP_ENROLLMENT_REQUIRED' }
      }
      // Any other 403 means signed in but not allowed: stay signed in, show the error.
    },

    async getIdentity(): Promise<UserIdentity> {
      const user = await loadMe()
      return {
        id: user.id,
        fullName: user.name,
        email: user.email,
        role: user.role,
        twoFactorEnabled: user.twoFactorEnabled,
        twoFactorEnrollmentRequired: user.twoFactorEnrollmentRequired,
        passwordPolicy: user.passwordPolicy,
        canChangePassword: user.canChangePassword,
      }
    },

    /** Not react-admin's: the sign-in page asks which methods to show (no credentials needed). */
    async getAuthMethods(): Promise<AuthMethods> {
      return call(async () => dataOf(await client.GET('/api/v1/auth/methods', {})))
    },

    async getPermissions(): Promise<Role | undefined> {
      if (!tokens.get()) return undefined
      return (await loadMe()).role
    },
  }
}
