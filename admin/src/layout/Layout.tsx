import type { ReactNode } from 'react'
import { AppBar, Layout as RaLayout, Logout, Menu, TitlePortal, UserMenu, usePermissions, useResourceDefinitions, useTranslate } from 'react-admin'
import PlayCircleOutlined from '@mui/icons-material/PlayCircleOutlined'
import SettingsOutlined from '@mui/icons-material/SettingsOutlined'
import ViewQuilt from '@mui/icons-material/ViewQuilt'
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

/** Sessions first, then Run scripts (what a CSR does with them), then every other resource. */
function HelplineMenu() {
  const resources = useResourceDefinitions()
  const { permissions } = usePermissions()
  const others = Object.keys(resources).filter((name) => name !== 'sessions' && resources[name]?.hasList)
  return (
    <Menu>
      {resources.sessions?.hasList && <Menu.ResourceItem name="sessions" />}
      <Menu.Item to="/workspace" primaryText="workspace.menu" leftIcon={<ViewQuilt />} />
      <Menu.Item to="/run-scripts" primaryText="helpline.runs.menu" leftIcon={<PlayCircleOutlined />} />
      {others.map((name) => (
        <Menu.ResourceItem key={name} name={name} />
      ))}
      {permissions === 'admin' && <Menu.Item to="/settings" primaryText="helpline.settings.menu" leftIcon={<SettingsOutlined />} />}
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
