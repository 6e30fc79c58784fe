import { Box, Button, Link, Stack, Typography } from '@mui/material'
import MailOutlined from '@mui/icons-material/MailOutlined'
import { useTranslate } from 'react-admin'
import { agentCommand, formatNumber, joinLink, joinMailto } from './format.ts'
import { CopyButton } from './CopyButton.tsx'

function Copyable({ text, testId, label, copyLabel, href }: { text: string; testId: string; label: string; copyLabel: string; href?: string }) {
  const translate = useTranslate()
  return (
    <Stack sx={{ alignItems: 'center' }} direction="row" spacing={1}>
      <Box
        component="code"
        data-testid={testId}
        aria-label={translate(label)}
        sx={{ flex: 1, minWidth: 0, fontFamily: 'monospace', fontSize: '0.95rem', p: 1.5, borderRadius: 1, bgcolor: 'action.hover', overflowX: 'auto', whiteSpace: 'nowrap', userSelect: 'all' }}
      >
        {href ? (
          <Link href={href} target="_blank" rel="noreferrer noopener">
            {text}
          </Link>
        ) : (
          text
        )}
      </Box>
      <CopyButton text={text} label={copyLabel} />
    </Stack>
  )
}

/**
 * What the CSR gives the customer: the number (read out over the phone), the join link (sent by
 * email or chat: the customer downloads the support app there, and it joins this session by
 * itself), and the one line for a customer who prefers a terminal.
 */
export function JoinInstructions({ number, customerName, customerEmail, csrName }: { number: string; customerName?: string; customerEmail?: string | null; csrName?: string }) {
  const translate = useTranslate()
  const shown = formatNumber(number)
  const origin = window.location.origin
  const link = joinLink(number, origin)
  const mailto = joinMailto({
    to: customerEmail ?? '',
    subject: translate('helpline.sessions.mail_subject', { number: shown }),
    body: translate('helpline.sessions.mail_body', { name: customerName ?? '', csr: csrName ?? '', link, number: shown }),
  })
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
          {translate('helpline.sessions.send_link')}
        </Typography>
        <Copyable text={link} href={link} testId="join-link" label="helpline.sessions.join_link" copyLabel="helpline.sessions.copy_link" />
        <Button href={mailto} size="small" startIcon={<MailOutlined />} data-testid="join-mailto" sx={{ mt: 0.5 }}>
          {translate('helpline.sessions.email_link')}
        </Button>
      </Box>
      <Box>
        <Typography variant="body2" color="text.secondary">
          {translate('helpline.sessions.run_command')}
        </Typography>
        <Copyable text={agentCommand(number, origin)} testId="agent-command" label="helpline.sessions.command" copyLabel="helpline.sessions.copy_command" />
      </Box>
    </Stack>
  )
}
