import { useEffect, useState, type ReactNode } from 'react'
import { useMutation, useQuery } from '@tanstack/react-query'
import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  CardHeader,
  CircularProgress,
  FormControl,
  InputLabel,
  List,
  ListItemButton,
  ListItemIcon,
  ListItemText,
  MenuItem,
  Select,
  Stack,
  Typography,
} from '@mui/material'
import Refresh from '@mui/icons-material/Refresh'
import Save from '@mui/icons-material/Save'
import Print from '@mui/icons-material/Print'
import WarningAmber from '@mui/icons-material/WarningAmber'
import { useDataProvider, useLocaleState, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { Session, Snapshot, SnapshotSummary, SystemInfoRequested } from '../../api/resources/sessions.ts'
import { CategoryView, useCategoryTitle } from './CategoryView.tsx'
import { downloadText, printPath, snapshotFileName } from './format.ts'
import { systemInfoActivity, type Activity, type LiveState } from './live.ts'
import { useFormatTime, type ApplyChange } from './useSessionLive.ts'

/** Long tables (installed packages, environment) show this many rows until asked for all. */
const ROW_LIMIT = 200

/** A snapshot never changes once stored: one read per snapshot, kept for the page's life. */
export function useSnapshot(sessionId: string, snapshotId: string | undefined) {
  const dataProvider = useDataProvider<AppDataProvider>()
  return useQuery<Snapshot, Error>({
    queryKey: ['helpline', 'snapshot', sessionId, snapshotId],
    queryFn: () => dataProvider.getSnapshot(sessionId, snapshotId!),
    enabled: snapshotId !== undefined,
    staleTime: Infinity,
  })
}

/** What the latest collection is doing, in words, with its severity; undefined when there is nothing to say. */
function ActivityNotice({ activity, session }: { activity: Activity; session: Session }) {
  const translate = useTranslate()
  const time = useFormatTime()
  const notice = (severity: 'info' | 'success' | 'warning' | 'error', text: string, busy = false): ReactNode => (
    <Alert
      severity={severity}
      icon={busy ? <CircularProgress size={20} /> : undefined}
      data-activity={activity.kind}
      role="status"
      sx={{ mb: 2 }}
    >
      {text}
    </Alert>
  )
  switch (activity.kind) {
    case 'waiting_consent':
      return notice('info', translate('helpline.sysinfo.waiting_consent'), true)
    case 'collecting':
      return notice('info', translate('helpline.sysinfo.collecting'), true)
    case 'denied':
      return notice('error', translate('helpline.sysinfo.denied'))
    case 'expired':
      return notice('warning', translate('helpline.sysinfo.expired'))
    case 'cancelled':
      return notice('info', translate('helpline.sysinfo.cancelled'))
    case 'failed':
      return notice('error', translate('helpline.sysinfo.failed', { reason: activity.command.error ?? translate('helpline.sysinfo.no_reason') }))
    case 'collected':
      return notice(
        'success',
        `${translate('helpline.sysinfo.approved')} ${translate('helpline.sysinfo.collected', { time: time(activity.command.finishedAt) })}`,
      )
    case 'idle':
      if (session.systemInfoConsent === 'approved') return notice('success', translate('helpline.sysinfo.approved'))
      return null
  }
}

function snapshotLabel(s: SnapshotSummary, latest: boolean, time: (iso: string) => string, latestWord: string) {
  return `${time(s.collectedAt)}${s.hostname ? ` · ${s.hostname}` : ''}${latest ? ` (${latestWord})` : ''}`
}

/**
 * The customer's system information: a snapshot picker, Refresh (asks for consent the first time),
 * Save (.txt from the API) and Print (a print view in its own window), then the category list on
 * the left and the chosen category on the right.
 */
export function SystemInfoPanel({ live, apply }: { live: LiveState; apply: ApplyChange }) {
  const translate = useTranslate()
  const notify = useNotify()
  const time = useFormatTime()
  const categoryTitle = useCategoryTitle()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [locale] = useLocaleState()
  const { session, snapshots } = live
  const latest = snapshots.at(-1)
  const [picked, setPicked] = useState<string | undefined>(latest?.id)
  const [categoryId, setCategoryId] = useState<string>('system')

  // A new snapshot (the answer to Refresh) is what the CSR is waiting for: show it.
  useEffect(() => {
    if (latest) setPicked(latest.id)
  }, [latest?.id])

  const snapshotId = picked ?? latest?.id
  const summary = snapshots.find((s) => s.id === snapshotId)
  const snapshot = useSnapshot(session.id, snapshotId)
  const activity = systemInfoActivity(live)
  const busy = activity.kind === 'waiting_consent' || activity.kind === 'collecting'
  const categories = Array.isArray(snapshot.data?.categories) ? snapshot.data.categories : []
  const category = categories.find((c) => c.id === categoryId) ?? categories[0]

  const refresh = useMutation<SystemInfoRequested, Error>({
    mutationFn: () => dataProvider.requestSystemInfo(session.id),
    onSuccess: ({ command, consent }) => {
      if (consent) apply({ event: 'consent', data: consent })
      if (command) apply({ event: 'command', data: command })
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  const save = useMutation<string, Error, SnapshotSummary>({
    mutationFn: (s) => dataProvider.snapshotText(session.id, s.id, locale),
    onSuccess: (text, s) => {
      if (typeof text !== 'string') return
      const file = snapshotFileName(session.customerName, session.number, s.collectedAt)
      downloadText(text, file)
      notify('helpline.sysinfo.saved', { type: 'success', messageArgs: { file } })
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  const print = () => {
    if (!summary) return
    // The print view is a route of this console (hash routing), in a window of its own.
    const url = `${window.location.pathname}${window.location.search}#${printPath(session.id, summary.id)}`
    const opened = window.open(url, '_blank')
    if (!opened) notify('helpline.sysinfo.popup_blocked', { type: 'warning' })
  }

  const canRefresh = session.status === 'active' && !busy && !refresh.isPending

  return (
    <Card data-testid="system-info">
      <CardHeader
        title={translate('helpline.sysinfo.title')}
        slotProps={{ title: { variant: 'h6', component: 'h2' } }}
        action={
          <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap', rowGap: 1, justifyContent: 'flex-end', alignItems: 'center' }}>
            {snapshots.length > 0 && (
              <FormControl size="small" sx={{ minWidth: 260 }}>
                <InputLabel id="snapshot-picker-label">{translate('helpline.sysinfo.snapshot')}</InputLabel>
                <Select
                  labelId="snapshot-picker-label"
                  label={translate('helpline.sysinfo.snapshot')}
                  value={snapshotId ?? ''}
                  onChange={(e) => setPicked(e.target.value)}
                  data-testid="snapshot-picker"
                >
                  {[...snapshots].reverse().map((s) => (
                    <MenuItem key={s.id} value={s.id}>
                      {snapshotLabel(s, s.id === latest?.id, time, translate('helpline.sysinfo.latest'))}
                    </MenuItem>
                  ))}
                </Select>
              </FormControl>
            )}
            <Button
              variant="contained"
              startIcon={refresh.isPending || busy ? <CircularProgress size={16} color="inherit" /> : <Refresh />}
              disabled={!canRefresh}
              onClick={() => refresh.mutate()}
            >
              {translate('helpline.sysinfo.refresh')}
            </Button>
            <Button
              variant="outlined"
              startIcon={<Save />}
              disabled={!summary || save.isPending}
              onClick={() => summary && save.mutate(summary)}
            >
              {translate('helpline.sysinfo.save')}
            </Button>
            <Button variant="outlined" startIcon={<Print />} disabled={!summary} onClick={print}>
              {translate('helpline.sysinfo.print')}
            </Button>
          </Stack>
        }
        sx={{ flexWrap: 'wrap', rowGap: 1, '& .MuiCardHeader-action': { m: 0 } }}
      />
      <CardContent>
        {session.status === 'waiting' && (
          <Alert severity="info" sx={{ mb: 2 }}>
            {translate('helpline.sysinfo.not_active')}
          </Alert>
        )}
        {session.status === 'ended' && snapshots.length > 0 && (
          <Alert severity="info" sx={{ mb: 2 }}>
            {translate('helpline.sysinfo.ended')}
          </Alert>
        )}
        <ActivityNotice activity={activity} session={session} />
        {snapshots.length === 0 ? (
          session.status === 'active' && (
            <Typography color="text.secondary" data-testid="no-snapshots">
              {translate('helpline.sysinfo.none')}
            </Typography>
          )
        ) : snapshot.isPending ? (
          <Stack sx={{ alignItems: 'center' }} direction="row" spacing={1}>
            <CircularProgress size={20} />
            <Typography color="text.secondary">{translate('helpline.sysinfo.loading')}</Typography>
          </Stack>
        ) : snapshot.error ? (
          <Alert severity="error">{translate(snapshot.error.message)}</Alert>
        ) : (
          snapshot.data && (
            <Box sx={{ display: 'flex', gap: 2, alignItems: 'flex-start', flexDirection: { xs: 'column', md: 'row' } }}>
              <List
                dense
                component="nav"
                aria-label={translate('helpline.sysinfo.categories_label')}
                sx={{ width: { xs: '100%', md: 200 }, flexShrink: 0, borderRight: { md: 1 }, borderColor: { md: 'divider' } }}
                data-testid="category-list"
              >
                {snapshot.data.categories.map((c) => (
                  <ListItemButton
                    key={c.id}
                    selected={c.id === category?.id}
                    onClick={() => setCategoryId(c.id)}
                    aria-current={c.id === category?.id ? 'true' : undefined}
                    data-category-id={c.id}
                  >
                    <ListItemText primary={categoryTitle(c)} />
                    {!c.available && (
                      <ListItemIcon sx={{ minWidth: 0 }} title={c.reason ?? ''}>
                        <WarningAmber fontSize="small" color="warning" />
                      </ListItemIcon>
                    )}
                  </ListItemButton>
                ))}
              </List>
              <Box sx={{ flex: 1, minWidth: 0 }} data-testid="category-view">
                {category && <CategoryView key={`${snapshot.data.id}-${category.id}`} category={category} rowLimit={ROW_LIMIT} scroll />}
              </Box>
            </Box>
          )
        )}
      </CardContent>
    </Card>
  )
}
