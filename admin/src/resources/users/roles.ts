import type { Role } from '../../api/auth-provider.ts'

/** Role choices for inputs and fields; names are translation keys. */
export const roleChoices: { id: Role; name: string }[] = [
  { id: 'csr', name: 'helpline.roles.csr' },
  { id: 'admin', name: 'helpline.roles.admin' },
]

/** The `disabled` filter as a select: booleans travel as 'true' / 'false' strings in the form. */
export const statusChoices = [
  { id: 'false', name: 'helpline.users.active' },
  { id: 'true', name: 'helpline.users.disabled' },
]
export const parseStatus = (value: string) => (value === 'true' ? true : value === 'false' ? false : undefined)
export const formatStatus = (value: unknown) => (value === undefined || value === null ? '' : String(value))
