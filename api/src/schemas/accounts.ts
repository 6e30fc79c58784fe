import { Type, type Static } from 'typebox'
import { DateTime, listQuery, page, ref, Uuid } from './common.ts'

export const Role = Type.Enum(['admin', 'csr'], { $id: 'Role', description: 'admin: site admin; csr: support representative' })

const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 })
const Name = Type.String({ minLength: 1, maxLength: 100 })
/** Length is checked by the service (configurable minimum, 422 with the field named); 1024 bounds scrypt's work. */
const Password = Type.String({ minLength: 1, maxLength: 1024 })

export const User = Type.Object(
  {
    id: Uuid,
    email: Type.String(),
    name: Type.String(),
    role: ref(Role),
    disabled: Type.Boolean(),
    createdAt: DateTime,
    updatedAt: DateTime,
    lastLoginAt: Type.Union([DateTime, Type.Null()]),
    twoFactorEnabled: Type.Boolean({ description: 'Signs in with a code from an authenticator app as well as the password' }),
  },
  { $id: 'User', additionalProperties: false },
)
export type User = Static<typeof User>
export const UserList = page(User, 'UserList')

export const UserCreate = Type.Object(
  { email: Email, name: Name, role: Role, password: Password },
  { additionalProperties: false },
)
export const UserUpdate = Type.Object(
  {
    email: Type.Optional(Email),
    name: Type.Optional(Name),
    role: Type.Optional(Role),
    password: Type.Optional(Password),
  },
  { additionalProperties: false },
)
export const UserListQuery = listQuery(['email', 'name', 'role', 'createdAt', 'lastLoginAt'], {
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Text in email or name' })),
  role: Type.Optional(Role),
  disabled: Type.Optional(Type.Boolean()),
})

export const LoginRequest = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Password,
    code: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 40,
        description: 'With two-factor sign-in: the 6-digit code from the authenticator app, or one of the recovery codes',
      }),
    ),
  },
  { additionalProperties: false },
)
export const LoginResponse = Type.Object(
  { token: Type.String(), expiresAt: DateTime, user: ref(User) },
  { $id: 'LoginResponse', additionalProperties: false },
)
/** The server's password rules, served so that a form checks what the server will check (one source of truth). */
export const PasswordPolicy = Type.Object(
  {
    minLength: Type.Integer({ minimum: 1, description: 'Fewest characters a new password may have (PASSWORD_MIN_LENGTH)' }),
    minDistinct: Type.Integer({ minimum: 1, description: 'Fewest different characters a new password may have' }),
  },
  { $id: 'PasswordPolicy', additionalProperties: false },
)
export type PasswordPolicy = Static<typeof PasswordPolicy>

export const Me = Type.Object(
  {
    ...User.properties,
    twoFactorEnrollmentRequired: Type.Boolean({
      description: 'The site requires two-factor sign-in and you have not set it up: until you do, only that (and signing out) is open to you',
    }),
    passwordPolicy: ref(PasswordPolicy),
    canChangePassword: Type.Boolean({
      description: 'You have a password here and the server lets you use it (false for an account made by single sign-on, and with LOCAL_PASSWORDS=off for all but the break-glass admin)',
    }),
  },
  { $id: 'Me', additionalProperties: false },
)

const Code = Type.String({ minLength: 1, maxLength: 40 })
export const TwoFactorEnrollment = Type.Object(
  {
    secret: Type.String({ description: 'The shared secret (base32), for typing into an authenticator app by hand' }),
    uri: Type.String({ description: 'The otpauth:// URI to show as a QR code' }),
  },
  { $id: 'TwoFactorEnrollment', additionalProperties: false },
)
export const TwoFactorConfirm = Type.Object({ code: Code }, { additionalProperties: false })
export const RecoveryCodes = Type.Object(
  {
    recoveryCodes: Type.Array(Type.String(), {
      description: 'Ten single-use codes for when the authenticator is lost. Shown only in this response; the server keeps only their hashes.',
    }),
  },
  { $id: 'RecoveryCodes', additionalProperties: false },
)
/** The password, or a code, when turning two-factor off or replacing the authenticator. */
export const TwoFactorProof = Type.Object(
  {
    password: Type.Optional(Password),
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'A current code or a recovery code, instead of the password' })),
  },
  { additionalProperties: false },
)

export const SiteSettings = Type.Object(
  { requireTwoFactor: Type.Boolean({ description: 'Everyone must sign in with two-factor; users without it may only set it up' }) },
  { $id: 'SiteSettings', additionalProperties: false },
)
export type SiteSettings = Static<typeof SiteSettings>
export const SiteSettingsUpdate = Type.Object({ requireTwoFactor: Type.Optional(Type.Boolean()) }, { additionalProperties: false })

export const PasswordChange = Type.Object(
  { currentPassword: Password, newPassword: Password },
  { additionalProperties: false },
)

export const Scope = Type.Enum(['read', 'sessions', 'admin'], {
  $id: 'Scope',
  description: 'What an API token may do: read (every GET), sessions (run sessions and scripts, edit the library), admin (site-admin operations; site admins only)',
})

export const ApiToken = Type.Object(
  {
    id: Uuid,
    kind: Type.Enum(['session', 'personal'], { description: 'session: a console sign-in; personal: an API token' }),
    name: Type.String(),
    prefix: Type.String({ description: 'The first characters of the token, to recognise it' }),
    scopes: Type.Array(ref(Scope), { description: 'A console sign-in carries every scope its user’s role allows' }),
    createdAt: DateTime,
    expiresAt: Type.Union([DateTime, Type.Null()]),
    lastUsedAt: Type.Union([DateTime, Type.Null()], {
      description: 'Updated when the client address changes, otherwise at most once a minute',
    }),
    lastUsedIp: Type.Union([Type.String(), Type.Null()], { description: 'The client address of the latest use' }),
  },
  { $id: 'ApiToken', additionalProperties: false },
)
export type ApiToken = Static<typeof ApiToken>
export const ApiTokenList = page(ApiToken, 'ApiTokenList')
export const ApiTokenCreated = Type.Object(
  {
    ...ApiToken.properties,
    token: Type.String({ description: 'The secret. Shown only in this response; store it now.' }),
  },
  { $id: 'ApiTokenCreated', additionalProperties: false },
)
export const ApiTokenCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    scopes: Type.Optional(
      Type.Array(Scope, {
        minItems: 1,
        maxItems: 3,
        uniqueItems: true,
        description: 'What the token may do; without it, read only. Only site admins may give admin.',
      }),
    ),
  },
  { additionalProperties: false },
)

export const Health = Type.Object(
  {
    status: Type.Enum(['ok', 'degraded']),
    database: Type.Enum(['up', 'down']),
    driver: Type.Enum(['pglite', 'postgres']),
    version: Type.String(),
  },
  { $id: 'Health', additionalProperties: false },
)

/** Shared schemas registered with fastify (and so named components in openapi.yaml). */

/** What the sign-in page offers (GET /auth/methods): passwords, single sign-on, or both. */
export const AuthMethods = Type.Object(
  {
    password: Type.Union([Type.Literal('all'), Type.Literal('break_glass')], {
      description: '`all`: anyone may sign in with a password; `break_glass`: only the break-glass admin (LOCAL_PASSWORDS=off)',
    }),
    sso: Type.Optional(
      Type.Object(
        {
          displayName: Type.String({ description: 'The identity provider, for the button: "Sign in with <displayName>"' }),
          startUrl: Type.String({ description: 'Where the browser goes to sign in (GET /api/v1/auth/oidc/start)' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'AuthMethods', additionalProperties: false },
)
export const OidcStartQuery = Type.Object(
  {
    returnTo: Type.Optional(Type.String({ pattern: '^#/(?!/)[A-Za-z0-9/_.~%=&?+-]*$', maxLength: 500, description: 'The console page to open after signing in, as a `#/…` path' })),
  },
  { additionalProperties: false },
)
export const OidcCallbackQuery = Type.Object(
  {
    code: Type.Optional(Type.String({ maxLength: 4096 })),
    state: Type.Optional(Type.String({ maxLength: 1024 })),
    iss: Type.Optional(Type.String({ maxLength: 2048 })),
    error: Type.Optional(Type.String({ maxLength: 200 })),
    error_description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  // Providers add their own parameters (session_state, …).
  { additionalProperties: Type.String({ maxLength: 4096 }) },
)
export const OidcExchange = Type.Object({ code: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false })

export const accountSchemas = [Role, Scope, User, PasswordPolicy, Me, TwoFactorEnrollment, RecoveryCodes, SiteSettings, UserList, LoginResponse, ApiToken, ApiTokenList, ApiTokenCreated, Health, AuthMethods]
