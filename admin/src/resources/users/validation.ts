import { email, minLength, required, useGetIdentity, type Validator } from 'react-admin'

/**
 * Until the signed-in user's password policy has loaded: the least the server ever requires
 * (PASSWORD_MIN_LENGTH is never below 8). The server has the last word either way.
 */
export const PASSWORD_MIN_LENGTH = 8

export const passwordRule = minLength(PASSWORD_MIN_LENGTH, 'helpline.validation.password_min')

/** The server's own minimum (served with /me): the form says what the server will check. */
export function usePasswordRule(): Validator {
  const { identity } = useGetIdentity()
  const policy = (identity as { passwordPolicy?: { minLength: number } } | undefined)?.passwordPolicy
  return minLength(policy?.minLength ?? PASSWORD_MIN_LENGTH, 'helpline.validation.password_min')
}

export const validateEmail = [required(), email()]
export const validateName = [required()]
