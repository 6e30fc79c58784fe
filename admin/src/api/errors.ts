import { ApiError } from '@helpline/sdk'
import { HttpError } from 'react-admin'
import type { en } from '../i18n/en.ts'

/** Error codes the console has its own (translated) words for. */
export type KnownErrorCode = keyof typeof en.helpline.errors

/**
 * The same codes at run time (the type checker keeps the two equal), so the first page does not
 * download the English catalogue to learn them.
 */
const knownCodes: Record<KnownErrorCode, true> = {
  EMAIL_TAKEN: true, WEAK_PASSWORD: true, LAST_ADMIN: true, CANNOT_DISABLE_SELF: true, CANNOT_DEMOTE_SELF: true, ACCOUNT_DISABLED: true, TOO_MANY_TOKENS: true, INVALID_EXPIRY: true, INVALID_CREDENTIALS: true, WRONG_PASSWORD: true, RATE_LIMITED: true, FORBIDDEN: true, NOT_FOUND: true, NETWORK: true, NAME_TAKEN: true, CATEGORY_IN_USE: true, SCRIPT_TOO_LARGE: true, UNSUPPORTED_EXECUTABLE: true, EXECUTABLE_REQUIRED: true, ONE_EXECUTABLE: true, INVALID_FILE_NAME: true, UNKNOWN_CATEGORY: true, UNKNOWN_FILE: true, NOT_OWNER: true, UNKNOWN_USER: true, TOO_MANY_PARTS: true, SCRIPT_NOT_FOUND: true, CATEGORY_NOT_FOUND: true, VERSION_NOT_FOUND: true, FILE_NOT_FOUND: true, SESSION_NOT_FOUND: true, SESSION_ENDED: true, SESSION_NOT_ACTIVE: true, ALREADY_QUEUED: true, CONSENT_PENDING: true, CONSENT_NOT_PENDING: true, SNAPSHOT_NOT_FOUND: true, NO_SCRIPTS: true, TOO_MANY_SCRIPTS: true, NO_SESSIONS: true, TOO_MANY_SESSIONS: true, DUPLICATE_SESSION: true, ARGUMENTS_TOO_LONG: true, INVALID_ARGUMENT: true, RUN_QUEUE_FULL: true, BATCH_NOT_FOUND: true, RUN_NOT_FOUND: true, BATCH_FINISHED: true, RUN_FINISHED: true, AGENT_OFFLINE: true, CONSENT_REQUIRED: true, CONSENT_NOT_FOUND: true, NOT_LOGGED_ON: true, SCOPE_REQUIRED: true, SIGN_IN_REQUIRED: true, SCOPE_NOT_ALLOWED: true, TOKEN_NOT_FOUND: true, INVALID_TOKEN: true, TOO_MANY_STREAMS: true, TOTP_REQUIRED: true, TOTP_INVALID: true, TOTP_NOT_STARTED: true, TOTP_NOT_ENABLED: true, TOTP_REQUIRED_BY_SITE: true, TOTP_ENROLLMENT_REQUIRED: true, PROOF_REQUIRED: true,
}

function isKnownCode(code: string): code is KnownErrorCode {
  return Object.hasOwn(knownCodes, code)
}

/** The translation key for an API error code, or undefined when we have none. */
export function errorKey(code: string): string | undefined {
  return isKnownCode(code) ? `helpline.errors.${code}` : undefined
}

function isApiError(error: unknown): error is ApiError {
  if (error instanceof ApiError) return true
  // Tolerate a second copy of the SDK in a bundle: judge by shape, not by class.
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number' &&
    typeof (error as { code?: unknown }).code === 'string'
  )
}

/**
 * Turns what the SDK throws into the HttpError react-admin understands:
 * the status drives authProvider.checkError, `body.errors` lands on the form
 * fields, and messages become translation keys when we know the code (react-admin
 * translates keys and shows any other text as it is).
 */
export function toHttpError(error: unknown): unknown {
  if (error instanceof HttpError) return error
  if (!isApiError(error)) {
    // fetch() rejects with a TypeError when the server cannot be reached at all.
    if (error instanceof TypeError) return new HttpError('helpline.errors.NETWORK', 0)
    return error
  }
  const key = errorKey(error.code)
  const fieldErrors = error.body?.errors
  let errors: Record<string, string> | undefined
  if (fieldErrors && Object.keys(fieldErrors).length > 0) {
    // One code describes one problem: only when a single field is at fault can
    // we put our own words on it; otherwise keep the server's per-field text.
    const single = Object.keys(fieldErrors).length === 1
    errors = Object.fromEntries(
      Object.entries(fieldErrors).map(([field, text]) => [field, single && key ? key : text]),
    )
  }
  return new HttpError(key ?? error.message, error.status, {
    ...error.body,
    ...(errors ? { errors } : {}),
  })
}

/** Runs an SDK call and rethrows failures in react-admin's terms. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw toHttpError(error)
  }
}
