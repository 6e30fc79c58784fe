import { useMutation } from '@tanstack/react-query'
import { Alert, Box, Button, Card, CardContent, Stack, Typography } from '@mui/material'
import ArrowBack from '@mui/icons-material/ArrowBack'
import Download from '@mui/icons-material/Download'
import Print from '@mui/icons-material/Print'
import { Loading, Title, useDataProvider, useLocaleState, useNotify, useTranslate } from 'react-admin'
import { Link, useParams } from 'react-router-dom'
import type { AppDataProvider } from '../../api/index.ts'
import type { SessionReport } from '../../api/resources/sessions.ts'
import { downloadText, formatNumber } from '../sessions/format.ts'
import { reportFileName, reportPrintPath } from './report.ts'
import { ReportView } from './ReportView.tsx'
import { useSessionReport } from './useSessionReport.ts'

/**
 * A session's report in the console: everything that happened, with Print (a print view in its
 * own window, like the system information's) and Download .txt (the API's text rendering).
 */
export function SessionReportPage() {
  const { id } = useParams<'id'>()
  const translate = useTranslate()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [locale] = useLocaleState()
  const report = useSessionReport(id)
  const data: SessionReport | undefined = report.data?.session ? report.data : undefined

  const download = useMutation<string, Error, SessionReport>({
    mutationFn: (r) => dataProvider.sessionReportText(r.session.id, locale),
    onSuccess: (text, r) => {
      if (typeof text !== 'string') return
      const file = reportFileName(r.session.customerName, r.session.number, r.session.createdAt)
      downloadText(text, file)
      notify('helpline.sysinfo.saved', { type: 'success', messageArgs: { file } })
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  const print = () => {
    if (!id) return
    // The print view is a route of this console (hash routing), in a window of its own.
    const opened = window.open(`${window.location.pathname}${window.location.search}#${reportPrintPath(id)}`, '_blank')
    if (!opened) notify('helpline.sysinfo.popup_blocked', { type: 'warning' })
  }

  if (report.error) {
    return (
      <Box sx={{ mt: 2 }}>
        <Title title="helpline.report.heading" />
        <Alert severity="error">{translate(report.error.message, { _: translate('helpline.sessions.not_found') })}</Alert>
      </Box>
    )
  }
  if (!data) return <Loading />
  const { session } = data
  return (
    <Box sx={{ mt: 1, mb: 2 }}>
      <Title title={translate('helpline.report.title', { name: session.customerName })} />
      <Card>
        <CardContent>
          <Stack direction={{ xs: 'column', md: 'row' }} spacing={2} sx={{ justifyContent: 'space-between', alignItems: { md: 'flex-start' }, mb: 2 }}>
            <Box>
              <Typography variant="h5" component="h1">
                {translate('helpline.report.heading')}
              </Typography>
              <Typography color="text.secondary">
                {session.customerName} · {formatNumber(session.number)}
              </Typography>
            </Box>
            <Stack direction="row" sx={{ gap: 1, flexWrap: 'wrap' }}>
              <Button component={Link} to={`/sessions/${session.id}/show`} startIcon={<ArrowBack />}>
                {translate('helpline.report.back')}
              </Button>
              <Button variant="outlined" startIcon={<Print />} onClick={print}>
                {translate('helpline.report.print')}
              </Button>
              <Button variant="outlined" startIcon={<Download />} disabled={download.isPending} onClick={() => download.mutate(data)}>
                {translate('helpline.report.download')}
              </Button>
            </Stack>
          </Stack>
          <ReportView report={data} />
        </CardContent>
      </Card>
    </Box>
  )
}
