import { useState } from 'react'
import { useMutation } from '@tanstack/react-query'
import {
  Alert,
  Box,
  Button,
  ButtonBase,
  Card,
  CardContent,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Link as MuiLink,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Typography,
} from '@mui/material'
import Block from '@mui/icons-material/Block'
import PlayArrow from '@mui/icons-material/PlayArrow'
import { Confirm, Loading, Title, useDataProvider, useGetOne, useNotify, useTranslate } from 'react-admin'
import { Link, useParams } from 'react-router-dom'
import type { AppDataProvider } from '../../api/index.ts'
import { isFullBatch, type ScriptBatch, type ScriptBatchSummary, type ScriptRun, type SessionRun } from '../../api/resources/script-batches.ts'
import { formatNumber } from '../sessions/format.ts'
import { useFormatTime } from '../sessions/useSessionLive.ts'
import { BatchStatusChip, RunStatusChip } from './chips.tsx'
import { OutputView } from './OutputView.tsx'
import { runScriptsPath } from './plan.ts'
import { isFinal, laterStatus, runFacts } from './status.ts'
import { useRunOutput } from './useRunOutput.ts'

/** While a batch runs its page reads it again every second: simple, and right after any drop. */
const REFRESH_MS = 1000

function Counts({ counts }: { counts: ScriptBatch['counts'] }) {
  const translate = useTranslate()
  const entries = Object.entries(counts).filter(([, n]) => n > 0)
  return (
    <Stack direction="row" spacing={0.5} sx={{ flexWrap: 'wrap', rowGap: 0.5 }} data-testid="batch-counts">
      {entries.map(([status, n]) => (
        <Chip key={status} size="small" variant="outlined" label={`${translate(`helpline.runs.status.${status}`, { _: status })}: ${n}`} />
      ))}
    </Stack>
  )
}

interface Opened {
  run: ScriptRun
  session: SessionRun
}

function RunOutputDialog({ opened, onClose }: { opened: Opened; onClose: () => void }) {
  const translate = useTranslate()
  const time = useFormatTime()
  const { run, session } = opened
  const { chunks, output, error } = useRunOutput(run.id)
  const status = output ? laterStatus(run.status, output.status) : run.status
  const facts = runFacts(run, translate)
  return (
    <Dialog open onClose={onClose} maxWidth="md" fullWidth aria-labelledby="run-output-title">
      <DialogTitle id="run-output-title">
        {translate('helpline.runs.output_title', {
          name: run.scriptName,
          version: run.version,
          customer: session.customerName,
        })}
      </DialogTitle>
      <DialogContent data-testid="run-output-dialog">
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center', flexWrap: 'wrap', rowGap: 1, mb: 1.5 }}>
          <RunStatusChip status={status} />
          {facts && (
            <Typography variant="body2" color="text.secondary">
              {facts}
            </Typography>
          )}
          {run.startedAt && (
            <Typography variant="body2" color="text.secondary">
              {translate('helpline.runs.started_at', { time: time(run.startedAt) })}
            </Typography>
          )}
        </Stack>
        {run.args.length > 0 && (
          <Typography variant="body2" sx={{ mb: 1 }}>
            {translate('helpline.runs.arguments')}:{' '}
            <Box component="code" sx={{ fontFamily: 'monospace' }}>
              {run.args.map((a) => JSON.stringify(a)).join(' ')}
            </Box>
          </Typography>
        )}
        {run.error && (
          <Alert severity="error" sx={{ mb: 1 }}>
            {run.error}
          </Alert>
        )}
        {error !== undefined && (
          <Alert severity="warning" sx={{ mb: 1 }}>
            {translate(error instanceof Error ? error.message : String(error))}
          </Alert>
        )}
        <OutputView
          chunks={chunks}
          maxHeight={480}
          empty={translate(isFinal(status) ? 'helpline.runs.output_empty' : 'helpline.runs.output_waiting')}
        />
        {(output?.outputTruncated ?? run.outputTruncated) && (
          <Typography variant="caption" color="warning.main" component="div" sx={{ mt: 1 }}>
            {translate('helpline.runs.output_truncated')}
          </Typography>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>{translate('ra.action.close')}</Button>
      </DialogActions>
    </Dialog>
  )
}

function RunCell({ run, session, onOpen }: { run: ScriptRun | undefined; session: SessionRun; onOpen: (o: Opened) => void }) {
  const translate = useTranslate()
  if (!run) return <TableCell>—</TableCell>
  const facts = runFacts(run, translate)
  return (
    <TableCell sx={{ verticalAlign: 'top' }}>
      <ButtonBase
        onClick={() => onOpen({ run, session })}
        aria-label={translate('helpline.runs.open_output', { name: run.scriptName, customer: session.customerName })}
        data-testid="run-cell"
        data-run-id={run.id}
        data-run-status={run.status}
        sx={{ display: 'flex', flexDirection: 'column', alignItems: 'flex-start', gap: 0.5, borderRadius: 1, p: 0.5, textAlign: 'left' }}
      >
        <RunStatusChip status={run.status} />
        {facts && (
          <Typography variant="caption" color="text.secondary">
            {facts}
          </Typography>
        )}
      </ButtonBase>
    </TableCell>
  )
}

/** Cancels one thing of a batch after a confirmation; the batch as it is then goes to `onDone`. */
function CancelButton({
  label,
  title,
  content,
  titleOptions,
  action,
  onDone,
  small,
}: {
  label: string
  title: string
  content: string
  titleOptions?: Record<string, string>
  action: () => Promise<ScriptBatch>
  onDone: () => void
  small?: boolean
}) {
  const translate = useTranslate()
  const notify = useNotify()
  const [open, setOpen] = useState(false)
  const { mutate, isPending } = useMutation<ScriptBatch, Error>({
    mutationFn: action,
    onSuccess: () => {
      setOpen(false)
      notify('helpline.runs.cancelled_notice', { type: 'info' })
      onDone()
    },
    onError: (error) => {
      setOpen(false)
      notify(error.message || 'ra.notification.http_error', { type: 'error' })
      onDone()
    },
  })
  return (
    <>
      <Button
        color="error"
        variant="outlined"
        size={small ? 'small' : 'medium'}
        startIcon={small ? undefined : <Block />}
        onClick={() => setOpen(true)}
      >
        {translate(label)}
      </Button>
      <Confirm
        isOpen={open}
        loading={isPending}
        title={title}
        titleTranslateOptions={titleOptions}
        content={content}
        confirm={label}
        confirmColor="warning"
        cancel="helpline.runs.keep_running"
        onConfirm={() => mutate()}
        onClose={() => setOpen(false)}
      />
    </>
  )
}

function BatchGrid({ batch, onChanged }: { batch: ScriptBatch; onChanged: () => void }) {
  const translate = useTranslate()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [opened, setOpened] = useState<{ runId: string; sessionId: string }>()
  // The dialog follows the batch's refreshes: find the run again in the latest answer.
  const openSession = opened && batch.sessions.find((s) => s.sessionId === opened.sessionId)
  const openRun = openSession?.runs.find((r) => r.id === opened?.runId)
  const scripts = [...batch.scripts].sort((a, b) => a.position - b.position)

  return (
    <>
      <TableContainer>
        <Table size="small" data-testid="batch-grid" aria-label={translate('helpline.runs.grid_label')}>
          <TableHead>
            <TableRow>
              <TableCell>{translate('helpline.runs.session')}</TableCell>
              {scripts.map((s) => (
                <TableCell key={s.position} data-testid="script-column">
                  <Typography variant="body2" sx={{ fontWeight: 600 }}>
                    {`${s.position + 1}. ${s.name}`}
                  </Typography>
                  <Typography variant="caption" color="text.secondary" component="div">
                    {[
                      translate('helpline.runs.version', { version: s.version }),
                      translate('helpline.runs.timeout_short', { seconds: s.timeoutSeconds }),
                      s.args.length > 0 ? s.args.map((a) => JSON.stringify(a)).join(' ') : null,
                    ]
                      .filter(Boolean)
                      .join(' · ')}
                  </Typography>
                </TableCell>
              ))}
            </TableRow>
          </TableHead>
          <TableBody>
            {batch.sessions.map((session) => (
              <TableRow key={session.sessionId} data-testid="session-row" data-session-id={session.sessionId}>
                <TableCell sx={{ verticalAlign: 'top', minWidth: 200 }}>
                  <MuiLink component={Link} to={`/sessions/${session.sessionId}/show`} underline="hover">
                    {session.customerName}
                  </MuiLink>
                  <Typography variant="body2" sx={{ fontFamily: 'monospace' }}>
                    {formatNumber(session.sessionNumber)}
                  </Typography>
                  <Stack direction="row" spacing={1} sx={{ mt: 0.5, alignItems: 'center' }}>
                    <span data-testid="session-run-status">
                      <RunStatusChip status={session.status} />
                    </span>
                    {!isFinal(session.status) && (
                      <CancelButton
                        small
                        label="helpline.runs.cancel_session"
                        title="helpline.runs.cancel_session_title"
                        titleOptions={{ name: session.customerName }}
                        content="helpline.runs.cancel_session_content"
                        action={() => dataProvider.cancelSessionRun(batch.id, session.sessionId)}
                        onDone={onChanged}
                      />
                    )}
                  </Stack>
                </TableCell>
                {scripts.map((s) => (
                  <RunCell
                    key={s.position}
                    run={session.runs.find((r) => r.position === s.position)}
                    session={session}
                    onOpen={(o) => setOpened({ runId: o.run.id, sessionId: o.session.sessionId })}
                  />
                ))}
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </TableContainer>
      {openRun && openSession && (
        <RunOutputDialog
          opened={{ run: openRun, session: openSession }}
          onClose={() => setOpened(undefined)}
        />
      )}
    </>
  )
}

/**
 * One batch: who ran what, where, and how each run went, as a grid of sessions × scripts. Read
 * again every second while it runs; any cell opens that run's output.
 */
export function BatchShow() {
  const { id } = useParams<'id'>()
  const translate = useTranslate()
  const time = useFormatTime()
  const dataProvider = useDataProvider<AppDataProvider>()
  // The list's records prefill this cache (react-admin does so for every getList): a summary,
  // without `sessions` or `scripts`, until the batch itself is read — wait for that.
  const { data, error, refetch } = useGetOne<ScriptBatch | ScriptBatchSummary>(
    'script-batches',
    { id: id ?? '' },
    { enabled: Boolean(id), refetchInterval: (query) => (query.state.data?.status === 'running' ? REFRESH_MS : false) },
  )
  const batch = data && isFullBatch(data) ? data : undefined
  if (error && !batch) {
    return (
      <Box sx={{ mt: 2 }}>
        <Title title="helpline.runs.batches_title" />
        <Alert severity="error">{translate(error.message, { _: translate('helpline.runs.not_found') })}</Alert>
      </Box>
    )
  }
  if (!batch) return <Loading />
  const done = () => void refetch()
  return (
    <Box sx={{ mt: 1, mb: 2 }}>
      <Title title={translate('helpline.runs.batch_title', { time: time(batch.createdAt) })} />
      <Card data-testid="batch">
        <CardContent>
          <Stack direction={{ xs: 'column', md: 'row' }} spacing={2} sx={{ justifyContent: 'space-between', alignItems: { md: 'flex-start' } }}>
            <Box>
              <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
                <Typography variant="h5" component="h1">
                  {translate('helpline.runs.batch_heading')}
                </Typography>
                <BatchStatusChip status={batch.status} />
              </Stack>
              <Typography variant="body2" color="text.secondary" sx={{ mt: 0.5 }}>
                {translate('helpline.runs.created_by', { name: batch.createdBy.name, time: time(batch.createdAt) })}
                {batch.stopOnFailure && ` · ${translate('helpline.runs.stops_on_failure')}`}
                {batch.cancelledAt && ` · ${translate('helpline.runs.cancelled_at', { time: time(batch.cancelledAt) })}`}
              </Typography>
              <Box sx={{ mt: 1 }}>
                <Counts counts={batch.counts} />
              </Box>
            </Box>
            <Stack direction="row" spacing={1}>
              <Button
                component={Link}
                to={runScriptsPath(batch.sessions.map((s) => s.sessionId))}
                variant="outlined"
                startIcon={<PlayArrow />}
              >
                {translate('helpline.runs.run_again')}
              </Button>
              {batch.status === 'running' && (
                <CancelButton
                  label="helpline.runs.cancel_batch"
                  title="helpline.runs.cancel_batch_title"
                  content="helpline.runs.cancel_batch_content"
                  action={() => dataProvider.cancelScriptBatch(batch.id)}
                  onDone={done}
                />
              )}
            </Stack>
          </Stack>
          <Box sx={{ mt: 2 }}>
            <BatchGrid batch={batch} onChanged={done} />
          </Box>
        </CardContent>
      </Card>
    </Box>
  )
}
