import type { ReactNode } from 'react'
import { useMutation } from '@tanstack/react-query'
import { Box, Button, Stack, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@mui/material'
import Download from '@mui/icons-material/Download'
import { useDataProvider, useLocaleState, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { ReportScriptRun, SessionReport, SnapshotSummary } from '../../api/resources/sessions.ts'
import { RunStatusChip } from '../script-batches/chips.tsx'
import { OutputView } from '../script-batches/OutputView.tsx'
import { formatDuration } from '../script-batches/status.ts'
import { ConsentStatusChip } from '../sessions/chips.tsx'
import { systemLineText } from '../sessions/system-lines.ts'
import { downloadText, formatNumber, snapshotFileName } from '../sessions/format.ts'
import { useFormatTime } from '../sessions/useSessionLive.ts'
import { formatBytes } from '../scripts/format.ts'
import { accessEvents, actorText, argsText, durationText, eventDetails, eventText, platformText } from './report.ts'

/** A wide table scrolls inside itself on a narrow screen: the page never scrolls sideways. */
const scrollX = { maxWidth: '100%', overflowX: 'auto' } as const

function Section({ title, testId, children }: { title: string; testId: string; children: ReactNode }) {
  return (
    <Box component="section" className="hl-report-section" data-testid={testId} sx={{ mb: 4 }}>
      <Typography variant="h6" component="h2" className="hl-report-heading" sx={{ mb: 1, borderBottom: 1, borderColor: 'divider' }}>
        {title}
      </Typography>
      {children}
    </Box>
  )
}

function Nothing() {
  const translate = useTranslate()
  return (
    <Typography variant="body2" color="text.secondary">
      {translate('helpline.report.none')}
    </Typography>
  )
}

/** Label / value rows, the label as the row's header. */
function Facts({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <Box className="hl-scroll-x" sx={scrollX}>
    <Table size="small" sx={{ width: 'auto' }}>
      <TableBody>
        {rows.map(([label, value]) => (
          <TableRow key={label}>
            <TableCell component="th" scope="row" sx={{ fontWeight: 700, pl: 0, verticalAlign: 'top', whiteSpace: 'nowrap' }}>
              {label}
            </TableCell>
            <TableCell sx={{ wordBreak: 'break-word' }}>{value}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
    </Box>
  )
}

function Head({ cells }: { cells: string[] }) {
  return (
    <TableHead>
      <TableRow>
        {cells.map((c) => (
          <TableCell key={c} sx={{ fontWeight: 700 }}>
            {c}
          </TableCell>
        ))}
      </TableRow>
    </TableHead>
  )
}

const nowrap = { whiteSpace: 'nowrap', verticalAlign: 'top' } as const
const mono = { fontFamily: 'monospace', fontSize: '0.8rem', wordBreak: 'break-all' } as const

function SnapshotDownload({ report, snapshot }: { report: SessionReport; snapshot: SnapshotSummary }) {
  const translate = useTranslate()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [locale] = useLocaleState()
  const { mutate, isPending } = useMutation<string, Error>({
    mutationFn: () => dataProvider.snapshotText(report.session.id, snapshot.id, locale),
    onSuccess: (text) => {
      if (typeof text !== 'string') return
      const file = snapshotFileName(report.session.customerName, report.session.number, snapshot.collectedAt)
      downloadText(text, file)
      notify('helpline.sysinfo.saved', { type: 'success', messageArgs: { file } })
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  return (
    <Button size="small" className="hl-no-print" startIcon={<Download />} disabled={isPending} onClick={() => mutate()}>
      {translate('helpline.report.snapshot_text')}
    </Button>
  )
}

function ScriptRunBlock({ entry, print }: { entry: ReportScriptRun; print: boolean }) {
  const translate = useTranslate()
  const time = useFormatTime()
  const { run, output } = entry
  const rows: [string, ReactNode][] = [
    [translate('helpline.report.run.sha256'), <Box component="span" sx={mono}>{run.digest}</Box>],
    [translate('helpline.report.run.arguments'), <Box component="span" sx={mono}>{argsText(run.args, translate('helpline.report.run.no_arguments'))}</Box>],
    [translate('helpline.report.run.exit_code'), run.exitCode ?? '—'],
    [translate('helpline.report.run.duration'), run.durationMs !== null ? formatDuration(run.durationMs) : '—'],
    [translate('helpline.report.run.timeout'), translate('helpline.runs.timeout_short', { seconds: run.timeoutSeconds })],
    [translate('helpline.report.run.started'), time(run.startedAt)],
    [translate('helpline.report.run.finished'), time(run.finishedAt)],
  ]
  if (run.error) rows.push([translate('helpline.report.run.error'), <Box component="span" sx={{ color: 'error.main' }}>{run.error}</Box>])
  return (
    <Box className="hl-report-run" data-testid="report-script-run" data-run-status={run.status} sx={{ mb: 3, breakInside: 'avoid-page' }}>
      <Stack direction="row" spacing={1} sx={{ alignItems: 'center', mb: 0.5 }}>
        <Typography variant="subtitle1" component="h3" sx={{ fontWeight: 700 }}>
          {translate('helpline.runs.log_title', { name: run.scriptName, version: run.version })}
        </Typography>
        <RunStatusChip status={run.status} />
      </Stack>
      <Facts rows={rows} />
      <Typography variant="subtitle2" sx={{ mt: 1, mb: 0.5 }}>
        {translate('helpline.report.run.output')}
      </Typography>
      <OutputView chunks={output} maxHeight={print ? 'none' : 400} />
      {run.outputTruncated && (
        <Typography variant="caption" color="warning.main" component="div" sx={{ mt: 0.5 }}>
          {translate('helpline.runs.output_truncated')}
        </Typography>
      )}
    </Box>
  )
}

/**
 * Everything that happened in a session, section by section: the report page and its print
 * view show the same. With `print` long outputs are not boxed in and the download buttons hide.
 */
export function ReportView({ report, print = false }: { report: SessionReport; print?: boolean }) {
  const translate = useTranslate()
  const time = useFormatTime()
  const { session } = report
  const platform = platformText(report.agentPlatform)
  const access = accessEvents(report.timeline)

  const who: [string, ReactNode][] = [
    [translate('helpline.report.customer'), [session.customerName, session.customerEmail && `<${session.customerEmail}>`].filter(Boolean).join(' ')],
    [translate('helpline.report.number'), formatNumber(session.number)],
    [translate('helpline.report.csr'), session.csr.name],
    [translate('helpline.report.computer'), platform || translate('helpline.report.never_joined')],
  ]
  if (session.agent) who.push([translate('helpline.report.agent_version'), session.agent.agentVersion])
  if (session.description) who.push([translate('helpline.report.notes'), <Box component="span" sx={{ whiteSpace: 'pre-wrap' }}>{session.description}</Box>])
  const when: [string, ReactNode][] = [
    [translate('helpline.report.status'), translate(`helpline.sessions.status.${session.status}`) + (session.endedReason ? ` (${translate(`helpline.sessions.ended_reason.${session.endedReason}`)})` : '')],
    [translate('helpline.report.created'), time(session.createdAt)],
    [translate('helpline.report.started'), time(session.startedAt)],
    [translate('helpline.report.ended'), time(session.endedAt)],
    [translate('helpline.report.duration'), durationText(report.durationSeconds)],
  ]

  return (
    <Box data-testid="report">
      <Typography variant="caption" color="text.secondary" component="div" sx={{ mb: 2 }}>
        {translate('helpline.report.generated', { time: time(report.generatedAt) })}
      </Typography>
      <Section title={translate('helpline.report.who_when')} testId="report-who">
        <Box sx={{ display: 'flex', gap: 4, flexWrap: 'wrap' }}>
          <Facts rows={who} />
          <Facts rows={when} />
        </Box>
      </Section>

      <Section title={translate('helpline.report.access', { count: access.length })} testId="report-access">
        {access.length === 0 ? (
          <Nothing />
        ) : (
          <Box className="hl-scroll-x" sx={scrollX}>
          <Table size="small">
            <TableBody>
              {access.map((e) => (
                <TableRow key={e.id} data-event-type={e.type}>
                  <TableCell sx={nowrap}>{time(e.createdAt)}</TableCell>
                  <TableCell>{eventText(e, translate) ?? e.type}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          </Box>
        )}
      </Section>

      <Section title={translate('helpline.report.timeline', { smart_count: report.timeline.length })} testId="report-timeline">
        {report.timeline.length === 0 ? (
          <Nothing />
        ) : (
          <Box className="hl-scroll-x" sx={scrollX}>
          <Table size="small">
            <Head cells={[translate('helpline.report.time'), translate('helpline.report.event'), translate('helpline.report.by')]} />
            <TableBody>
              {report.timeline.map((e) => {
                const text = eventText(e, translate)
                const details = text === undefined ? eventDetails(e) : ''
                return (
                  <TableRow key={e.id} data-event-type={e.type} data-known={text !== undefined}>
                    <TableCell sx={nowrap}>{time(e.createdAt)}</TableCell>
                    <TableCell>
                      <Box component="span" sx={text === undefined ? mono : undefined}>
                        {text ?? e.type}
                      </Box>
                      {details && (
                        <Typography variant="caption" color="text.secondary" component="div" sx={mono}>
                          {details}
                        </Typography>
                      )}
                    </TableCell>
                    <TableCell sx={nowrap}>{actorText(e, report, translate)}</TableCell>
                  </TableRow>
                )
              })}
            </TableBody>
          </Table>
          </Box>
        )}
      </Section>

      <Section title={translate('helpline.report.consents', { count: report.consents.length })} testId="report-consents">
        {report.consents.length === 0 ? (
          <Nothing />
        ) : (
          <Box className="hl-scroll-x" sx={scrollX}>
          <Table size="small">
            <Head
              cells={[
                translate('helpline.report.asked_at'),
                translate('helpline.report.what'),
                translate('helpline.report.answer'),
                translate('helpline.report.asked_by'),
                translate('helpline.report.answered_at'),
              ]}
            />
            <TableBody>
              {report.consents.map((c) => (
                <TableRow key={c.id} data-consent={c.kind}>
                  <TableCell sx={nowrap}>{time(c.createdAt)}</TableCell>
                  <TableCell>{translate(`helpline.consent.kinds.${c.kind}`, { _: c.kind })}</TableCell>
                  <TableCell>
                    <ConsentStatusChip status={c.status} />
                  </TableCell>
                  <TableCell>{c.requestedBy.name}</TableCell>
                  <TableCell sx={nowrap}>{time(c.answeredAt)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          </Box>
        )}
      </Section>

      <Section title={translate('helpline.report.snapshots', { smart_count: report.snapshots.length })} testId="report-snapshots">
        {report.snapshots.length === 0 ? (
          <Nothing />
        ) : (
          <Box className="hl-scroll-x" sx={scrollX}>
          <Table size="small">
            <Head cells={[translate('helpline.sysinfo.collected_at'), translate('helpline.report.computer'), translate('helpline.report.size'), '']} />
            <TableBody>
              {report.snapshots.map((s) => (
                <TableRow key={s.id} data-snapshot-id={s.id}>
                  <TableCell sx={nowrap}>{time(s.collectedAt)}</TableCell>
                  <TableCell>{[s.hostname, s.os].filter(Boolean).join(' · ') || '—'}</TableCell>
                  <TableCell sx={nowrap}>{formatBytes(s.sizeBytes)}</TableCell>
                  <TableCell align="right">
                    <SnapshotDownload report={report} snapshot={s} />
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          </Box>
        )}
      </Section>

      <Section title={translate('helpline.report.scripts', { count: report.scriptRuns.length })} testId="report-scripts">
        {report.scriptRuns.length === 0 ? <Nothing /> : report.scriptRuns.map((entry) => <ScriptRunBlock key={entry.run.id} entry={entry} print={print} />)}
      </Section>

      <Section title={translate('helpline.report.chat', { smart_count: report.chat.length })} testId="report-chat">
        {report.chat.length === 0 ? (
          <Nothing />
        ) : (
          <Box className="hl-scroll-x" sx={scrollX}>
          <Table size="small">
            <Head cells={[translate('helpline.report.time'), translate('helpline.report.from'), translate('helpline.report.message')]} />
            <TableBody>
              {report.chat.map((m) => (
                <TableRow key={m.id} data-sender={m.sender}>
                  <TableCell sx={nowrap}>{time(m.createdAt)}</TableCell>
                  <TableCell sx={nowrap}>{m.authorName}</TableCell>
                  <TableCell sx={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word', ...(m.sender === 'system' ? { fontStyle: 'italic', color: 'text.secondary' } : {}) }}>
                    {m.sender === 'system' ? systemLineText(m, session, translate) : m.body}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          </Box>
        )}
      </Section>
    </Box>
  )
}
