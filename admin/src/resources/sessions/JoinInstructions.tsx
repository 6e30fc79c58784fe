import { Box, Stack, Typography } from '@mui/material'
import { useTranslate } from 'react-admin'
import { agentCommand, formatNumber } from './format.ts'
import { CopyButton } from './CopyButton.tsx'

/** The session number, big, and the exact command the customer runs: what the CSR reads out or pastes. */
export function JoinInstructions({ number }: { number: string }) {
  const translate = useTranslate()
  const shown = formatNumber(number)
  const command = agentCommand(number, window.location.origin)
  return (
    <Stack spacing={2}>
      <Box>
        <Typography variant="body2" color="text.secondary">
          {translate('helpline.sessions.give_number')}
        </Typography>
        <Stack sx={{ alignItems: 'center' }} direction="row" spacing={1}>
          <Typography
            component="output"
            aria-label={translate('helpline.sessions.number')}
            data-testid="session-number"
            sx={{ fontFamily: 'monospace', fontSize: { xs: '2.2rem', sm: '3rem' }, fontWeight: 700, letterSpacing: '0.08em', userSelect: 'all' }}
          >
            {shown}
          </Typography>
          <CopyButton text={shown} label="helpline.sessions.copy_number" size="large" />
        </Stack>
      </Box>
      <Box>
        <Typography variant="body2" color="text.secondary">
          {translate('helpline.sessions.run_command')}
        </Typography>
        <Stack sx={{ alignItems: 'center' }} direction="row" spacing={1}>
          <Box
            component="code"
            data-testid="agent-command"
            aria-label={translate('helpline.sessions.command')}
            sx={{
              flex: 1,
              fontFamily: 'monospace',
              fontSize: '0.95rem',
              p: 1.5,
              borderRadius: 1,
              bgcolor: 'action.hover',
              overflowX: 'auto',
              whiteSpace: 'nowrap',
              userSelect: 'all',
            }}
          >
            {command}
          </Box>
          <CopyButton text={command} label="helpline.sessions.copy_command" />
        </Stack>
      </Box>
    </Stack>
  )
}
