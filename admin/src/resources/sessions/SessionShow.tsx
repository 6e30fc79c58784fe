import { Alert, Box } from '@mui/material'
import { Loading, Title, useTranslate } from 'react-admin'
import { useParams } from 'react-router-dom'
import { SessionBody } from './SessionBody.tsx'
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
      <SessionBody live={live} stream={stream} apply={apply} />
    </Box>
  )
}
