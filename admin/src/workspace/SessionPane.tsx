import { useEffect, useRef } from 'react'
import { Alert, Box } from '@mui/material'
import { Loading, useTranslate } from 'react-admin'
import { SessionBody } from '../resources/sessions/SessionBody.tsx'
import type { LiveState } from '../resources/sessions/live.ts'
import { useSessionLive } from '../resources/sessions/useSessionLive.ts'
import { newsBetween, summarize, type News, type PaneSummary } from './summary.ts'

export interface PaneEvents {
  /** The tab's badges changed. */
  onSummary(summary: PaneSummary): void
  /** Something happened the CSR may want to hear about (a notification, when the tab is hidden). */
  onNews(live: LiveState, news: News[]): void
}

/**
 * One session of the workspace: the session page's own components on the session's own stream.
 * Every pane stays mounted while the workspace is open (the ones not shown are hidden, not
 * removed), so a switch is instant and keeps the chat's scroll position and draft.
 */
export function SessionPane({ id, shown, seenSeq, events }: { id: string; shown: boolean; seenSeq: number; events: PaneEvents }) {
  const translate = useTranslate()
  const { live, error, stream, apply } = useSessionLive(id)
  const previous = useRef<LiveState>()

  useEffect(() => {
    if (!live) return
    events.onSummary(summarize(live, seenSeq))
    const before = previous.current
    previous.current = live
    if (before) {
      const news = newsBetween(before, live)
      if (news.length > 0) events.onNews(live, news)
    }
  }, [live, seenSeq, events])

  let body
  if (error) {
    const message = error instanceof Error ? error.message : String(error)
    body = <Alert severity="error">{translate(message, { _: translate('helpline.sessions.not_found') })}</Alert>
  } else if (!live) {
    body = <Loading />
  } else {
    body = <SessionBody live={live} stream={stream} apply={apply} />
  }
  return (
    <Box
      role="region"
      id={`workspace-pane-${id}`}
      aria-label={live?.session.customerName}
      data-testid="workspace-pane"
      data-session-id={id}
      data-shown={shown}
      // Hidden panes keep their layout (visibility, not display: none) so inner scroll positions survive.
      sx={shown ? { minWidth: 0 } : { position: 'absolute', top: 0, left: 0, right: 0, height: 0, overflow: 'hidden', visibility: 'hidden' }}
      aria-hidden={!shown}
    >
      {body}
    </Box>
  )
}
