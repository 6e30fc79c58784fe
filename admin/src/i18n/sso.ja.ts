import type { Messages } from './en.ts'
import type { ssoEn } from './sso.en.ts'

/** Japanese messages for single sign-on, merged into ja.ts; the same keys as sso.en.ts. */
export const ssoJa: Messages<typeof ssoEn> = {
  login: {
    sso_button: '%{name} でサインイン',
    or: 'または',
    break_glass: '管理者のサインイン',
    sso_failed: 'シングルサインオンを完了できませんでした（リンクは使用済みか期限切れです）。もう一度サインインしてください',
    sso_denied: 'ID プロバイダーでサインインが取り消されたか、拒否されました。',
    sso_provider_error: 'ID プロバイダーでサインインできませんでした。もう一度試すか、管理者に問い合わせてください。',
  },
}
