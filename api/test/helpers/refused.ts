import { ApiError } from '@helpline/sdk'

/** Runs an SDK call that must fail and returns its ApiError (any other outcome fails the test). */
export async function refused(call: Promise<unknown>): Promise<ApiError> {
  try {
    await call
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error('expected the call to be refused')
}
