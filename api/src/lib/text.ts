import { hasControlCharacters } from '@helpline/sdk'
import { unprocessable } from '../errors.ts'

export { cleanText, quoteName } from '@helpline/sdk'

const PROBLEM = 'must not contain control characters or bidirectional override characters'

/**
 * 422 CONTROL_CHARACTERS naming every field that holds a control character or a bidi override or
 * isolate. These are names a customer's agent shows (the CSR's name, a script's name, …): such a
 * character could rewrite the customer's terminal. Fields in `multiline` may keep newlines and tabs.
 */
export function refuseControlCharacters(fields: Record<string, string | null | undefined>, multiline: readonly string[] = []) {
  const bad = Object.entries(fields)
    .filter(([field, value]) => typeof value === 'string' && hasControlCharacters(value, { multiline: multiline.includes(field) }))
    .map(([field]) => field)
  if (bad.length === 0) return
  throw unprocessable('CONTROL_CHARACTERS', `${bad.join(', ')} ${PROBLEM}`, Object.fromEntries(bad.map((field) => [field, PROBLEM])))
}
