import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useMutation } from '@tanstack/react-query'
import {
  Alert,
  Box,
  Button,
  Chip,
  CircularProgress,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Stack,
  TextField,
  Typography,
} from '@mui/material'
import Login from '@mui/icons-material/Login'
import { encryptCredentials } from '@helpline/sdk'
import { useDataProvider, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { Consent, LogonRequested } from '../../api/resources/sessions.ts'
import { LOGON_ATTEMPTS, logonAttemptsLeft, logonFailureText, logonPhase, type LogonAttempt } from './access.ts'
import type { LiveState } from './live.ts'
import { useFormatTime, type ApplyChange } from './useSessionLive.ts'

const closedMessages = {
  denied: 'helpline.logon.denied',
  expired: 'helpline.logon.expired',
  cancelled: 'helpline.logon.cancelled',
} as const

/** An error in words: our translation keys are translated, the server's text shown as it is. */
function messageOf(error: unknown): string {
  return error instanceof Error && error.message ? error.message : 'ra.notification.http_error'
}

/**
 * "Log on as another user": asks the customer first and waits for the answer (followed through
 * the live state), then asks for the user name and password, encrypts them here for the
 * customer's agent and sends only the ciphertext; then says whether the agent logged on.
 *
 * The password is never React state: it stays in its input until the form is sent, is read once
 * for the encryption and the input is emptied at once. It is never logged or sent in the clear.
 */
export function LogonButton({ live, apply, disabled, hidden = false }: { live: LiveState; apply: ApplyChange; disabled: boolean; hidden?: boolean }) {
  const translate = useTranslate()
  const notify = useNotify()
  const time = useFormatTime()
  const dataProvider = useDataProvider<AppDataProvider>()
  const sessionId = live.session.id
  const [open, setOpen] = useState(false)
  const [attempt, setAttempt] = useState<LogonAttempt>()
  const [sending, setSending] = useState(false)
  /** The last request's refusal (denied, expired, withdrawn): shown beside the button until the next one. */
  const [refused, setRefused] = useState<keyof typeof closedMessages>()
  const password = useRef<HTMLInputElement>(null)
  const phase = logonPhase(live, attempt, sending)

  const ask = useMutation<LogonRequested, Error>({
    mutationFn: () => dataProvider.requestLogon(sessionId),
    onSuccess: ({ consent, publicKey }) => {
      if (!consent?.id || !publicKey) return
      apply({ event: 'consent', data: consent })
      setAttempt({ consent, publicKey })
    },
    onError: (error) => {
      notify(messageOf(error), { type: 'error' })
      setOpen(false)
    },
  })
  const withdraw = useMutation<Consent, Error, string>({
    mutationFn: (consentId) => dataProvider.cancelConsent(sessionId, consentId),
    onSuccess: (consent) => {
      if (consent?.id) apply({ event: 'consent', data: consent })
    },
    onError: (error) => notify(messageOf(error), { type: 'error' }),
  })

  /** Each opening (and each "try again") is a new request to the customer. */
  const start = () => {
    setRefused(undefined)
    setAttempt(undefined)
    setSending(false)
    setOpen(true)
    ask.mutate()
  }
  /** After a failed logon: the same approval again, while it has attempts left (the customer is not asked again). */
  const retry = () => {
    if (!attempt) return
    setSending(false)
    setAttempt({ consent: attempt.consent, publicKey: attempt.publicKey })
  }
  const onClose = () => {
    setOpen(false)
    setAttempt(undefined)
  }

  // A refusal ends the request: a notice says why, and the reason stays beside the button.
  const closedReason = phase.kind === 'closed' ? phase.reason : undefined
  useEffect(() => {
    if (!open || !closedReason) return
    notify(closedMessages[closedReason], { type: closedReason === 'denied' ? 'error' : 'warning' })
    setRefused(closedReason)
    setOpen(false)
    setAttempt(undefined)
  }, [open, closedReason, notify])

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    if (!attempt || sending) return
    const form = new FormData(event.currentTarget)
    const username = String(form.get('username') ?? '').trim()
    const domain = String(form.get('domain') ?? '').trim()
    const secret = String(form.get('password') ?? '')
    if (!username || !secret) return
    setSending(true)
    try {
      const ciphertext = await encryptCredentials(attempt.publicKey, { username, password: secret, ...(domain ? { domain } : {}) })
      if (password.current) password.current.value = ''
      const { command } = await dataProvider.submitLogonCredentials(sessionId, attempt.consent.id, ciphertext)
      if (command?.id) {
        apply({ event: 'command', data: command })
        setAttempt({ ...attempt, username, commandId: command.id })
      }
    } catch (error) {
      if (password.current) password.current.value = ''
      setAttempt({ ...attempt, username, error: messageOf(error) })
    } finally {
      setSending(false)
    }
  }

  const waiting = phase.kind === 'asking' || phase.kind === 'waiting_consent'
  // A logon the agent refused leaves the approval usable for LOGON_ATTEMPTS tries in all; an error
  // from the API (e.g. the approval is too old) does not: then only a new request helps.
  const attemptsLeft = attempt ? logonAttemptsLeft(live, attempt.consent.id) : 0
  const canRetry = phase.kind === 'failed' && !attempt?.error && attemptsLeft > 0
  const close = () => {
    // Closing while the customer has not answered withdraws the request: nobody would send credentials for it.
    if (phase.kind === 'waiting_consent') withdraw.mutate(phase.consent.id)
    onClose()
  }

  return (
    <>
    {!hidden && (
      <Button variant="outlined" startIcon={<Login />} disabled={disabled || (open && waiting)} onClick={start}>
        {translate('helpline.logon.start')}
      </Button>
    )}
    {/* Waiting for the customer is shown here, not in a dialog: the chat stays usable meanwhile. */}
    {open && waiting && (
      <Alert
        severity="info"
        icon={<CircularProgress size={18} />}
        role="status"
        data-testid="logon-waiting"
        sx={{ py: 0, alignItems: 'center' }}
        action={
          <Button color="inherit" size="small" onClick={close} disabled={phase.kind === 'asking'}>
            {translate('helpline.logon.withdraw')}
          </Button>
        }
      >
        {translate('helpline.logon.waiting', { name: live.session.customerName })}
        {phase.kind === 'waiting_consent' && ` ${translate('helpline.logon.expires', { time: time(phase.consent.expiresAt) })}`}
      </Alert>
    )}
    {!open && refused && (
      <Chip
        color={refused === 'denied' ? 'error' : 'warning'}
        variant="outlined"
        label={translate(closedMessages[refused])}
        onDelete={() => setRefused(undefined)}
        data-testid="logon-refused"
        data-reason={refused}
        sx={{ alignSelf: 'center', height: 'auto', '& .MuiChip-label': { whiteSpace: 'normal', py: 0.5 } }}
      />
    )}
    <Dialog open={open && !waiting} onClose={close} fullWidth maxWidth="xs" aria-labelledby="logon-title" data-testid="logon-dialog" data-phase={phase.kind}>
      <DialogTitle id="logon-title">{translate('helpline.logon.title')}</DialogTitle>
      {phase.kind === 'credentials' ? (
        <Box component="form" onSubmit={submit} autoComplete="off">
          <DialogContent sx={{ pt: 0 }}>
            <Alert severity="success" sx={{ mb: 2 }}>
              {translate('helpline.logon.approved')}
              {attemptsLeft < LOGON_ATTEMPTS && ` ${translate('helpline.logon.attempts_left', { smart_count: attemptsLeft })}`}
            </Alert>
            <Stack spacing={2}>
              <TextField name="username" label={translate('helpline.logon.username')} required autoFocus fullWidth slotProps={{ htmlInput: { autoComplete: 'off', maxLength: 200, 'data-testid': 'logon-username' } }} />
              <TextField
                name="password"
                type="password"
                label={translate('helpline.logon.password')}
                required
                fullWidth
                inputRef={password}
                // new-password: the browser must not offer to save the customer's computer's password.
                slotProps={{ htmlInput: { autoComplete: 'new-password', maxLength: 500, 'data-testid': 'logon-password' } }}
              />
              <TextField
                name="domain"
                label={translate('helpline.logon.domain')}
                helperText={translate('helpline.logon.domain_hint')}
                fullWidth
                slotProps={{ htmlInput: { autoComplete: 'off', maxLength: 200, 'data-testid': 'logon-domain' } }}
              />
              <Typography variant="caption" color="text.secondary">
                {translate('helpline.logon.encrypted_hint')}
              </Typography>
            </Stack>
          </DialogContent>
          <DialogActions>
            <Button onClick={close}>{translate('ra.action.cancel')}</Button>
            <Button type="submit" variant="contained">
              {translate('helpline.logon.submit')}
            </Button>
          </DialogActions>
        </Box>
      ) : (
        <>
          <DialogContent sx={{ pt: 0 }}>
            {phase.kind === 'sending' && (
              <Alert severity="info" icon={<CircularProgress size={20} />} role="status">
                {translate('helpline.logon.sending', { username: phase.username })}
              </Alert>
            )}
            {phase.kind === 'logged_on' && (
              <Alert severity="success" role="status" data-testid="logon-outcome">
                {translate('helpline.logon.logged_on', { username: phase.username })}
              </Alert>
            )}
            {phase.kind === 'failed' && (
              <Alert severity="error" role="alert" data-testid="logon-outcome">
                {logonFailureText(phase, translate)}
              </Alert>
            )}
            {phase.kind === 'failed' && !attempt?.error && (
              <Typography variant="body2" sx={{ mt: 1.5 }} data-testid="logon-attempts" data-left={attemptsLeft}>
                {attemptsLeft > 0 ? translate('helpline.logon.attempts_left', { smart_count: attemptsLeft }) : translate('helpline.logon.no_attempts_left')}
              </Typography>
            )}
          </DialogContent>
          <DialogActions>
            {canRetry && (
              <Button variant="contained" onClick={retry}>
                {translate('helpline.logon.retry')}
              </Button>
            )}
            {phase.kind === 'failed' && (
              <Button onClick={start}>
                {translate('helpline.logon.again')}
              </Button>
            )}
            {(phase.kind === 'logged_on' || phase.kind === 'failed' || phase.kind === 'sending') && (
              <Button variant={phase.kind === 'logged_on' || (phase.kind === 'failed' && !canRetry) ? 'contained' : 'text'} onClick={onClose}>
                {translate('helpline.logon.close')}
              </Button>
            )}
          </DialogActions>
        </>
      )}
    </Dialog>
    </>
  )
}
