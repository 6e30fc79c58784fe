import { forwardRef } from 'react'
import { ListItemIcon, ListItemText, MenuItem } from '@mui/material'
import AccountCircle from '@mui/icons-material/AccountCircle'
import { useRedirect, useTranslate, useUserMenu } from 'react-admin'

/** "Profile" in the user menu of the app bar. */
export const ProfileMenuItem = forwardRef<HTMLLIElement>(function ProfileMenuItem(props, ref) {
  const translate = useTranslate()
  const userMenu = useUserMenu()
  const redirect = useRedirect()
  return (
    <MenuItem
      ref={ref}
      {...props}
      onClick={() => {
        userMenu?.onClose()
        redirect('/profile')
      }}
    >
      <ListItemIcon>
        <AccountCircle fontSize="small" />
      </ListItemIcon>
      <ListItemText>{translate('helpline.menu.profile')}</ListItemText>
    </MenuItem>
  )
})
