import Category from '@mui/icons-material/Category'
import { lazyPage } from '../../lazy.ts'

const CategoryCreate = lazyPage(() => import('./CategoryForms.tsx'), 'CategoryCreate')
const CategoryEdit = lazyPage(() => import('./CategoryForms.tsx'), 'CategoryEdit')
const CategoryList = lazyPage(() => import('./CategoryList.tsx'), 'CategoryList')

/** Script categories. Site admins get these pages; every user reads categories in the script forms. */
export default {
  list: CategoryList,
  create: CategoryCreate,
  edit: CategoryEdit,
  icon: Category,
  recordRepresentation: 'name',
}
