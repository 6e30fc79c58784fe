import People from '@mui/icons-material/People'
import { lazyPage } from '../../lazy.ts'

const UserList = lazyPage(() => import('./UserList.tsx'), 'UserList')
const UserCreate = lazyPage(() => import('./UserCreate.tsx'), 'UserCreate')
const UserEdit = lazyPage(() => import('./UserEdit.tsx'), 'UserEdit')

/** Site admins manage accounts; the App registers this resource for admins only. */
export default {
  list: UserList,
  create: UserCreate,
  edit: UserEdit,
  icon: People,
  recordRepresentation: 'name',
}
