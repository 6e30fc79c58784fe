import { Alert, Box, Button, CardContent, CircularProgress, Typography } from '@mui/material'
import SupportAgent from '@mui/icons-material/SupportAgent'
import {
  Form,
  LocalesMenuButton,
  Login,
  PasswordInput,
  TextInput,
  email as isEmail,
  required,
  useLogin,
  useNotify,
  useSafeSetState,
  useTranslate,
} from 'react-admin'
import { errorCode } from '../api/auth-provider.ts'

interface Credentials {
  email: string
  password: string
  code?: string
}

/**
 * react-admin's login form asks for a user name; ours signs in with an email. A user with
 * two-factor sign-in is asked for the code from their authenticator app (or a recovery code) as
 * a second step, when the API answers TOTP_REQUIRED.
 */
function EmailLoginForm() {
  const [loading, setLoading] = useSafeSetState(false)
  const [needCode, setNeedCode] = useSafeSetState(false)
  const login = useLogin()
  const notify = useNotify()
  const translate = useTranslate()

  const submit = (values: Record<string, unknown>) => {
    const { email, password, code } = values as unknown as Credentials
    setLoading(true)
    login({ email, password, ...(needCode && code ? { code: code.trim() } : {}) })
      .catch((error: unknown) => {
        if (errorCode(error) === 'TOTP_REQUIRED') {
          setNeedCode(true)
          return
        }
        const message = error instanceof Error && error.message ? error.message : 'helpline.login.failed'
        notify(message, { type: 'error', messageArgs: { _: translate('helpline.login.failed') } })
      })
      .finally(() => setLoading(false))
  }

  return (
    <Form onSubmit={submit} noValidate>
      <CardContent sx={{ width: 320 }}>
        <Typography variant="h6" align="center" sx={{ mb: 2 }}>
          {translate('helpline.login.title')}
        </Typography>
        <TextInput
          source="email"
          type="email"
          autoComplete="username"
          autoFocus
          label="helpline.login.email"
          validate={[required(), isEmail()]}
        />
        <PasswordInput
          source="password"
          autoComplete="current-password"
          label="helpline.login.password"
          validate={required()}
        />
        {needCode && (
          <>
            <Alert severity="info" sx={{ my: 1 }}>
              {translate('helpline.login.code_needed')}
            </Alert>
            <TextInput source="code" autoComplete="one-time-code" autoFocus label="helpline.login.code" validate={required()} />
          </>
        )}
        <Button variant="contained" type="submit" color="primary" disabled={loading} fullWidth sx={{ mt: 2 }}>
          {loading ? <CircularProgress size={19} thickness={3} /> : translate('helpline.login.sign_in')}
        </Button>
      </CardContent>
      <Box sx={{ display: 'flex', justifyContent: 'center', pb: 1 }}>
        <LocalesMenuButton />
      </Box>
    </Form>
  )
}

export function LoginPage() {
  return (
    <Login avatarIcon={<SupportAgent />}>
      <EmailLoginForm />
    </Login>
  )
}
