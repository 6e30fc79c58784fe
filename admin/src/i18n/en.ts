/**
 * Our own English messages. react-admin's come from ra-language-english and are
 * merged in ./index.ts. Every key here must exist in ja.ts too (test/i18n.test.ts).
 */
export const en = {
  helpline: {
    title: 'Helpline',
    login: {
      title: 'Sign in to Helpline',
      email: 'Email',
      password: 'Password',
      sign_in: 'Sign in',
      failed: 'Sign-in failed: check your email and password',
    },
    menu: {
      profile: 'Profile',
      language: 'Language',
    },
    profile: {
      title: 'Profile',
      identity: 'Your account',
      change_password: 'Change password',
      current_password: 'Current password',
      new_password: 'New password',
      confirm_password: 'Repeat the new password',
      submit: 'Change password',
      password_changed: 'Your password has been changed',
    },
    roles: {
      admin: 'Site admin',
      csr: 'Support representative',
    },
    users: {
      active: 'Active',
      disabled: 'Disabled',
      disable: 'Disable',
      enable: 'Enable',
      disabled_notice: 'User %{name} is disabled and can no longer sign in',
      enabled_notice: 'User %{name} can sign in again',
      edit_title: 'User %{name}',
      password_hint: 'Leave empty to keep the current password',
      never: 'Never',
    },
    tokens: {
      create: 'New API token',
      revoke: 'Revoke',
      revoke_title: 'Revoke the API token "%{recordRepresentation}"?',
      revoke_content: 'Programs using this token will stop working at once. This cannot be undone.',
      revoked: 'API token revoked',
      created_title: 'API token created',
      created_warning: 'Copy this token now. It will not be shown again.',
      copy: 'Copy',
      copied: 'Token copied to the clipboard',
      copy_failed: 'Could not copy: select the token and copy it by hand',
      done: 'I have copied it',
      never: 'Never',
      expires_hint: 'Leave empty for a token that does not expire',
    },
    validation: {
      password_min: 'Use at least %{min} characters',
      password_mismatch: 'The two passwords differ',
      expires_in_past: 'Choose a moment in the future',
    },
    errors: {
      EMAIL_TAKEN: 'This email is already used by another user',
      WEAK_PASSWORD: 'This password is too weak',
      LAST_ADMIN: 'This is the last active site admin: make another user an admin first',
      CANNOT_DISABLE_SELF: 'You cannot disable your own account',
      CANNOT_DEMOTE_SELF: 'You cannot remove your own admin role',
      ACCOUNT_DISABLED: 'This account is disabled',
      TOO_MANY_TOKENS: 'You have too many active API tokens: revoke one first',
      INVALID_EXPIRY: 'The expiry must be in the future',
      INVALID_CREDENTIALS: 'Wrong email or password',
      WRONG_PASSWORD: 'The current password is wrong',
      RATE_LIMITED: 'Too many attempts: wait a moment and try again',
      FORBIDDEN: 'You are not allowed to do this',
      NOT_FOUND: 'Not found',
      NETWORK: 'The Helpline server cannot be reached',
    },
  },
  resources: {
    users: {
      name: 'User |||| Users',
      notifications: {
        created: 'User created',
        updated: 'User saved',
      },
      fields: {
        q: 'Search',
        email: 'Email',
        name: 'Name',
        role: 'Role',
        password: 'Password',
        disabled: 'Status',
        createdAt: 'Created',
        updatedAt: 'Updated',
        lastLoginAt: 'Last sign-in',
      },
    },
    tokens: {
      name: 'API token |||| API tokens',
      notifications: {
        created: 'API token created',
      },
      fields: {
        name: 'Name',
        prefix: 'Starts with',
        token: 'Token',
        createdAt: 'Created',
        expiresAt: 'Expires',
        lastUsedAt: 'Last used',
      },
    },
  },
}

/** The shape every language must have: the same keys as English, all strings. */
export type Messages<T = typeof en> = {
  [K in keyof T]: T[K] extends string ? string : Messages<T[K]>
}
