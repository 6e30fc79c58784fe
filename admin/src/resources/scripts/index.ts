import Code from '@mui/icons-material/Code'
import { lazyPage } from '../../lazy.ts'

const ScriptCreate = lazyPage(() => import('./ScriptCreate.tsx'), 'ScriptCreate')
const ScriptEdit = lazyPage(() => import('./ScriptEdit.tsx'), 'ScriptEdit')
const ScriptList = lazyPage(() => import('./ScriptList.tsx'), 'ScriptList')
const ScriptShow = lazyPage(() => import('./ScriptShow.tsx'), 'ScriptShow')

/** The script library: every user reads what is published and their own; owners and site admins change. */
export default {
  list: ScriptList,
  create: ScriptCreate,
  edit: ScriptEdit,
  show: ScriptShow,
  icon: Code,
  recordRepresentation: 'name',
}
