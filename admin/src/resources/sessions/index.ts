import SupportAgent from '@mui/icons-material/SupportAgent'
import { SessionList } from './SessionList.tsx'
import { SessionCreate } from './SessionCreate.tsx'
import { SessionShow } from './SessionShow.tsx'

export { SnapshotPrintPage } from './SnapshotPrintPage.tsx'

/** Support sessions: CSRs see their own, admins all (the API decides). No edit: a session is ended, not edited. */
export default {
  list: SessionList,
  create: SessionCreate,
  show: SessionShow,
  edit: undefined,
  icon: SupportAgent,
  recordRepresentation: 'customerName',
}
