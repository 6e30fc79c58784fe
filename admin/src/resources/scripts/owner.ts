import { useGetIdentity, usePermissions } from 'react-admin'
import type { Script } from '../../api/resources/scripts.ts'

/**
 * What the signed-in user may do with a script (the API decides; this only picks the buttons):
 * its owner edits, versions and deletes it; a site admin who is not the owner may unpublish it
 * or give it to another owner, nothing else.
 */
export function useScriptRights(script: Pick<Script, 'ownerId'> | undefined): { owner: boolean; oversee: boolean } {
  const { identity } = useGetIdentity()
  const { permissions } = usePermissions()
  if (!script || !identity) return { owner: false, oversee: false }
  const owner = identity.id === script.ownerId
  return { owner, oversee: !owner && permissions === 'admin' }
}
