import type { ReactNode } from 'react'
import {
  AppBar,
  Layout as RaLayout,
  LocalesMenuButton,
  Logout,
  Menu,
  RefreshIconButton,
  TitlePortal,
  UserMenu,
  useGetIdentity,
  usePermissions,
  useResourceDefinitions,
  useTranslate,
} from 'react-admin'
import PlayCircleOutlined from '@mui/icons-material/PlayCircleOutlined'
import SettingsOutlined from '@mui/icons-material/SettingsOutlined'
import ViewQuilt from '@mui/icons-material/ViewQuilt'
import { Box, GlobalStyles, Typography } from '@mui/material'
import { ProfileMenuItem } from './ProfileMenuItem.tsx'
import { ProfileMenuLink } from './ProfileMenuLink.tsx'

function ProductName() {
  const translate = useTranslate()
  return (
    <Typography variant="h6" component="span" sx={{ fontWeight: 700, mr: 2, whiteSpace: 'nowrap', display: { xs: 'none', sm: 'inline' } }}>
      {translate('helpline.title')}
    </Typography>
  )
}

/**
 * The app bar keeps react-admin's toolbar (the locale switcher and refresh), the refresh named for
 * what it does: the session page has a "Refresh" of its own that asks the customer. On a phone the
 * product name gives way so the title shrinks and the user menu stays on screen.
 */
function HelplineAppBar() {
  const translate = useTranslate()
  const { identity } = useGetIdentity()
  // The menu button shows the user's name: its accessible name says it too ("Profile: Dana").
  const menuLabel = identity?.fullName ? `${translate('ra.auth.user_menu')}: ${identity.fullName}` : 'ra.auth.user_menu'
  return (
    <AppBar
      // Primary, not react-admin's default: white text on it meets WCAG AA contrast.
      color="primary"
      // Always there: the user menu and the language stay reachable however far a long session page scrolls.
      alwaysOn
      toolbar={
        <>
          <LocalesMenuButton />
          <RefreshIconButton label="ui.reload_data" />
        </>
      }
      userMenu={
        <UserMenu label={menuLabel}>
          <ProfileMenuItem />
          <Logout />
        </UserMenu>
      }
    >
      <ProductName />
      <Box component="span" aria-hidden="true" sx={{ mr: 1, display: { xs: 'none', sm: 'inline' } }}>
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

/**
 * A focus ring that can be seen on every control reached by keyboard (MUI's own is a faint
 * ripple), and values such as PIDs, IPs and MAC addresses that never break in the middle.
 */
const focusRing = {
  ':focus-visible': { outline: '3px solid #1565c0', outlineOffset: 2 },
  '.MuiButtonBase-root:focus-visible, a:focus-visible, [tabindex]:focus-visible': { outline: '3px solid #1565c0', outlineOffset: 2 },
  'code, .nowrap-value': { overflowWrap: 'normal', wordBreak: 'keep-all' },
  // On a phone react-admin's frame is a few pixels wider than the screen (its content's width
  // plus padding): clip it, so the page never scrolls sideways and only wide tables do, inside.
  '@media (max-width: 599.95px)': { '.RaLayout-appFrame': { overflowX: 'clip', maxWidth: '100vw' } },
  // The content is a flex item: without this it grows to its widest table (the report's were
  // 700 px on a 390 px phone, pushing Download off screen) instead of letting the table scroll.
  '.RaLayout-content': { minWidth: 0 },
}

export function Layout({ children }: { children: ReactNode }) {
  return (
    <RaLayout appBar={HelplineAppBar} menu={HelplineMenu}>
      <GlobalStyles styles={focusRing} />
      {children}
    </RaLayout>
  )
}
