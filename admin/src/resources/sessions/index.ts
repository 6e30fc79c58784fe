import SupportAgent from '@mui/icons-material/SupportAgent'
import { lazyPage } from '../../lazy.ts'

const SessionList = lazyPage(() => import('./SessionList.tsx'), 'SessionList')
const SessionCreate = lazyPage(() => import('./SessionCreate.tsx'), 'SessionCreate')
const SessionShow = lazyPage(() => import('./SessionShow.tsx'), 'SessionShow')
export const SnapshotPrintPage = lazyPage(() => import('./SnapshotPrintPage.tsx'), 'SnapshotPrintPage')

/** Support sessions: CSRs see their own, admins all (the API decides). No edit: a session is ended, not edited. */
export default {
  list: SessionList,
  create: SessionCreate,
  show: SessionShow,
  edit: undefined,
  icon: SupportAgent,
  recordRepresentation: 'customerName',
}
