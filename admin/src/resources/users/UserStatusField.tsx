import { Chip } from '@mui/material'
import { useRecordContext, useTranslate } from 'react-admin'
import type { User } from '../../api/resources/users.ts'

export function UserStatusField(_props: { label?: string }) {
  const user = useRecordContext<User>()
  const translate = useTranslate()
  if (!user) return null
  return user.disabled ? (
    <Chip size="small" color="default" label={translate('helpline.users.disabled')} />
  ) : (
    <Chip size="small" color="success" variant="outlined" label={translate('helpline.users.active')} />
  )
}
