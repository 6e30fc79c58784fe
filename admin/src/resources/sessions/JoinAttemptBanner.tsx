import { useEffect, useState } from 'react'
import { useMutation } from '@tanstack/react-query'
import { Alert, AlertTitle, Button, Stack } from '@mui/material'
import LoginOutlined from '@mui/icons-material/LoginOutlined'
import { Confirm, useDataProvider, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { AgentAdmission, Session } from '../../api/resources/sessions.ts'
import type { LiveState } from './live.ts'
import { computerText } from './system-lines.ts'
import { useFormatTime, type ApplyChange } from './useSessionLive.ts'

/** How long after its last try a refused computer is shown: a little longer than the agent keeps trying. */
const ATTEMPT_SHOWN_MS = 15 * 60_000

/** True until the instant passes; re-renders when it does. */
function useStillBefore(iso: string | undefined): boolean {
  const [, tick] = useState(0)
  const left = iso ? Date.parse(iso) - Date.now() : 0
  useEffect(() => {
    if (left <= 0) return
    const timer = setTimeout(() => tick((n) => n + 1), Math.min(left + 50, 2 ** 31 - 1))
    return () => clearTimeout(timer)
  }, [iso, left > 0])
  return left > 0
}

/**
 * A session that already had a computer refuses a join with its number and shows the attempt
 * here (host name, OS, address, how often). When the customer really changed computers, the CSR
 * lets one new computer in (after a confirmation); the open admission is shown until it is used
 * or runs out. The CSR may dismiss an attempt (a newer one shows again); one whose agent has long
 * given up is no longer shown.
 */
export function JoinAttemptBanner({ live, apply }: { live: LiveState; apply: ApplyChange }) {
  const { session } = live
  const translate = useTranslate()
  const time = useFormatTime()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [confirming, setConfirming] = useState(false)
  const [dismissed, setDismissed] = useState<string | undefined>()
  const admissionOpen = useStillBefore(session.admission?.until)
  const attempt = session.joinAttempt
  // The refused agent gives up after 10 minutes of retries: an older attempt is history (the chat keeps it).
  const recent = useStillBefore(attempt ? new Date(Date.parse(attempt.lastAt) + ATTEMPT_SHOWN_MS).toISOString() : undefined)
  const { mutate, isPending } = useMutation<AgentAdmission, Error>({
    mutationFn: () => dataProvider.admitAgent(session.id),
    onSuccess: (admission) => {
      setConfirming(false)
      apply({ event: 'session', data: { ...session, admission } satisfies Session })
      notify('helpline.sessions.join_attempt.admitted_notice', { type: 'info', messageArgs: { time: time(admission.until) } })
    },
    onError: (error) => {
      setConfirming(false)
      notify(error.message || 'ra.notification.http_error', { type: 'error' })
    },
  })
  if (session.status !== 'active') return null
  const showAttempt = attempt && recent && dismissed !== attempt.lastAt && !admissionOpen
  if (!showAttempt && !(admissionOpen && session.admission)) return null
  return (
    <Stack spacing={1} sx={{ mt: 2 }}>
      {showAttempt && (
        <Alert
          severity="warning"
          data-testid="join-attempt"
          action={
            <Stack direction="row" spacing={1}>
              <Button color="warning" variant="contained" size="small" startIcon={<LoginOutlined />} onClick={() => setConfirming(true)}>
                {translate('helpline.sessions.join_attempt.admit')}
              </Button>
              <Button color="inherit" size="small" onClick={() => setDismissed(attempt.lastAt)}>
                {translate('helpline.sessions.join_attempt.dismiss')}
              </Button>
            </Stack>
          }
        >
          <AlertTitle>{translate('helpline.sessions.join_attempt.title')}</AlertTitle>
          {translate('helpline.sessions.join_attempt.detail', {
            computer: computerText(attempt),
            address: attempt.address,
            smart_count: attempt.attempts,
            time: time(attempt.lastAt),
          })}
          <br />
          {translate('helpline.sessions.join_attempt.hint')}
        </Alert>
      )}
      {admissionOpen && session.admission && (
        <Alert severity="info" data-testid="admission-open">
          {translate('helpline.sessions.join_attempt.admission_open', { time: time(session.admission.until), name: session.admission.admittedBy.name })}
        </Alert>
      )}
      <Confirm
        isOpen={confirming}
        loading={isPending}
        title="helpline.sessions.join_attempt.admit_title"
        titleTranslateOptions={{ name: session.customerName }}
        content="helpline.sessions.join_attempt.admit_content"
        confirm="helpline.sessions.join_attempt.admit"
        confirmColor="warning"
        onConfirm={() => mutate()}
        onClose={() => setConfirming(false)}
      />
    </Stack>
  )
}
