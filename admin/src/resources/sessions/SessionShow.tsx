import { Alert, Box, Stack } from '@mui/material'
import { Loading, Title, useTranslate } from 'react-admin'
import { useParams } from 'react-router-dom'
import { ChatPanel } from './ChatPanel.tsx'
import { ConsentPanel } from './ConsentPanel.tsx'
import { JoinAttemptBanner } from './JoinAttemptBanner.tsx'
import { SessionHeader } from './SessionHeader.tsx'
import { SystemInfoPanel } from './SystemInfoPanel.tsx'
import { useSessionLive } from './useSessionLive.ts'

/**
 * One support session: header (customer, number, status, agent), the system information view,
 * and beside it the chat and the consent requests, all following the session's live stream.
 */
export function SessionShow() {
  const { id } = useParams<'id'>()
  const translate = useTranslate()
  const { live, error, stream, apply } = useSessionLive(id)

  if (error) {
    const message = error instanceof Error ? error.message : String(error)
    return (
      <Box sx={{ mt: 2 }}>
        <Title title="helpline.sessions.list_title" />
        <Alert severity="error">{translate(message, { _: translate('helpline.sessions.not_found') })}</Alert>
      </Box>
    )
  }
  if (!live) return <Loading />
  return (
    <Box sx={{ mt: 1, mb: 2 }}>
      <Title title={translate('helpline.sessions.title', { name: live.session.customerName })} />
      <SessionHeader live={live} stream={stream} apply={apply} />
      <JoinAttemptBanner live={live} apply={apply} />
      <Box
        sx={{
          display: 'grid',
          gridTemplateColumns: { xs: 'minmax(0, 1fr)', lg: 'minmax(0, 1fr) 380px' },
          gap: 2,
          mt: 2,
          alignItems: 'start',
        }}
      >
        <SystemInfoPanel live={live} apply={apply} />
        <Stack spacing={2}>
          <ChatPanel live={live} apply={apply} />
          <ConsentPanel live={live} apply={apply} />
        </Stack>
      </Box>
    </Box>
  )
}
