import Assessment from '@mui/icons-material/Assessment'
import { ReportList } from './ReportList.tsx'

export { ReportPrintPage } from './ReportPrintPage.tsx'
export { SessionReportPage } from './SessionReportPage.tsx'

/**
 * Session reports: a list of sessions to pick from (the sessions endpoint, filtered by date, CSR
 * and status); a report itself is at /sessions/:id/report, its print view outside the layout.
 */
export default {
  list: ReportList,
  create: undefined,
  edit: undefined,
  show: undefined,
  icon: Assessment,
}
