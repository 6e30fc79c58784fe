import { useEffect, useState } from 'react'
import { Alert, Box, Button, CardContent, CircularProgress, Divider, Link, Typography } from '@mui/material'
import SupportAgent from '@mui/icons-material/SupportAgent'
import {
  Form,
  LocalesMenuButton,
  Login,
  PasswordInput,
  TextInput,
  email as isEmail,
  required,
  useAuthProvider,
  useLogin,
  useNotify,
  useSafeSetState,
  useTranslate,
} from 'react-admin'
import { errorCode, type AuthMethods } from '../api/auth-provider.ts'

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

/** What the server sent the browser back with after single sign-on (`#/login?oidc=…` or `?oidc_error=…`). */
function ssoReturn(): { code?: string; error?: string; returnTo?: string } {
  const hash = window.location.hash
  const at = hash.indexOf('?')
  if (!hash.startsWith('#/login') || at < 0) return {}
  const params = new URLSearchParams(hash.slice(at + 1))
  const returnTo = params.get('returnTo') ?? undefined
  return {
    ...(params.get('oidc') ? { code: params.get('oidc')! } : {}),
    ...(params.get('oidc_error') ? { error: params.get('oidc_error')! } : {}),
    // Only a page of this console, never another site.
    ...(returnTo && /^#\/(?!\/)/.test(returnTo) && !returnTo.startsWith('#/login') ? { returnTo } : {}),
  }
}

/** One-time codes already sent: React may run an effect twice, and a code works once. */
const exchanged = new Set<string>()

/**
 * Sign-in: the single sign-on button when the server has one, the password form unless the
 * server turned local passwords off (then it hides behind "Administrator sign-in", for the
 * break-glass admin). Exchanges the one-time code the server sends the browser back with.
 */
function SignInMethods() {
  const authProvider = useAuthProvider()
  const login = useLogin()
  const notify = useNotify()
  const translate = useTranslate()
  const [methods, setMethods] = useState<AuthMethods>()
  const [showPassword, setShowPassword] = useState(false)
  const [exchanging, setExchanging] = useState(false)
  const back = ssoReturn()

  useEffect(() => {
    const getMethods = (authProvider as { getAuthMethods?: () => Promise<AuthMethods> } | undefined)?.getAuthMethods
    getMethods?.()
      .then(setMethods)
      .catch(() => setMethods({ password: 'all' }))
  }, [authProvider])

  useEffect(() => {
    const { code, returnTo } = ssoReturn()
    if (!code || exchanged.has(code)) return
    exchanged.add(code)
    setExchanging(true)
    login({ oidcCode: code }, returnTo ? returnTo.slice(1) : '/')
      .catch(() => notify('helpline.login.sso_failed', { type: 'error' }))
      .finally(() => setExchanging(false))
  }, [login, notify])

  const passwordOpen = !methods || methods.password === 'all' || showPassword
  return (
    <>
      {back.error && (
        <Alert severity="warning" sx={{ mx: 2, mt: 2 }}>
          {translate(back.error === 'access_denied' ? 'helpline.login.sso_denied' : 'helpline.login.sso_provider_error')}
        </Alert>
      )}
      {methods?.sso && (
        <CardContent sx={{ width: 320, pb: 0 }}>
          <Button variant="contained" fullWidth href={methods.sso.startUrl} disabled={exchanging}>
            {exchanging ? <CircularProgress size={19} thickness={3} /> : translate('helpline.login.sso_button', { name: methods.sso.displayName })}
          </Button>
          {passwordOpen && <Divider sx={{ mt: 2 }}>{translate('helpline.login.or')}</Divider>}
        </CardContent>
      )}
      {passwordOpen ? (
        <EmailLoginForm />
      ) : (
        <Box sx={{ display: 'flex', flexDirection: 'column', alignItems: 'center', py: 2 }}>
          <Link component="button" variant="body2" onClick={() => setShowPassword(true)}>
            {translate('helpline.login.break_glass')}
          </Link>
          <LocalesMenuButton />
        </Box>
      )}
    </>
  )
}

export function LoginPage() {
  return (
    <Login avatarIcon={<SupportAgent />}>
      <SignInMethods />
    </Login>
  )
}
