/** English messages for single sign-on on the sign-in page, merged into en.ts's helpline.login. */
export const ssoEn = {
  login: {
    sso_button: 'Sign in with %{name}',
    or: 'or',
    break_glass: 'Administrator sign-in',
    sso_failed: 'Single sign-on did not finish (the link is used or expired): sign in again',
    sso_denied: 'Sign-in was cancelled or refused at your identity provider.',
    sso_provider_error: 'Your identity provider could not sign you in: try again, or ask your administrator.',
  },
}
