import { Box } from '@mui/material'
import type { StreamState } from '../../api/session-stream.ts'
import { ChatPanel } from './ChatPanel.tsx'
import { ConsentPanel } from './ConsentPanel.tsx'
import { JoinAttemptBanner } from './JoinAttemptBanner.tsx'
import type { LiveState } from './live.ts'
import { SessionHeader } from './SessionHeader.tsx'
import { SystemInfoPanel } from './SystemInfoPanel.tsx'
import type { ApplyChange } from './useSessionLive.ts'

/**
 * One session's working area, shared by the session page and the workspace: header, then the
 * consent requests (a short list that scrolls) above the system information, beside the chat: the
 * consents and the chat are both above the fold at 1440×900. On a phone the panels stack, chat
 * first.
 */
export function SessionBody({ live, stream, apply }: { live: LiveState; stream: StreamState; apply: ApplyChange }) {
  return (
    <>
      <SessionHeader live={live} stream={stream} apply={apply} />
      <JoinAttemptBanner live={live} apply={apply} />
      <Box
        sx={{
          display: 'grid',
          gridTemplateColumns: { xs: 'minmax(0, 1fr)', lg: 'minmax(0, 1fr) 380px' },
          gridTemplateAreas: { xs: '"chat" "consents" "info"', lg: '"consents chat" "info chat"' },
          gridTemplateRows: { lg: 'auto 1fr' },
          gap: 2,
          mt: 2,
          alignItems: 'start',
        }}
      >
        <Box sx={{ gridArea: 'consents', minWidth: 0 }}>
          <ConsentPanel live={live} apply={apply} />
        </Box>
        <Box sx={{ gridArea: 'info', minWidth: 0 }}>
          <SystemInfoPanel live={live} apply={apply} />
        </Box>
        <Box sx={{ gridArea: 'chat', minWidth: 0 }}>
          <ChatPanel live={live} apply={apply} />
        </Box>
      </Box>
    </>
  )
}
