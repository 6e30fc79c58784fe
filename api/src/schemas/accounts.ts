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
  { email: Type.String({ minLength: 1, maxLength: 254 }), password: Password },
  { additionalProperties: false },
)
export const LoginResponse = Type.Object(
  { token: Type.String(), expiresAt: DateTime, user: ref(User) },
  { $id: 'LoginResponse', additionalProperties: false },
)
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
export const accountSchemas = [Role, Scope, User, UserList, LoginResponse, ApiToken, ApiTokenList, ApiTokenCreated, Health]
