import { useEffect } from 'react'
import { useQuery } from '@tanstack/react-query'
import { Alert, Box, Button, CircularProgress, GlobalStyles, Stack, Table, TableBody, TableCell, TableRow, Typography } from '@mui/material'
import Print from '@mui/icons-material/Print'
import { useDataProvider, useTranslate } from 'react-admin'
import { useParams } from 'react-router-dom'
import type { AppDataProvider } from '../../api/index.ts'
import type { Session } from '../../api/resources/sessions.ts'
import { CategoryView } from './CategoryView.tsx'
import { formatNumber } from './format.ts'
import { useSnapshot } from './SystemInfoPanel.tsx'
import { useFormatTime } from './useSessionLive.ts'

/** Paper: no buttons, no shadows, no scroll boxes; headings stay with what follows; table heads repeat on each page. */
export const printCss = {
  '@page': { margin: '14mm' },
  '@media print': {
    '.hl-no-print': { display: 'none !important' },
    'html, body': { background: '#fff !important' },
    '.hl-print *': { boxShadow: 'none !important' },
    '.hl-print': { fontSize: '10pt', padding: '0 !important', maxWidth: 'none !important' },
    '.hl-print .MuiTableCell-root': { padding: '2px 6px', fontSize: '9pt', borderBottom: '1px solid #ccc' },
    '.hl-print thead': { display: 'table-header-group' },
    '.hl-print tr': { breakInside: 'avoid' },
    '.hl-category': { breakBefore: 'page' },
    '.hl-category:first-of-type': { breakBefore: 'auto' },
    '.hl-category-title, .hl-info-table h4': { breakAfter: 'avoid' },
  },
} as const

/**
 * A snapshot's print view: every category, one after another, in full. Opened in its own window
 * by the System information view; it calls the browser's print once the snapshot is on screen.
 */
export function SnapshotPrintPage() {
  const { id = '', snapshotId } = useParams<'id' | 'snapshotId'>()
  const translate = useTranslate()
  const time = useFormatTime()
  const dataProvider = useDataProvider<AppDataProvider>()
  const session = useQuery<Session, Error>({
    queryKey: ['helpline', 'session-for-print', id],
    queryFn: async () => (await dataProvider.getOne<Session>('sessions', { id })).data,
  })
  const snapshot = useSnapshot(id, snapshotId)
  const ready = session.data !== undefined && snapshot.data !== undefined

  // The title names the PDF a "print to file" makes.
  const title = session.data
    ? `${translate('helpline.sysinfo.print_heading')} — ${session.data.customerName} — ${formatNumber(session.data.number)}`
    : undefined
  useEffect(() => {
    if (title) document.title = title
  }, [title])

  useEffect(() => {
    if (!session.data || !snapshot.data) return
    // Let the tables lay out before the print dialog takes its picture of the page.
    const timer = setTimeout(() => window.print(), 300)
    return () => clearTimeout(timer)
  }, [session.data, snapshot.data])

  const error = session.error ?? snapshot.error
  return (
    <Box className="hl-print" sx={{ maxWidth: 1000, mx: 'auto', p: 3, bgcolor: 'background.paper', minHeight: '100vh' }}>
      <GlobalStyles styles={printCss} />
      <Stack direction="row" spacing={1} className="hl-no-print" sx={{ mb: 2, justifyContent: 'flex-end' }}>
        <Button variant="contained" startIcon={<Print />} disabled={!ready} onClick={() => window.print()}>
          {translate('helpline.sysinfo.print')}
        </Button>
        <Button onClick={() => window.close()}>{translate('helpline.sysinfo.print_close')}</Button>
      </Stack>
      {error && <Alert severity="error">{translate(error.message)}</Alert>}
      {!ready && !error && <CircularProgress />}
      {ready && (
        <Box data-testid="print-view">
          <Typography variant="h4" component="h1" gutterBottom>
            {translate('helpline.sysinfo.print_heading')}
          </Typography>
          <Table size="small" sx={{ width: 'auto', mb: 3 }}>
            <TableBody>
              {[
                [translate('helpline.sysinfo.customer'), session.data.customerName],
                [translate('helpline.sysinfo.session'), formatNumber(session.data.number)],
                [translate('helpline.sysinfo.computer'), snapshot.data.hostname ?? '—'],
                [translate('helpline.sysinfo.collected_at'), time(snapshot.data.collectedAt)],
              ].map(([label, value]) => (
                <TableRow key={label}>
                  <TableCell component="th" scope="row" sx={{ fontWeight: 700, pl: 0 }}>
                    {label}
                  </TableCell>
                  <TableCell>{value}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <Stack spacing={4}>
            {snapshot.data.categories.map((c) => (
              <CategoryView key={c.id} category={c} headingComponent="h2" />
            ))}
          </Stack>
        </Box>
      )}
    </Box>
  )
}
