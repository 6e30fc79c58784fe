import type { components } from './schema.js'

/** What an endpoint can subscribe to (see openapi.yaml, WebhookEventType). */
export type WebhookEventType = components['schemas']['WebhookEventType']

/** A delivery's JSON body: the Standard Webhooks payload shape. */
export interface WebhookMessage {
  type: WebhookEventType
  /** When the server wrote the event (ISO 8601). */
  timestamp: string
  data: Record<string, unknown>
}

/** The delivery's headers as any server framework gives them: a Headers object or a plain record. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>

export interface VerifyWebhookOptions {
  /** How far webhook-timestamp may be from now, either way (default 300 s): older deliveries are replays. */
  toleranceSeconds?: number
  /** The clock to compare with (tests). */
  now?: Date
}

/** Why a delivery was refused; answer it with a 4xx and do not act on the body. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WebhookVerificationError'
  }
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  const record = headers as Record<string, string | string[] | undefined>
  const key = Object.keys(record).find((k) => k.toLowerCase() === name)
  const value = key === undefined ? undefined : record[key]
  return Array.isArray(value) ? value[0] : value
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
  } catch {
    return undefined
  }
}

/**
 * Checks a webhook delivery from Helpline (Standard Webhooks): the `webhook-signature` must hold a
 * `v1,` HMAC-SHA256 of `webhook-id.webhook-timestamp.body` under the endpoint's `whsec_` secret,
 * and the timestamp must be recent. Pass the body exactly as received (the raw text, before any
 * JSON parsing). Returns the parsed message; throws WebhookVerificationError otherwise.
 * Works wherever WebCrypto does (Node 20+, Deno, Bun, browsers, workers).
 */
export async function verifyWebhook(secret: string, body: string | Uint8Array, headers: WebhookHeaders, options: VerifyWebhookOptions = {}): Promise<WebhookMessage> {
  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature')
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature')
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('webhook-timestamp is not a number of seconds')
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000)
  const tolerance = options.toleranceSeconds ?? 300
  if (Math.abs(now - Number(timestamp)) > tolerance) throw new WebhookVerificationError(`webhook-timestamp is more than ${tolerance} s from now`)
  const keyBytes = fromBase64(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret)
  if (!keyBytes || keyBytes.length === 0) throw new WebhookVerificationError('The secret is not a whsec_ base64 secret')
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body)
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${text}`)
  // Several space-separated signatures may come (secret rotation); one good v1 is enough.
  for (const entry of signatures.split(' ')) {
    const [version, signature] = entry.split(',')
    if (version !== 'v1' || !signature) continue
    const bytes = fromBase64(signature)
    // subtle.verify compares in constant time.
    if (bytes && (await crypto.subtle.verify('HMAC', key, bytes, signed))) return JSON.parse(text) as WebhookMessage
  }
  throw new WebhookVerificationError('No valid signature')
}
