import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

/**
 * Every setting the server reads, with its default. The environment is read once, here; the rest
 * of the code receives a typed Config and never looks at process.env.
 */
export const Config = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /**
   * Behind a load balancer or reverse proxy: the proxies' addresses (comma-separated IPs or CIDRs,
   * e.g. `10.0.0.5,10.0.1.0/24`) whose X-Forwarded-For / -Proto are believed, so rate limits and
   * the audit trail see the client's address, not the proxy's. Unset: nothing forwarded is believed.
   */
  TRUST_PROXY: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, pattern: '^[0-9a-fA-F.:/]+(\\s*,\\s*[0-9a-fA-F.:/]+)*$' })),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /**
   * The database owner (postgres://), for migrations only. When set, the server migrates as this
   * role and then grants DATABASE_URL's role exactly what the app needs (the audit trails: read
   * and append only), so the app itself cannot alter, truncate or stop the triggers of its audit
   * trail. See the README's production setup.
   */
  DATABASE_OWNER_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  /**
   * How long a new connection to PostgreSQL may take before the request that needed it answers
   * 503 (docs/security/outage.md).
   */
  DATABASE_CONNECT_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 300, default: 5 }),
  /**
   * The longest one SQL statement may run (lock waits included) before the database cancels it
   * and the request answers 503; a connection that has not answered 5 s after that is dropped.
   */
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 15_000 }),
  /**
   * The most connections this instance opens to PostgreSQL (postgres.js's pool; PGlite has one).
   * Every instance counts against the server's `max_connections` (100 by default), LISTEN's own
   * connection and migrations' included: several instances share it.
   */
  DATABASE_POOL_MAX: Type.Integer({ minimum: 2, maximum: 500, default: 10 }),
  /**
   * Where the server keeps the secrets that must not live in the database (the script signing key
   * and the server secret); created on first start, mode 0600. See docs/security.md.
   */
  KEY_DIR: Type.String({ minLength: 1, default: './keys' }),
  /** The script signing key (PKCS#8 PEM, Ed25519) instead of KEY_DIR's file; several instances share one. */
  SIGNING_KEY: Type.Optional(Type.String({ pattern: '-----BEGIN PRIVATE KEY-----' })),
  /** The server secret (64 hex digits) instead of KEY_DIR's file; several instances share one. */
  SERVER_SECRET: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
  ADMIN_EMAIL: Type.String({ format: 'email', default: 'admin@helpline.local' }),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 10 })),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  /** Idle lifetime of a console login; every use slides it forward. */
  SESSION_TTL_MINUTES: Type.Integer({ minimum: 1, default: 720 }),
  /** Sign-in attempts allowed per account, and per client address, in one window. */
  LOGIN_MAX_ATTEMPTS: Type.Integer({ minimum: 1, default: 10 }),
  LOGIN_MAX_ATTEMPTS_PER_IP: Type.Integer({ minimum: 1, default: 30 }),
  LOGIN_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  /** The organisation's name, shown to customers on the join page and in their agent. */
  ORG_NAME: Type.String({ minLength: 1, maxLength: 100, default: 'Helpline' }),
  /**
   * The address customers reach this server at (https://help.example.com), used in join links and
   * the commands shown to customers; unset → taken from each request's Host.
   */
  PUBLIC_URL: Type.Optional(Type.String({ pattern: "^https?://[^/\\s?#'\"]+(/[^\\s?#'\"]*)?$", maxLength: 2048 })),
  /** Where `npm run build` puts the one-file agents the server offers for download (relative: to the installation root). */
  AGENT_DOWNLOADS_DIR: Type.String({ minLength: 1, default: 'agent/dist/downloads' }),
  /** Where the built console lives (relative: to the installation root); served at `/` when it exists. */
  CONSOLE_DIR: Type.String({ default: 'admin/dist' }),
  PASSWORD_MIN_LENGTH: Type.Integer({ minimum: 8, maximum: 128, default: 10 }),
  /** The most a script's files (executable and inputs together) may weigh, in bytes. */
  SCRIPT_MAX_BYTES: Type.Integer({ minimum: 1, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
  /** A support session nobody joined ends after this long. */
  SESSION_WAITING_EXPIRY_HOURS: Type.Number({ exclusiveMinimum: 0, default: 24 }),
  /** An unanswered consent request expires after this long. */
  CONSENT_EXPIRY_SECONDS: Type.Integer({ minimum: 1, default: 120 }),
  /**
   * The longest an agent's poll is held open when there is nothing for it (the agent may ask for
   * less). A quiet fleet re-polls agents ÷ this times a second, most of its idle CPU: 50 s halves
   * 25 s's re-polls. It stays 10 s under the 60 s at which common proxies cut an idle request
   * (nginx's proxy_read_timeout, an AWS ALB's idle timeout); docs/deployment.md, "How long a poll
   * is held", has the trade-off (offline detection, dead connections).
   */
  AGENT_POLL_WAIT_SECONDS: Type.Integer({ minimum: 1, maximum: 60, default: 50 }),
  /** An agent not seen for this long is offline; unset → two poll periods plus 5 s. */
  AGENT_OFFLINE_AFTER_SECONDS: Type.Optional(Type.Integer({ minimum: 1 })),
  /** How long after it was last seen an agent may rejoin with its rejoin token (crash, reboot). */
  AGENT_REJOIN_WINDOW_MINUTES: Type.Number({ exclusiveMinimum: 0, default: 15 }),
  /** How long the CSR's “let a new computer in” stays open for one join (it is used once). */
  AGENT_ADMISSION_MINUTES: Type.Number({ exclusiveMinimum: 0, maximum: 60, default: 5 }),
  /** Join attempts (session numbers tried) per client address, and per number, in one window. */
  JOIN_MAX_ATTEMPTS_PER_IP: Type.Integer({ minimum: 1, default: 30 }),
  JOIN_MAX_ATTEMPTS_PER_NUMBER: Type.Integer({ minimum: 1, default: 10 }),
  JOIN_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  /**
   * A script still running this long past its own timeout is marked lost: its agent went away
   * (the agent kills a script at its timeout and reports within seconds). It is never run again.
   */
  SCRIPT_LOST_GRACE_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  /** Encrypted logon credentials the agent has not picked up after this long are dropped. */
  LOGON_CREDENTIALS_TTL_SECONDS: Type.Integer({ minimum: 10, maximum: 3600, default: 120 }),
  /** How long a webhook receiver has to answer one delivery before the attempt counts as failed. */
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 10_000 }),
  /**
   * Seconds to wait before each retry of a failed webhook delivery, comma-separated; after the
   * last one the delivery is marked failed. The default retries for about a day.
   */
  WEBHOOK_RETRY_SECONDS: Type.String({ pattern: '^\\d+(\\.\\d+)?(,\\d+(\\.\\d+)?)*$', default: '5,30,120,600,1800,3600,7200,14400,28800,28800' }),
  /** How often each instance looks for webhook deliveries that are due. */
  WEBHOOK_WORKER_INTERVAL_MS: Type.Integer({ minimum: 10, default: 1000 }),
  /**
   * Prometheus metrics at GET /metrics on the API's port, for `Authorization: Bearer <METRICS_TOKEN>`
   * (401 without). Unset (and no METRICS_PORT): no metrics. docs/deployment.md.
   */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 256, pattern: '^\\S+$' })),
  /** Serve /metrics on this port instead (only there), bound to METRICS_HOST; METRICS_TOKEN, when set, is required there too. */
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  /**
   * On SIGTERM: the longest the server takes to stop (held polls and streams end at once; other
   * requests may finish within it) before it exits anyway.
   */
  SHUTDOWN_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 300, default: 10 }),
  /** An approved logon takes up to LOGON_ATTEMPTS sets of credentials within this long of the approval. */
  LOGON_APPROVAL_MINUTES: Type.Integer({ minimum: 1, maximum: 240, default: 10 }),
  /** How often each instance expires waiting sessions and consents and marks silent agents offline. */
  SWEEP_INTERVAL_MS: Type.Integer({ minimum: 50, default: 1000 }),
  // Single sign-on with OpenID Connect (docs/sso.md); checked together by checkSso below.
  /** The identity provider's issuer URL (its /.well-known/openid-configuration is read from it). Unset: no SSO. */
  OIDC_ISSUER: Type.Optional(Type.String({ pattern: '^https?://\\S+$', maxLength: 2048 })),
  OIDC_CLIENT_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  /** Never logged. Unset: a public client (PKCE only). */
  OIDC_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  /** The redirect URL registered at the provider; unset → PUBLIC_URL + /api/v1/auth/oidc/callback. */
  OIDC_REDIRECT_URL: Type.Optional(Type.String({ pattern: '^https?://\\S+$', maxLength: 2048 })),
  /** Comma-separated email domains allowed to sign in (the email must be verified); unset: any. */
  OIDC_ALLOWED_DOMAINS: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]+(\\s*,\\s*[A-Za-z0-9.-]+)*$', maxLength: 2000 })),
  /** The claim that carries the user's groups or roles (ID token or userinfo). */
  OIDC_ROLE_CLAIM: Type.String({ minLength: 1, maxLength: 200, default: 'groups' }),
  /** Comma-separated claim values that make a site admin, and a CSR (`*`: anyone allowed in). */
  OIDC_ADMIN_VALUES: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  OIDC_CSR_VALUES: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  /** The sign-in button's text: "Sign in with <OIDC_DISPLAY_NAME>". */
  OIDC_DISPLAY_NAME: Type.String({ minLength: 1, maxLength: 60, default: 'single sign-on' }),
  /** off: password sign-in (and password changes) only for BREAK_GLASS_ADMIN; needs OIDC_ISSUER. */
  LOCAL_PASSWORDS: Type.Enum(['on', 'off'], { default: 'on' }),
  BREAK_GLASS_ADMIN: Type.Optional(Type.String({ format: 'email' })),
})
export type Config = Static<typeof Config>

export class ConfigError extends Error {}

const names = Object.keys(Config.properties) as (keyof Config)[]

/** Reads the settings from an environment; throws ConfigError naming each bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {}
  for (const name of names) {
    const value = env[name]
    if (value !== undefined && value !== '') raw[name] = value
  }
  Object.assign(raw, overrides)
  const converted = Value.Convert(Config, Value.Default(Config, raw))
  const byKey = new Map<string, string>()
  for (const e of Value.Errors(Config, converted)) {
    const key = e.instancePath.replace(/^\//, '')
    if (!byKey.has(key)) byKey.set(key, e.message)
  }
  if (byKey.size > 0) {
    const lines = [...byKey].map(([key, message]) => {
      const got = env[key] === undefined ? '' : ` (got ${JSON.stringify(/PASSWORD|SECRET|SIGNING_KEY|TOKEN|_URL/.test(key) ? '***' : env[key])})`
      return `  ${key}: ${message}${got}`
    })
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`)
  }
  const config = converted as Config
  if (config.DATABASE_OWNER_URL && !config.DATABASE_URL) {
    throw new ConfigError('Invalid configuration:\n  DATABASE_OWNER_URL: needs DATABASE_URL (the role the app runs as); the embedded database has no roles')
  }
  const sso = checkSso(config)
  if (sso.length > 0) throw new ConfigError(`Invalid configuration:\n${sso.map((line) => `  ${line}`).join('\n')}`)
  return config
}

/** The single sign-on settings that only make sense together (docs/sso.md): one line per problem. */
function checkSso(c: Config): string[] {
  const problems: string[] = []
  const set = (['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URL', 'OIDC_ALLOWED_DOMAINS', 'OIDC_ADMIN_VALUES', 'OIDC_CSR_VALUES'] as const).filter((k) => c[k] !== undefined)
  if (!c.OIDC_ISSUER) {
    for (const key of set) problems.push(`${key}: needs OIDC_ISSUER`)
    if (c.LOCAL_PASSWORDS === 'off') problems.push('LOCAL_PASSWORDS: off needs single sign-on (OIDC_ISSUER), or nobody could sign in')
    return problems
  }
  const issuer = new URL(c.OIDC_ISSUER)
  if (issuer.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)) problems.push('OIDC_ISSUER: must be https:// (http:// only on loopback, for tests)')
  if (!c.OIDC_CLIENT_ID) problems.push('OIDC_CLIENT_ID: needed with OIDC_ISSUER')
  if (!c.OIDC_REDIRECT_URL && !c.PUBLIC_URL) problems.push('OIDC_REDIRECT_URL: needed with OIDC_ISSUER when PUBLIC_URL is not set')
  if (!c.OIDC_ADMIN_VALUES && !c.OIDC_CSR_VALUES) problems.push('OIDC_ADMIN_VALUES / OIDC_CSR_VALUES: set at least one, or nobody signing in gets a role')
  return problems
}
