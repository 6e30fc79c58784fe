import { useEffect, useRef } from 'react'
import { Box, Link as MuiLink, Stack, Typography } from '@mui/material'
import Terminal from '@mui/icons-material/Terminal'
import { useDataProvider, useTranslate } from 'react-admin'
import { Link } from 'react-router-dom'
import type { AppDataProvider } from '../../api/index.ts'
import { RunStatusChip } from '../script-batches/chips.tsx'
import { OutputView } from '../script-batches/OutputView.tsx'
import { isFinal, mayHaveOutput, runFacts } from '../script-batches/status.ts'
import type { ScriptRunView } from './live.ts'
import type { ApplyChange } from './useSessionLive.ts'

/**
 * A script run in the chat: its name, status and output, growing live from the stream. The
 * output written before the page opened is read once when the box appears (the stream only
 * brings what follows the page's cursor); the live state keeps each chunk once.
 */
export function ScriptRunLog({ view, apply }: { view: ScriptRunView; apply: ApplyChange }) {
  const translate = useTranslate()
  const dataProvider = useDataProvider<AppDataProvider>()
  const read = useRef<string>()
  const started = mayHaveOutput(view.status)

  useEffect(() => {
    if (!started || read.current === view.runId) return
    read.current = view.runId
    dataProvider
      .scriptRunOutput(view.runId)
      .then((output) => {
        if (output?.chunks) apply({ event: 'script_output_read', data: output })
      })
      // The stream still brings what comes next; a later box (or a reload) reads again.
      .catch(() => undefined)
  }, [apply, dataProvider, started, view.runId])

  const facts = runFacts(view, translate)
  const place = view.position !== undefined && view.count !== undefined ? `${view.position + 1}/${view.count}` : undefined
  return (
    <Box
      sx={{ border: 1, borderColor: 'divider', borderRadius: 1, p: 1, bgcolor: 'background.paper' }}
      data-testid="script-run-log"
      data-run-id={view.runId}
      data-run-status={view.status}
    >
      <Stack direction="row" spacing={1} sx={{ alignItems: 'center', flexWrap: 'wrap', rowGap: 0.5, mb: 0.75 }}>
        <Terminal fontSize="small" color="action" />
        <Typography variant="subtitle2" component="span" data-testid="script-run-title">
          {view.version !== undefined ? translate('helpline.runs.log_title', { name: view.scriptName, version: view.version }) : view.scriptName}
        </Typography>
        {place && (
          <Typography variant="caption" color="text.secondary">
            {place}
          </Typography>
        )}
        <RunStatusChip status={view.status} />
        {facts && (
          <Typography variant="caption" color="text.secondary">
            {facts}
          </Typography>
        )}
        {view.batchId && (
          <MuiLink component={Link} to={`/script-batches/${view.batchId}/show`} variant="caption" sx={{ ml: 'auto' }}>
            {translate('helpline.runs.open_batch')}
          </MuiLink>
        )}
      </Stack>
      <OutputView
        chunks={view.chunks}
        maxHeight={200}
        empty={translate(isFinal(view.status) ? 'helpline.runs.output_empty' : 'helpline.runs.output_waiting')}
      />
      {view.error && (
        <Typography variant="caption" color="error" component="div" sx={{ mt: 0.5 }}>
          {view.error}
        </Typography>
      )}
      {view.outputTruncated && (
        <Typography variant="caption" color="warning.main" component="div" sx={{ mt: 0.5 }}>
          {translate('helpline.runs.output_truncated')}
        </Typography>
      )}
    </Box>
  )
}
