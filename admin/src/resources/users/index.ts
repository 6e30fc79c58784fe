import People from '@mui/icons-material/People'
import { UserList } from './UserList.tsx'
import { UserCreate } from './UserCreate.tsx'
import { UserEdit } from './UserEdit.tsx'

/** Site admins manage accounts; the App registers this resource for admins only. */
export default {
  list: UserList,
  create: UserCreate,
  edit: UserEdit,
  icon: People,
  recordRepresentation: 'name',
}
