import { useEffect, useState } from 'react'
import { renderSVG } from 'uqr'
import { Alert, Box, Button, Card, CardActions, CardContent, CardHeader, Stack, TextField, Typography } from '@mui/material'
import { useDataProvider, useGetIdentity, useNotify, useTranslate } from 'react-admin'
import { useQueryClient } from '@tanstack/react-query'
import type { AppDataProvider } from '../api/index.ts'
import type { TwoFactorEnrollment } from '../api/resources/me.ts'

type Phase =
  | { step: 'idle' }
  | { step: 'enrol'; enrollment: TwoFactorEnrollment }
  | { step: 'codes'; codes: string[] }
  /** The password or a code, before turning it off or replacing the authenticator. */
  | { step: 'prove'; then: 'disable' | 'replace' }

/** The otpauth URI as a QR code image (an SVG data URL: no canvas, nothing sent anywhere). */
function qrImage(uri: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(renderSVG(uri, { border: 2 }))}`
}

/**
 * Two-factor sign-in on the profile: set up (a QR code for the authenticator app, confirmed with
 * a code), the recovery codes shown once, and turning it off with the password or a code.
 */
export function TwoFactorCard() {
  const translate = useTranslate()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const queryClient = useQueryClient()
  const { identity, refetch } = useGetIdentity()
  const [phase, setPhase] = useState<Phase>({ step: 'idle' })
  const [code, setCode] = useState('')
  const [password, setPassword] = useState('')
  const [problem, setProblem] = useState<string>()
  const [busy, setBusy] = useState(false)
  // The console may land here because the site now requires two-factor: read /me afresh.
  useEffect(() => void refetch(), [refetch])
  if (!identity) return null
  const enabled = identity.twoFactorEnabled === true

  const run = async (action: () => Promise<void>) => {
    setBusy(true)
    setProblem(undefined)
    try {
      await action()
    } catch (error) {
      setProblem((error as Error).message || 'ra.notification.http_error')
    } finally {
      setBusy(false)
    }
  }
  const proof = () => (password ? { password } : { code: code.trim() })
  const start = () => run(async () => setPhase({ step: 'enrol', enrollment: await dataProvider.startTwoFactor() }))
  const confirm = () =>
    run(async () => {
      const codes = await dataProvider.confirmTwoFactor(code.trim())
      setCode('')
      setPhase({ step: 'codes', codes })
    })
  const finish = async () => {
    setPhase({ step: 'idle' })
    await refetch()
    // Everything the enrolment-required state held back may load now.
    await queryClient.invalidateQueries()
    notify('helpline.two_factor.enabled_notice', { type: 'success' })
  }
  const proven = (then: 'disable' | 'replace') =>
    run(async () => {
      if (then === 'replace') {
        const enrollment = await dataProvider.startTwoFactor(proof())
        setPassword('')
        setCode('')
        setPhase({ step: 'enrol', enrollment })
        return
      }
      await dataProvider.disableTwoFactor(proof())
      setPassword('')
      setCode('')
      setPhase({ step: 'idle' })
      await refetch()
      notify('helpline.two_factor.disabled_notice', { type: 'info' })
    })

  return (
    <Card data-testid="two-factor">
      <CardHeader
        title={translate('helpline.two_factor.title')}
        subheader={translate(enabled ? 'helpline.two_factor.on' : 'helpline.two_factor.off')}
      />
      <CardContent>
        {identity.twoFactorEnrollmentRequired === true && phase.step !== 'codes' && (
          <Alert severity="warning" sx={{ mb: 2 }}>
            {translate('helpline.two_factor.required')}
          </Alert>
        )}
        {phase.step === 'idle' && <Typography color="text.secondary">{translate('helpline.two_factor.explain')}</Typography>}
        {phase.step === 'enrol' && (
          <Stack spacing={2} sx={{ maxWidth: 420 }}>
            <Typography>{translate('helpline.two_factor.scan')}</Typography>
            <Box component="img" src={qrImage(phase.enrollment.uri)} alt={translate('helpline.two_factor.qr_alt')} sx={{ width: 200, height: 200 }} />
            <Typography variant="body2" color="text.secondary">
              {translate('helpline.two_factor.manual')}
            </Typography>
            <Typography data-testid="two-factor-secret" sx={{ fontFamily: 'monospace', wordBreak: 'break-all' }}>
              {phase.enrollment.secret}
            </Typography>
            <TextField
              label={translate('helpline.two_factor.code')}
              value={code}
              onChange={(e) => setCode(e.target.value)}
              slotProps={{ htmlInput: { inputMode: 'numeric', autoComplete: 'one-time-code', name: 'twoFactorCode' } }}
            />
          </Stack>
        )}
        {phase.step === 'codes' && (
          <Stack spacing={2}>
            <Alert severity="warning">{translate('helpline.two_factor.codes_warning')}</Alert>
            <Box component="ol" data-testid="recovery-codes" sx={{ fontFamily: 'monospace', columns: 2, m: 0 }}>
              {phase.codes.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </Box>
          </Stack>
        )}
        {phase.step === 'prove' && (
          <Stack spacing={2} sx={{ maxWidth: 420 }}>
            <Typography>{translate('helpline.two_factor.prove')}</Typography>
            <TextField
              type="password"
              label={translate('helpline.profile.current_password')}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              slotProps={{ htmlInput: { autoComplete: 'current-password', name: 'twoFactorPassword' } }}
            />
            <TextField
              label={translate('helpline.two_factor.code_or_recovery')}
              value={code}
              onChange={(e) => setCode(e.target.value)}
              slotProps={{ htmlInput: { autoComplete: 'one-time-code' } }}
            />
          </Stack>
        )}
        {problem && (
          <Alert severity="error" sx={{ mt: 2 }}>
            {translate(problem, { _: problem })}
          </Alert>
        )}
      </CardContent>
      <CardActions>
        {phase.step === 'idle' && (
          <>
            <Button
              variant={enabled ? 'outlined' : 'contained'}
              onClick={enabled ? () => setPhase({ step: 'prove', then: 'replace' }) : start}
              disabled={busy}
            >
              {translate(enabled ? 'helpline.two_factor.replace' : 'helpline.two_factor.set_up')}
            </Button>
            {enabled && (
              <Button color="warning" onClick={() => setPhase({ step: 'prove', then: 'disable' })}>
                {translate('helpline.two_factor.disable')}
              </Button>
            )}
          </>
        )}
        {phase.step === 'enrol' && (
          <>
            <Button variant="contained" onClick={confirm} disabled={busy || code.trim().length === 0}>
              {translate('helpline.two_factor.confirm')}
            </Button>
            <Button onClick={() => setPhase({ step: 'idle' })}>{translate('ra.action.cancel')}</Button>
          </>
        )}
        {phase.step === 'codes' && (
          <Button variant="contained" onClick={finish}>
            {translate('helpline.two_factor.saved_codes')}
          </Button>
        )}
        {phase.step === 'prove' && (
          <>
            <Button
              color={phase.then === 'disable' ? 'warning' : 'primary'}
              variant="contained"
              onClick={() => proven(phase.then)}
              disabled={busy || (!password && !code.trim())}
            >
              {translate(phase.then === 'disable' ? 'helpline.two_factor.disable' : 'helpline.two_factor.replace')}
            </Button>
            <Button onClick={() => setPhase({ step: 'idle' })}>{translate('ra.action.cancel')}</Button>
          </>
        )}
      </CardActions>
    </Card>
  )
}
