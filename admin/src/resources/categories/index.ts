import Category from '@mui/icons-material/Category'
import { CategoryCreate, CategoryEdit } from './CategoryForms.tsx'
import { CategoryList } from './CategoryList.tsx'

/** Script categories. Site admins get these pages; every user reads categories in the script forms. */
export default {
  list: CategoryList,
  create: CategoryCreate,
  edit: CategoryEdit,
  icon: Category,
  recordRepresentation: 'name',
}
