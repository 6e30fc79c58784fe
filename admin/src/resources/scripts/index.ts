import Code from '@mui/icons-material/Code'
import { ScriptCreate } from './ScriptCreate.tsx'
import { ScriptEdit } from './ScriptEdit.tsx'
import { ScriptList } from './ScriptList.tsx'
import { ScriptShow } from './ScriptShow.tsx'

/** The script library: every user reads what is published and their own; owners and site admins change. */
export default {
  list: ScriptList,
  create: ScriptCreate,
  edit: ScriptEdit,
  show: ScriptShow,
  icon: Code,
  recordRepresentation: 'name',
}
