import createFetchClient, { type Client, type Middleware } from 'openapi-fetch'
import type { components, operations, paths } from './schema.js'

export type { components, operations, paths }
export type Schemas = components['schemas']
export type ErrorResponse = Schemas['ErrorResponse']

/** Any non-2xx answer from the API, with its stable `code` and field errors. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly body: ErrorResponse
  /** Field name → problem, when the API named the fields at fault. */
  readonly errors: Record<string, string>
  /** Seconds the server asks to wait before trying again (its Retry-After, with 429 and 503). */
  readonly retryAfterSeconds: number | undefined

  constructor(status: number, body: ErrorResponse, retryAfterSeconds?: number) {
    super(body.message)
    this.name = 'ApiError'
    this.status = status
    this.code = body.code
    this.body = body
    this.errors = body.errors ?? {}
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** Retry-After as seconds: a number of seconds, or an HTTP date. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined
  if (/^\d+$/.test(header.trim())) return Number(header.trim())
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}

export interface ClientOptions {
  /** Where the API is, e.g. http://localhost:3000 (no trailing /api). */
  baseUrl: string
  /** A personal API token (hlp_…) or console token, or a function returning the current one. */
  token?: string | (() => string | undefined | null) | undefined
  /** A fetch implementation; the global one by default. */
  fetch?: typeof fetch
  /** Extra headers sent with every request. */
  headers?: Record<string, string>
}

export type HelplineClient = Client<paths>

async function toApiError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '')
  let body: ErrorResponse
  try {
    body = JSON.parse(text) as ErrorResponse
    if (typeof body?.code !== 'string') throw new Error('not an ErrorResponse')
  } catch {
    body = {
      statusCode: response.status,
      code: 'HTTP_ERROR',
      error: response.statusText || 'Error',
      message: text.slice(0, 500) || `HTTP ${response.status}`,
    }
  }
  return new ApiError(response.status, body, retryAfter(response.headers.get('retry-after')))
}

/**
 * A typed client for every operation in openapi.yaml. Paths, parameters, bodies and responses are
 * checked by TypeScript; any non-2xx response is thrown as an ApiError.
 *
 * ```ts
 * const api = createClient({ baseUrl: 'http://localhost:3000', token: process.env.HELPLINE_TOKEN })
 * const { data: me } = await api.GET('/api/v1/me')
 * ```
 */
export function createClient(options: ClientOptions): HelplineClient {
  const client = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  })
  const auth: Middleware = {
    onRequest({ request }) {
      const token = typeof options.token === 'function' ? options.token() : options.token
      if (token && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`)
      return request
    },
    async onResponse({ response }) {
      if (!response.ok) throw await toApiError(response)
      return response
    },
  }
  client.use(auth)
  return client
}

export {
  scriptForm,
  scriptVersionForm,
  uploadScript,
  uploadScriptVersion,
  type FileContent,
  type Script,
  type ScriptFileInput,
  type UploadScriptInput,
  type UploadScriptVersionInput,
} from './scripts.js'

export {
  formatOutput,
  readRunOutput,
  runScripts,
  waitForBatch,
  type OutputChunk,
  type RunScriptsInput,
  type RunScriptsOptions,
  type ScriptBatch,
  type ScriptRun,
  type WaitForBatchOptions,
} from './runs.js'

export { encryptCredentials, type LogonCredentialsInput } from './credentials.js'
export { timeoutSignal } from './timeout.js'
export { VERSION_STATEMENT_HEADER, versionDigestText, versionStatement, type DigestFile, type VersionClaim } from './integrity.js'
export { JOIN_TICKET_MARKER, joinTicketLine, parseJoinTicket, type JoinTicket } from './join-ticket.js'
export {
  cleanText,
  fileNameProblem,
  fileNameRules,
  hasControlCharacters,
  MAX_FILE_NAME_BYTES,
  quoteName,
  type FileNameProblemCode,
  type FileNameRule,
} from './text-rules.js'
export { verifyWebhook, WebhookVerificationError, type VerifyWebhookOptions, type WebhookEventType, type WebhookHeaders, type WebhookMessage } from './webhooks.js'
export {
  formatBytes,
  formatSeconds,
  formatSystemInfoValue,
  systemInfoCategoryTitle,
  systemInfoCell,
  systemInfoColumn,
  systemInfoNote,
  systemInfoLabel,
  type SystemInfoKind,
  type SystemInfoLang,
} from './system-info-words.js'
