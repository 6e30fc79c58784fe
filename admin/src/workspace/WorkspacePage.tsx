import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react'
import {
  Alert,
  Box,
  Button,
  ButtonBase,
  Checkbox,
  Chip,
  CircularProgress,
  FormControlLabel,
  Stack,
  Switch,
  Typography,
} from '@mui/material'
import PlayArrow from '@mui/icons-material/PlayArrow'
import OpenInNew from '@mui/icons-material/OpenInNew'
import ViewQuilt from '@mui/icons-material/ViewQuilt'
import { Loading, Title, useGetList, useTranslate } from 'react-admin'
import { Link, useLocation, useNavigate } from 'react-router-dom'
import type { Session } from '../api/resources/sessions.ts'
import { AgentStatusChip } from '../resources/sessions/chips.tsx'
import { formatNumber } from '../resources/sessions/format.ts'
import type { LiveState } from '../resources/sessions/live.ts'
import { runScriptsPath } from '../resources/script-batches/plan.ts'
import { useWorkspaceNotifications } from './notifications.ts'
import { SessionPane, type PaneEvents } from './SessionPane.tsx'
import { neighbour, parseOpen, sameSummary, workspacePath, type News, type PaneSummary } from './summary.ts'

/** Read by screen readers, not shown. */
const visuallyHidden = { position: 'absolute', width: 1, height: 1, overflow: 'hidden', clip: 'rect(0 0 0 0)', whiteSpace: 'nowrap' } as const

const LIST = { pagination: { page: 1, perPage: 50 }, sort: { field: 'createdAt', order: 'ASC' as const } }
const REFRESH_MS = 10_000

/** The CSR's own sessions that are not over: the workspace's tabs, oldest first. */
function useOpenSessions() {
  const active = useGetList<Session>('sessions', { ...LIST, filter: { status: 'active', mine: true } }, { refetchInterval: REFRESH_MS })
  const waiting = useGetList<Session>('sessions', { ...LIST, filter: { status: 'waiting', mine: true } }, { refetchInterval: REFRESH_MS })
  const sessions = useMemo(
    () => [...(active.data ?? []), ...(waiting.data ?? [])].sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
    [active.data, waiting.data],
  )
  // `fetching`: the lists may be the cache of an earlier visit, being read again.
  return { sessions, loaded: active.isSuccess && waiting.isSuccess, fetching: active.isFetching || waiting.isFetching }
}

function TabBadges({ summary }: { summary: PaneSummary | undefined }) {
  const translate = useTranslate()
  if (!summary) return null
  return (
    <Stack direction="row" spacing={0.5} sx={{ flexWrap: 'wrap', rowGap: 0.5, mt: 0.5 }}>
      {summary.pendingConsents > 0 && (
        <Chip size="small" color="warning" label={translate('workspace.consent_pending')} data-testid="badge-consent" />
      )}
      {summary.runningScripts > 0 && (
        <Chip
          size="small"
          color="info"
          variant="outlined"
          icon={<CircularProgress size={12} color="inherit" />}
          label={translate('workspace.running')}
          data-testid="badge-running"
        />
      )}
    </Stack>
  )
}

/** One tab: the customer, their agent's state and what waits there; a checkbox picks it for Run scripts. */
function SessionTab({
  session,
  summary,
  current,
  index,
  selected,
  onOpen,
  onSelect,
}: {
  session: Session
  summary: PaneSummary | undefined
  current: boolean
  index: number
  selected: boolean
  onOpen: () => void
  onSelect: (on: boolean) => void
}) {
  const translate = useTranslate()
  const unread = summary?.unread ?? 0
  const name = summary?.customerName ?? session.customerName
  return (
    <Box
      component="li"
      data-testid="workspace-tab"
      data-session-id={session.id}
      data-current={current}
      sx={{
        display: 'flex',
        alignItems: 'flex-start',
        borderRadius: 1,
        bgcolor: current ? 'action.selected' : undefined,
        borderLeft: 4,
        borderColor: current ? 'primary.main' : 'transparent',
      }}
    >
      <Checkbox
        size="small"
        checked={selected}
        onChange={(e) => onSelect(e.target.checked)}
        slotProps={{ input: { 'aria-label': translate('workspace.select', { name }) } }}
        sx={{ mt: 0.5 }}
      />
      <ButtonBase
        onClick={onOpen}
        aria-current={current ? 'page' : undefined}
        aria-controls={`workspace-pane-${session.id}`}
        aria-keyshortcuts={index < 9 ? `Alt+${index + 1}` : undefined}
        sx={{ flex: 1, minWidth: 0, display: 'block', textAlign: 'left', p: 1, borderRadius: 1 }}
        data-testid="workspace-tab-button"
      >
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center', justifyContent: 'space-between' }}>
          <Typography variant="body2" sx={{ fontWeight: current || unread > 0 ? 700 : 400, overflow: 'hidden', textOverflow: 'ellipsis' }} noWrap>
            {name}
          </Typography>
          {unread > 0 && (
            <Box
              component="span"
              data-testid="badge-unread"
              data-count={unread}
              sx={{ bgcolor: 'error.main', color: 'error.contrastText', borderRadius: 10, px: 0.75, minWidth: 20, textAlign: 'center', fontSize: 12, fontWeight: 700, lineHeight: '20px' }}
            >
              <span aria-hidden="true">{unread > 99 ? '99+' : unread}</span>
              <Box component="span" sx={visuallyHidden}>
                {translate('workspace.unread', { smart_count: unread })}
              </Box>
            </Box>
          )}
        </Stack>
        <Typography variant="caption" color="text.secondary" component="div" sx={{ fontFamily: 'monospace', whiteSpace: 'nowrap' }}>
          {formatNumber(session.number)}
        </Typography>
        <Box sx={{ mt: 0.5 }} data-testid="tab-agent">
          <AgentStatusChip agent={summary ? summary.agent : session.agent} sessionStatus={summary?.status ?? session.status} />
        </Box>
        <TabBadges summary={summary} />
      </ButtonBase>
    </Box>
  )
}

function newsText(news: News, live: LiveState, translate: ReturnType<typeof useTranslate>): string {
  const name = live.session.customerName
  switch (news.kind) {
    case 'message':
      return translate('workspace.news.message', { name, body: news.body.slice(0, 200) })
    case 'consent':
      return translate(`workspace.news.consent_${news.status}`, { name, kind: translate(`helpline.consent.kinds.${news.consentKind}`) })
    case 'agent_left':
      return translate('workspace.news.agent_left', { name })
    case 'ended':
      return translate('workspace.news.ended', { name })
  }
}

/**
 * The multi-session window: every session of the CSR that is not over, as a list of tabs with
 * their badges, and the chosen one's working area beside it. All sessions follow their streams
 * while the page is open, so the badges are live and a switch is instant.
 */
export function WorkspacePage() {
  const translate = useTranslate()
  const location = useLocation()
  const navigate = useNavigate()
  const { sessions, loaded, fetching } = useOpenSessions()
  const requested = useMemo(() => parseOpen(location.search), [location.search])
  const [current, setCurrent] = useState<string>()
  const [summaries, setSummaries] = useState<Record<string, PaneSummary>>({})
  const [seen, setSeen] = useState<Record<string, number>>({})
  const [selected, setSelected] = useState<string[]>([])
  const [messages, setMessages] = useState<string[]>([])
  const [closed, setClosed] = useState<string[]>([])
  const scrolls = useRef<Record<string, number>>({})
  const notifications = useWorkspaceNotifications()

  const tabs = useMemo(() => sessions.filter((s) => !closed.includes(s.id) && summaries[s.id]?.status !== 'ended'), [sessions, closed, summaries])
  const ids = useMemo(() => tabs.map((s) => s.id), [tabs])

  // A link's sessions that are not among the open ones are dropped, with a word why.
  useEffect(() => {
    if (!loaded || requested.length === 0) return
    const known = new Set(sessions.map((s) => s.id))
    // A session the cached lists do not have yet (opened since the last visit): wait for the fresh read.
    if (requested.some((id) => !known.has(id)) && fetching) return
    if (requested.some((id) => !known.has(id))) setMessages((m) => [...m, translate('workspace.dropped_unknown')])
    const first = requested.find((id) => known.has(id))
    if (first) setCurrent(first)
    navigate(workspacePath(), { replace: true })
  }, [loaded, fetching, requested, sessions, navigate, translate])

  // Always something shown while there is a tab; a tab that went away hands over to the first.
  useEffect(() => {
    if (ids.length > 0 && (current === undefined || !ids.includes(current))) setCurrent(ids[0])
  }, [ids, current])

  const open = useCallback(
    (id: string | undefined) => {
      if (id === undefined || id === current) return
      if (current) scrolls.current[current] = window.scrollY
      setCurrent(id)
    },
    [current],
  )
  // Each session keeps its own place on the page.
  useLayoutEffect(() => {
    if (current) window.scrollTo(0, scrolls.current[current] ?? 0)
  }, [current])

  // What the CSR looks at is read: its unread count goes to zero while it is shown.
  const currentLastSeq = current ? summaries[current]?.lastSeq : undefined
  useEffect(() => {
    if (current === undefined || currentLastSeq === undefined) return
    if (document.visibilityState !== 'visible') return
    setSeen((s) => (s[current] === currentLastSeq ? s : { ...s, [current]: currentLastSeq }))
  }, [current, currentLastSeq])
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === 'visible' && current && currentLastSeq !== undefined) setSeen((s) => ({ ...s, [current]: currentLastSeq }))
    }
    document.addEventListener('visibilitychange', onVisible)
    return () => document.removeEventListener('visibilitychange', onVisible)
  }, [current, currentLastSeq])

  // Alt+↑/↓ move to the previous/next session, Alt+1…9 to the n-th, from anywhere on the page.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!event.altKey || event.ctrlKey || event.metaKey) return
      let target: string | undefined
      if (event.key === 'ArrowDown') target = neighbour(ids, current, 1)
      else if (event.key === 'ArrowUp') target = neighbour(ids, current, -1)
      else if (/^Digit[1-9]$/.test(event.code)) target = ids[Number(event.code.slice(5)) - 1]
      if (target === undefined) return
      event.preventDefault()
      open(target)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [ids, current, open])

  const showNotification = notifications.show
  const events = useMemo<PaneEvents>(
    () => ({
      onSummary: (summary) => {
        setSummaries((all) => (sameSummary(all[summary.id], summary) ? all : { ...all, [summary.id]: summary }))
        // What was already there when the workspace opened is not unread.
        setSeen((s) => (s[summary.id] === undefined ? { ...s, [summary.id]: summary.lastSeq } : s))
        if (summary.status === 'ended') {
          setClosed((c) => (c.includes(summary.id) ? c : [...c, summary.id]))
        }
      },
      onNews: (live, news) => {
        for (const item of news) {
          if (item.kind === 'ended') setMessages((m) => [...m, translate('workspace.dropped_ended', { name: live.session.customerName })])
          showNotification(translate('helpline.title'), newsText(item, live, translate), `${live.session.id}:${item.kind}`, () => open(live.session.id))
        }
      },
    }),
    [translate, showNotification, open],
  )

  const chosen = selected.filter((id) => ids.includes(id))
  const runTargets = chosen.length > 0 ? chosen : current ? [current] : []

  return (
    <Box sx={{ mt: 1, mb: 2 }}>
      <Title title={translate('workspace.title')} />
      {messages.map((text, i) => (
        <Alert
          key={`${i}-${text}`}
          severity="info"
          sx={{ mb: 1 }}
          data-testid="workspace-message"
          onClose={() => setMessages((m) => m.filter((_, j) => j !== i))}
          slotProps={{ closeButton: { title: translate('ui.dismiss'), 'aria-label': translate('ui.dismiss') } }}
        >
          {text}
        </Alert>
      ))}
      {!loaded ? (
        <Loading />
      ) : tabs.length === 0 ? (
        <Box sx={{ textAlign: 'center', mt: 8, mx: 'auto', maxWidth: 520 }} data-testid="workspace-empty">
          <ViewQuilt sx={{ fontSize: 96, color: 'text.disabled' }} />
          <Typography variant="h5" component="h1" gutterBottom>
            {translate('workspace.empty_title')}
          </Typography>
          <Typography color="text.secondary" sx={{ mb: 3 }}>
            {translate('workspace.empty_hint')}
          </Typography>
          <Button component={Link} to="/sessions/create" variant="contained">
            {translate('helpline.sessions.create')}
          </Button>
        </Box>
      ) : (
        <Box sx={{ display: 'grid', gridTemplateColumns: { xs: 'minmax(0, 1fr)', md: '260px minmax(0, 1fr)' }, gap: 2, alignItems: 'start' }}>
          <Box component="nav" aria-label={translate('workspace.sessions')} sx={{ position: { md: 'sticky' }, top: { md: 64 } }}>
            <Typography variant="subtitle2" component="h1" sx={{ mb: 1 }}>
              {translate('workspace.sessions')}
            </Typography>
            <Box component="ul" sx={{ listStyle: 'none', p: 0, m: 0, display: 'grid', gap: 0.5, maxHeight: { xs: 260, md: 'none' }, overflowY: 'auto' }} data-testid="workspace-tabs">
              {tabs.map((session, index) => (
                <SessionTab
                  key={session.id}
                  session={session}
                  summary={summaries[session.id]}
                  current={session.id === current}
                  index={index}
                  selected={selected.includes(session.id)}
                  onOpen={() => open(session.id)}
                  onSelect={(on) => setSelected((s) => (on ? [...s, session.id] : s.filter((id) => id !== session.id)))}
                />
              ))}
            </Box>
            <Stack spacing={1} sx={{ mt: 2 }}>
              <Button component={Link} to={runScriptsPath(runTargets)} variant="contained" startIcon={<PlayArrow />} disabled={runTargets.length === 0} data-testid="workspace-run">
                {chosen.length > 0 ? translate('workspace.run_selected', { smart_count: chosen.length }) : translate('workspace.run_current')}
              </Button>
              {current && (
                <Button component={Link} to={`/sessions/${current}/show`} size="small" startIcon={<OpenInNew />}>
                  {translate('workspace.open_page')}
                </Button>
              )}
              <FormControlLabel
                control={<Switch size="small" checked={notifications.state === 'on'} disabled={notifications.state === 'unsupported'} onChange={() => void notifications.toggle()} />}
                label={<Typography variant="body2">{translate('workspace.notify')}</Typography>}
                data-testid="workspace-notify"
              />
              {(notifications.state === 'denied' || notifications.state === 'unsupported') && (
                <Typography variant="caption" color="text.secondary">
                  {translate(notifications.state === 'denied' ? 'workspace.notify_denied' : 'workspace.notify_unsupported')}
                </Typography>
              )}
              <Typography variant="caption" color="text.secondary">
                {translate('workspace.shortcuts')}
              </Typography>
            </Stack>
          </Box>
          <Box sx={{ position: 'relative', minWidth: 0 }}>
            {tabs.map((session) => (
              <SessionPane key={session.id} id={session.id} shown={session.id === current} seenSeq={seen[session.id] ?? Number.MAX_SAFE_INTEGER} events={events} />
            ))}
          </Box>
        </Box>
      )}
    </Box>
  )
}
