import { email, minLength, required } from 'react-admin'

/**
 * The server's minimum is configurable (PASSWORD_MIN_LENGTH, never below 8) and it
 * has the last word; we only catch what it would refuse under any setting.
 */
export const PASSWORD_MIN_LENGTH = 8

export const passwordRule = minLength(PASSWORD_MIN_LENGTH, 'helpline.validation.password_min')

export const validateEmail = [required(), email()]
export const validateName = [required()]
export const validateNewPassword = [required(), passwordRule]
