import { useEffect, useRef, useState } from 'react'
import { Box, Button, Dialog, DialogActions, DialogContent, DialogTitle, Link as MuiLink, Stack, Typography } from '@mui/material'
import Terminal from '@mui/icons-material/Terminal'
import { useDataProvider, useTranslate } from 'react-admin'
import { Link } from 'react-router-dom'
import type { AppDataProvider } from '../../api/index.ts'
import { RunStatusChip } from '../script-batches/chips.tsx'
import { OutputView } from '../script-batches/OutputView.tsx'
import { isFinal, mayHaveOutput, runFacts } from '../script-batches/status.ts'
import { outputTail } from '../script-batches/tail.ts'

/** Lines of a run's output shown in the chat; the whole output opens in a dialog. */
const TAIL_LINES = 8
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

  const [full, setFull] = useState(false)
  const tail = outputTail(view.chunks, TAIL_LINES)
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
      {/* The last lines only: no scroll box inside the scrolling chat. */}
      {tail.hidden > 0 && (
        <Typography variant="caption" color="text.secondary" component="div" data-testid="output-hidden-lines">
          {translate('ui.earlier_lines', { smart_count: tail.hidden })}
        </Typography>
      )}
      <OutputView
        chunks={tail.chunks}
        maxHeight="none"
        empty={translate(isFinal(view.status) ? 'helpline.runs.output_empty' : 'helpline.runs.output_waiting')}
      />
      {view.chunks.length > 0 && (
        <Button size="small" onClick={() => setFull(true)} sx={{ mt: 0.5 }} data-testid="open-output">
          {translate('ui.open_output')}
        </Button>
      )}
      {full && (
        <Dialog open onClose={() => setFull(false)} maxWidth="md" fullWidth aria-labelledby={`output-${view.runId}`}>
          <DialogTitle id={`output-${view.runId}`}>{view.scriptName}</DialogTitle>
          <DialogContent>
            <OutputView chunks={view.chunks} maxHeight={520} />
          </DialogContent>
          <DialogActions>
            <Button onClick={() => setFull(false)}>{translate('ra.action.close')}</Button>
          </DialogActions>
        </Dialog>
      )}
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
