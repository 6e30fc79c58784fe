import { Card, CardContent, CardHeader, Stack, Typography } from '@mui/material'
import {
  Form,
  Loading,
  PasswordInput,
  SaveButton,
  Title,
  Toolbar,
  required,
  useDataProvider,
  useGetIdentity,
  useNotify,
  useTranslate,
  type HttpError,
} from 'react-admin'
import type { AppDataProvider } from '../api/index.ts'
import { usePasswordRule } from '../resources/users/validation.ts'
import { TwoFactorCard } from './TwoFactorCard.tsx'

interface PasswordForm {
  currentPassword: string
  newPassword: string
  confirmPassword: string
}

const sameAsNew = (value: unknown, all: Record<string, unknown>) =>
  value === all.newPassword ? undefined : 'helpline.validation.password_mismatch'

function Identity() {
  const translate = useTranslate()
  const { identity, isPending } = useGetIdentity()
  if (isPending) return <Loading />
  if (!identity) return null
  return (
    <Card>
      <CardHeader title={translate('helpline.profile.identity')} />
      <CardContent>
        <Stack spacing={1}>
          <Typography variant="h6">{identity.fullName}</Typography>
          <Typography color="text.secondary">{String(identity.email ?? '')}</Typography>
          <Typography color="text.secondary">{translate(`helpline.roles.${String(identity.role)}`)}</Typography>
        </Stack>
      </CardContent>
    </Card>
  )
}

function ChangePassword() {
  const translate = useTranslate()
  const passwordRule = usePasswordRule()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()

  // Returning field errors from onSubmit puts them on the inputs (react-admin's Form).
  const submit = async (values: Record<string, unknown>) => {
    const { currentPassword, newPassword } = values as unknown as PasswordForm
    try {
      await dataProvider.changePassword({ currentPassword, newPassword })
      notify('helpline.profile.password_changed', { type: 'success' })
      return undefined
    } catch (error) {
      const errors = (error as HttpError).body?.errors as Record<string, string> | undefined
      if (errors && Object.keys(errors).length > 0) return errors
      notify((error as Error).message || 'ra.notification.http_error', { type: 'error' })
      return undefined
    }
  }

  return (
    <Card>
      <CardHeader title={translate('helpline.profile.change_password')} subheader={translate('helpline.profile.change_password_hint')} />
      <Form onSubmit={submit} resetOptions={{ keepDirtyValues: false }}>
        <CardContent sx={{ maxWidth: 420 }}>
          <PasswordInput
            source="currentPassword"
            label="helpline.profile.current_password"
            autoComplete="current-password"
            validate={required()}
          />
          <PasswordInput
            source="newPassword"
            label="helpline.profile.new_password"
            autoComplete="new-password"
            validate={[required(), passwordRule]}
          />
          <PasswordInput
            source="confirmPassword"
            label="helpline.profile.confirm_password"
            autoComplete="new-password"
            validate={[required(), sameAsNew]}
          />
        </CardContent>
        <Toolbar>
          <SaveButton label="helpline.profile.submit" alwaysEnable={false} />
        </Toolbar>
      </Form>
    </Card>
  )
}

export function ProfilePage() {
  const { identity } = useGetIdentity()
  return (
    <Stack spacing={2} sx={{ mt: 2, maxWidth: 640 }}>
      <Title title="helpline.profile.title" />
      <Identity />
      <TwoFactorCard />
      {/* An account made by single sign-on has no password here (nor anyone but the break-glass admin with LOCAL_PASSWORDS=off). */}
      {identity?.canChangePassword !== false && <ChangePassword />}
    </Stack>
  )
}
