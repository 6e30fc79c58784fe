import { useState } from 'react'
import { useMutation } from '@tanstack/react-query'
import { Button, Chip, CircularProgress } from '@mui/material'
import Logout from '@mui/icons-material/Logout'
import RestartAlt from '@mui/icons-material/RestartAlt'
import AccountCircle from '@mui/icons-material/AccountCircle'
import { Confirm, useDataProvider, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { CommandQueued, RebootRequested } from '../../api/resources/sessions.ts'
import { accessControls } from './access.ts'
import type { LiveState } from './live.ts'
import { LogonButton } from './LogonDialog.tsx'
import type { ApplyChange } from './useSessionLive.ts'

/**
 * Our words for a refusal: ALREADY_QUEUED's general message is about system information, so
 * here it says what is already under way.
 */
function refusal(error: Error, queued: string): string {
  if (error.message === 'helpline.errors.ALREADY_QUEUED') return queued
  return error.message || 'ra.notification.http_error'
}

/** Who the agent works as, and whether the computer is restarting: beside the agent's chip. */
export function AccessChips({ live }: { live: LiveState }) {
  const translate = useTranslate()
  const { workingAs, restarting, rebootAwaitingConsent, loggingOff } = accessControls(live)
  return (
    <>
      {workingAs && (
        <Chip
          size="small"
          color="secondary"
          icon={loggingOff ? <CircularProgress size={14} color="inherit" /> : <AccountCircle />}
          label={translate(loggingOff ? 'helpline.access.logging_off' : 'helpline.access.working_as', { username: workingAs })}
          data-testid="working-as"
        />
      )}
      {restarting && (
        <Chip size="small" color="warning" icon={<CircularProgress size={14} color="inherit" />} label={translate('helpline.access.restarting')} data-testid="restarting" />
      )}
      {!restarting && rebootAwaitingConsent && (
        <Chip size="small" variant="outlined" label={translate('helpline.access.reboot_waiting')} data-testid="reboot-waiting" />
      )}
    </>
  )
}

function LogoffButton({ live, apply, disabled }: { live: LiveState; apply: ApplyChange; disabled: boolean }) {
  const translate = useTranslate()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const { mutate, isPending } = useMutation<CommandQueued, Error>({
    mutationFn: () => dataProvider.logoff(live.session.id),
    onSuccess: ({ command }) => {
      if (command?.id) apply({ event: 'command', data: command })
    },
    onError: (error) => notify(refusal(error, 'helpline.access.logoff_queued'), { type: 'error' }),
  })
  return (
    <Button variant="outlined" startIcon={<Logout />} disabled={disabled || isPending} onClick={() => mutate()}>
      {translate('helpline.access.logoff')}
    </Button>
  )
}

/** Restart, after a warning: the customer should save their work; they are asked to allow it too. */
function RebootButton({ live, apply, disabled }: { live: LiveState; apply: ApplyChange; disabled: boolean }) {
  const translate = useTranslate()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [open, setOpen] = useState(false)
  const { mutate, isPending } = useMutation<RebootRequested, Error>({
    mutationFn: () => dataProvider.requestReboot(live.session.id),
    onSuccess: ({ consent, command }) => {
      if (consent?.id) apply({ event: 'consent', data: consent })
      if (command?.id) apply({ event: 'command', data: command })
      setOpen(false)
      notify('helpline.access.reboot_requested', { type: 'info', messageArgs: { name: live.session.customerName } })
    },
    onError: (error) => {
      setOpen(false)
      notify(refusal(error, 'helpline.access.reboot_queued'), { type: 'error' })
    },
  })
  return (
    <>
      <Button variant="outlined" color="warning" startIcon={<RestartAlt />} disabled={disabled || isPending} onClick={() => setOpen(true)}>
        {translate('helpline.access.reboot')}
      </Button>
      <Confirm
        isOpen={open}
        loading={isPending}
        title="helpline.access.reboot_title"
        titleTranslateOptions={{ name: live.session.customerName }}
        content="helpline.access.reboot_content"
        confirm="helpline.access.reboot_confirm"
        confirmColor="warning"
        onConfirm={() => mutate()}
        onClose={() => setOpen(false)}
      />
    </>
  )
}

/** Log on as another user / Log off, and Restart: on an active session whose agent is online. */
export function AccessActions({ live, apply }: { live: LiveState; apply: ApplyChange }) {
  const controls = accessControls(live)
  return (
    <>
      {/* The logon dialog stays mounted once logged on: it still has the outcome to show. */}
      <LogonButton live={live} apply={apply} disabled={!controls.canLogon} hidden={!!controls.workingAs} />
      {controls.workingAs && <LogoffButton live={live} apply={apply} disabled={!controls.canLogoff} />}
      <RebootButton live={live} apply={apply} disabled={!controls.canReboot} />
    </>
  )
}
