import { useGetIdentity, usePermissions } from 'react-admin'
import type { Script } from '../../api/resources/scripts.ts'

/** Whether the signed-in user may change the script: its owner or a site admin (the API decides). */
export function useCanChange(script: Pick<Script, 'ownerId'> | undefined): boolean {
  const { identity } = useGetIdentity()
  const { permissions } = usePermissions()
  if (!script || !identity) return false
  return permissions === 'admin' || identity.id === script.ownerId
}
