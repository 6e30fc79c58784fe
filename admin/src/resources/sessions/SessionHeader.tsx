import { useState } from 'react'
import { useMutation } from '@tanstack/react-query'
import { Box, Button, Card, CardContent, Chip, Divider, Stack, Typography } from '@mui/material'
import StopCircleOutlined from '@mui/icons-material/StopCircleOutlined'
import PlayArrow from '@mui/icons-material/PlayArrow'
import Assignment from '@mui/icons-material/Assignment'
import { Link } from 'react-router-dom'
import FiberManualRecord from '@mui/icons-material/FiberManualRecord'
import { Confirm, useDataProvider, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { StreamState } from '../../api/session-stream.ts'
import type { Session } from '../../api/resources/sessions.ts'
import { reportPath } from '../reports/report.ts'
import { runScriptsPath } from '../script-batches/plan.ts'
import { accessControls } from './access.ts'
import { AccessActions, AccessChips } from './AccessActions.tsx'
import { AgentStatusChip, SessionStatusChip } from './chips.tsx'
import { CopyButton } from './CopyButton.tsx'
import { formatNumber } from './format.ts'
import { JoinInstructions } from './JoinInstructions.tsx'
import type { LiveState } from './live.ts'
import { useFormatTime, type ApplyChange } from './useSessionLive.ts'

function EndSessionButton({ session, apply }: { session: Session; apply: ApplyChange }) {
  const dataProvider = useDataProvider<AppDataProvider>()
  const notify = useNotify()
  const translate = useTranslate()
  const [open, setOpen] = useState(false)
  const { mutate, isPending } = useMutation<Session, Error>({
    mutationFn: () => dataProvider.endSession(session.id),
    onSuccess: (ended) => {
      apply({ event: 'session', data: ended })
      setOpen(false)
      notify('helpline.sessions.ended_notice', { type: 'info' })
    },
    onError: (error) => {
      setOpen(false)
      notify(error.message || 'ra.notification.http_error', { type: 'error' })
    },
  })
  return (
    <>
      <Button color="error" variant="outlined" startIcon={<StopCircleOutlined />} onClick={() => setOpen(true)}>
        {translate('helpline.sessions.end')}
      </Button>
      <Confirm
        isOpen={open}
        loading={isPending}
        title="helpline.sessions.end_title"
        titleTranslateOptions={{ name: session.customerName }}
        content="helpline.sessions.end_content"
        confirm="helpline.sessions.end"
        confirmColor="warning"
        onConfirm={() => mutate()}
        onClose={() => setOpen(false)}
      />
    </>
  )
}

const streamColor: Record<StreamState, 'success' | 'warning' | 'error' | 'disabled'> = {
  open: 'success',
  connecting: 'disabled',
  reconnecting: 'warning',
  failed: 'error',
}
const streamLabel: Record<StreamState, string> = {
  open: 'helpline.sessions.live',
  connecting: 'helpline.sessions.connecting',
  reconnecting: 'helpline.sessions.reconnecting',
  failed: 'helpline.sessions.stream_failed',
}

/**
 * Who, which number, what state: the top of the session page, kept current by the stream. While
 * the session is active it also offers the work on the customer's computer (scripts, logon as
 * another user, restart); the report is there in every state.
 */
export function SessionHeader({ live, stream, apply }: { live: LiveState; stream: StreamState; apply: ApplyChange }) {
  const { session } = live
  const translate = useTranslate()
  const time = useFormatTime()
  const number = formatNumber(session.number)
  const { restarting } = accessControls(live)
  const when = [
    translate('helpline.sessions.created', { time: time(session.createdAt) }),
    session.startedAt && translate('helpline.sessions.started', { time: time(session.startedAt) }),
    session.endedAt && translate('helpline.sessions.ended', { time: time(session.endedAt) }),
  ].filter(Boolean)
  return (
    <Card data-testid="session-header">
      <CardContent>
        <Stack sx={{ alignItems: { md: 'flex-start' }, justifyContent: 'space-between' }} direction={{ xs: 'column', md: 'row' }} spacing={2}>
          <Box>
            <Typography variant="h5" component="h1" data-testid="session-customer">
              {session.customerName}
            </Typography>
            {(session.customerEmail || session.description) && (
              <Typography variant="body2" color="text.secondary" sx={{ whiteSpace: 'pre-wrap' }}>
                {[session.customerEmail, session.description].filter(Boolean).join(' — ')}
              </Typography>
            )}
            <Stack direction="row" spacing={1} sx={{ mt: 1, flexWrap: 'wrap', rowGap: 1, alignItems: 'center' }}>
              <SessionStatusChip status={session.status} />
              {session.status === 'ended' && session.endedReason && (
                <Chip size="small" variant="outlined" label={translate(`helpline.sessions.ended_reason.${session.endedReason}`)} />
              )}
              {/* While the computer restarts, "Restarting…" says it all: not "Agent online" beside it. */}
              {!restarting && <AgentStatusChip agent={session.agent} sessionStatus={session.status} detailed />}
              <AccessChips live={live} />
              {/* An ended session has nothing live to follow: no green "Live". */}
              {session.status !== 'ended' && (
                <Chip
                  size="small"
                  variant="outlined"
                  icon={<FiberManualRecord color={streamColor[stream]} />}
                  label={translate(streamLabel[stream])}
                  data-stream={stream}
                />
              )}
            </Stack>
          </Box>
          <Stack sx={{ alignItems: { md: 'flex-end' } }} spacing={0.5}>
            <Stack sx={{ alignItems: 'center' }} direction="row" spacing={0.5}>
              <Typography variant="caption" color="text.secondary">
                {translate('helpline.sessions.number')}
              </Typography>
              <Typography sx={{ fontFamily: 'monospace', fontSize: '1.5rem', fontWeight: 700, letterSpacing: '0.05em' }} data-testid="header-number">
                {number}
              </Typography>
              <CopyButton text={number} label="helpline.sessions.copy_number" size="small" />
            </Stack>
            <Typography variant="body2" color="text.secondary">
              {translate('helpline.sessions.csr', { name: session.csr.name })}
            </Typography>
            <Typography variant="caption" color="text.secondary">
              {when.join(' · ')}
            </Typography>
          </Stack>
        </Stack>
        {/* A row of its own: beside the number the buttons would wrap and make the header tall. */}
        <Stack direction="row" sx={{ mt: 1.5, gap: 1, flexWrap: 'wrap', justifyContent: { md: 'flex-end' } }} data-testid="session-actions">
          {session.status === 'active' && (
            <>
              <Button component={Link} to={runScriptsPath([session.id])} variant="outlined" startIcon={<PlayArrow />}>
                {translate('helpline.runs.start')}
              </Button>
              <AccessActions live={live} apply={apply} />
            </>
          )}
          <Button component={Link} to={reportPath(session.id)} variant="outlined" startIcon={<Assignment />}>
            {translate('helpline.report.open')}
          </Button>
          {session.status !== 'ended' && <EndSessionButton session={session} apply={apply} />}
        </Stack>
        {session.status === 'waiting' && (
          <>
            <Divider sx={{ my: 2 }} />
            <JoinInstructions number={session.number} customerName={session.customerName} customerEmail={session.customerEmail} csrName={session.csr.name} />
            {session.expiresAt && (
              <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
                {translate('helpline.sessions.waiting_hint', { time: time(session.expiresAt) })}
              </Typography>
            )}
          </>
        )}
      </CardContent>
    </Card>
  )
}
