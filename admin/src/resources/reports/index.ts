import Assessment from '@mui/icons-material/Assessment'
import { lazyPage } from '../../lazy.ts'

const ReportList = lazyPage(() => import('./ReportList.tsx'), 'ReportList')
export const ReportPrintPage = lazyPage(() => import('./ReportPrintPage.tsx'), 'ReportPrintPage')
export const SessionReportPage = lazyPage(() => import('./SessionReportPage.tsx'), 'SessionReportPage')

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
