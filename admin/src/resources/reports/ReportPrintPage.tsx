import { useEffect } from 'react'
import { Alert, Box, Button, CircularProgress, GlobalStyles, Stack, Typography } from '@mui/material'
import Print from '@mui/icons-material/Print'
import { useTranslate } from 'react-admin'
import { useParams } from 'react-router-dom'
import { formatNumber } from '../sessions/format.ts'
import { printCss } from '../sessions/SnapshotPrintPage.tsx'
import { ReportView } from './ReportView.tsx'
import { useSessionReport } from './useSessionReport.ts'

/** On paper each section starts on a fresh line of thought: headings stay with what follows, a script's facts with its title. */
const reportPrintCss = {
  '@media print': {
    '.hl-report-heading': { breakAfter: 'avoid' },
    '.hl-report-run h3': { breakAfter: 'avoid' },
    '.hl-print [data-testid="run-output"]': { maxHeight: 'none !important', overflow: 'visible !important' },
  },
} as const

/**
 * A session report's print view: the whole report, nothing else. Opened in its own window by the
 * report page; it calls the browser's print once the report is on screen.
 */
export function ReportPrintPage() {
  const { id } = useParams<'id'>()
  const translate = useTranslate()
  const report = useSessionReport(id)
  const data = report.data?.session ? report.data : undefined

  // The title names the PDF a "print to file" makes.
  const title = data ? `${translate('helpline.report.heading')} — ${data.session.customerName} — ${formatNumber(data.session.number)}` : undefined
  useEffect(() => {
    if (title) document.title = title
  }, [title])

  const ready = data !== undefined
  useEffect(() => {
    if (!ready) return
    // Let the tables lay out before the print dialog takes its picture of the page.
    const timer = setTimeout(() => window.print(), 300)
    return () => clearTimeout(timer)
  }, [ready])

  return (
    <Box className="hl-print" sx={{ maxWidth: 1000, mx: 'auto', p: 3, bgcolor: 'background.paper', minHeight: '100vh' }}>
      <GlobalStyles styles={printCss} />
      <GlobalStyles styles={reportPrintCss} />
      <Stack direction="row" spacing={1} className="hl-no-print" sx={{ mb: 2, justifyContent: 'flex-end' }}>
        <Button variant="contained" startIcon={<Print />} disabled={!ready} onClick={() => window.print()}>
          {translate('helpline.report.print')}
        </Button>
        <Button onClick={() => window.close()}>{translate('helpline.sysinfo.print_close')}</Button>
      </Stack>
      {report.error && <Alert severity="error">{translate(report.error.message)}</Alert>}
      {!ready && !report.error && <CircularProgress />}
      {data && (
        <Box data-testid="report-print-view">
          <Typography variant="h4" component="h1">
            {translate('helpline.report.heading')}
          </Typography>
          <Typography color="text.secondary" gutterBottom>
            {data.session.customerName} · {formatNumber(data.session.number)}
          </Typography>
          <ReportView report={data} print />
        </Box>
      )}
    </Box>
  )
}
