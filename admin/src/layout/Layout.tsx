import type { ReactNode } from 'react'
import { AppBar, Layout as RaLayout, Logout, Menu, TitlePortal, UserMenu, useTranslate } from 'react-admin'
import { Box, Typography } from '@mui/material'
import { ProfileMenuItem } from './ProfileMenuItem.tsx'
import { ProfileMenuLink } from './ProfileMenuLink.tsx'

function ProductName() {
  const translate = useTranslate()
  return (
    <Typography variant="h6" component="span" sx={{ fontWeight: 700, mr: 2, whiteSpace: 'nowrap' }}>
      {translate('helpline.title')}
    </Typography>
  )
}

/** The app bar keeps react-admin's default toolbar: the locale switcher and refresh. */
function HelplineAppBar() {
  return (
    <AppBar
      userMenu={
        <UserMenu>
          <ProfileMenuItem />
          <Logout />
        </UserMenu>
      }
    >
      <ProductName />
      <Box component="span" sx={{ opacity: 0.85, mr: 1 }}>
        ·
      </Box>
      <TitlePortal />
    </AppBar>
  )
}

function HelplineMenu() {
  return (
    <Menu>
      <Menu.ResourceItems />
      <ProfileMenuLink />
    </Menu>
  )
}

export function Layout({ children }: { children: ReactNode }) {
  return (
    <RaLayout appBar={HelplineAppBar} menu={HelplineMenu}>
      {children}
    </RaLayout>
  )
}
