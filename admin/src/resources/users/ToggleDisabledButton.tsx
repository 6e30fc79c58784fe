import { useMutation } from '@tanstack/react-query'
import Block from '@mui/icons-material/Block'
import CheckCircleOutlined from '@mui/icons-material/CheckCircleOutlined'
import { Button, useDataProvider, useGetIdentity, useNotify, useRecordContext, useRefresh } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { User } from '../../api/resources/users.ts'

/**
 * Disable or enable the user in the record context. Not offered on one's own
 * account, which the API refuses (CANNOT_DISABLE_SELF); it also keeps the last admin.
 */
export function ToggleDisabledButton() {
  const user = useRecordContext<User>()
  const dataProvider = useDataProvider<AppDataProvider>()
  const notify = useNotify()
  const refresh = useRefresh()
  const { identity } = useGetIdentity()
  const { mutate, isPending } = useMutation<User, Error, User>({
    mutationFn: (u) => (u.disabled ? dataProvider.enableUser(u.id) : dataProvider.disableUser(u.id)),
    onSuccess: (updated) => {
      notify(updated.disabled ? 'helpline.users.disabled_notice' : 'helpline.users.enabled_notice', {
        type: 'info',
        messageArgs: { name: updated.name },
      })
      refresh()
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  if (!user || !identity || identity.id === user.id) return null
  return (
    <Button
      label={user.disabled ? 'helpline.users.enable' : 'helpline.users.disable'}
      disabled={isPending}
      color={user.disabled ? 'primary' : 'warning'}
      onClick={(event) => {
        // Inside a clickable row: do not open the edit page as well.
        event.stopPropagation()
        mutate(user)
      }}
    >
      {user.disabled ? <CheckCircleOutlined /> : <Block />}
    </Button>
  )
}
