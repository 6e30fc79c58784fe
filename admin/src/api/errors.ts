import { ApiError } from '@helpline/sdk'
import { HttpError } from 'react-admin'
import { en } from '../i18n/en.ts'

/** Error codes the console has its own (translated) words for. */
export type KnownErrorCode = keyof typeof en.helpline.errors

function isKnownCode(code: string): code is KnownErrorCode {
  return Object.hasOwn(en.helpline.errors, code)
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
