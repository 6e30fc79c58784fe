import { Menu } from 'react-admin'
import AccountCircle from '@mui/icons-material/AccountCircle'

/** "Profile" in the side menu, after the resources. */
export function ProfileMenuLink() {
  return <Menu.Item to="/profile" primaryText="helpline.menu.profile" leftIcon={<AccountCircle />} />
}
