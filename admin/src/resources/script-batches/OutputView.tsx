import { useLayoutEffect, useRef } from 'react'
import { Box, Typography } from '@mui/material'
import { useTranslate } from 'react-admin'
import type { OutputChunk } from '../../api/resources/script-batches.ts'

/**
 * A run's output as it was written: stdout plain, stderr in red (and titled so, for those who do
 * not see the colour), the agent's own lines in italics. Follows the end while the reader is
 * there; scrolled up, it stays put. `maxHeight="none"` shows it all (a report on paper).
 */
export function OutputView({ chunks, maxHeight = 320, empty }: { chunks: readonly OutputChunk[]; maxHeight?: number | 'none'; empty?: string }) {
  const translate = useTranslate()
  const box = useRef<HTMLPreElement>(null)
  const atEnd = useRef(true)

  useLayoutEffect(() => {
    const el = box.current
    if (el && atEnd.current) el.scrollTop = el.scrollHeight
  }, [chunks.length])

  if (chunks.length === 0) {
    return (
      <Typography variant="body2" color="text.secondary" sx={{ fontStyle: 'italic' }} data-testid="run-output-empty">
        {empty ?? translate('helpline.runs.output_empty')}
      </Typography>
    )
  }
  return (
    <Box
      component="pre"
      ref={box}
      onScroll={(e) => {
        const el = e.currentTarget
        atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24
      }}
      data-testid="run-output"
      sx={{
        m: 0,
        p: 1,
        maxHeight,
        overflow: 'auto',
        bgcolor: 'action.hover',
        borderRadius: 1,
        fontFamily: 'monospace',
        fontSize: '0.8rem',
        lineHeight: 1.45,
        whiteSpace: 'pre-wrap',
        wordBreak: 'break-word',
      }}
    >
      {chunks.map((c, i) => (
        <Box
          component="span"
          key={c.sequence}
          data-stream={c.stream}
          title={c.stream === 'stdout' ? undefined : translate(`helpline.runs.streams.${c.stream}`)}
          sx={c.stream === 'stderr' ? { color: 'error.main' } : c.stream === 'info' ? { fontStyle: 'italic', color: 'text.secondary' } : undefined}
        >
          {/* The agent's own lines start on a line of their own, even after output without a final newline. */}
          {c.stream === 'info' && i > 0 && !chunks[i - 1]!.data.endsWith('\n') ? `\n${c.data}` : c.data}
        </Box>
      ))}
    </Box>
  )
}

