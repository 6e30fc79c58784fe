import { ApiError } from '@helpline/sdk'
import type { HelplineClient } from './client.ts'
import type { AgentInfo, ChatMessage, Command, Consent, Session, SnapshotSummary } from './resources/sessions.ts'
import type { ScriptOutputEvent, ScriptRun } from './resources/script-batches.ts'

/** One server-sent event as it came off the wire. */
export interface SseMessage {
  id: string | undefined
  event: string
  data: string
}

/**
 * An incremental `text/event-stream` parser (the WHATWG rules the console needs): feed it chunks
 * as they arrive, get whole messages back. EventSource would do this for us, but it cannot send
 * the Authorization header the API requires.
 */
export class SseParser {
  private buffer = ''
  private data: string[] = []
  private event = ''
  private id: string | undefined
  /** The reconnection delay the server asked for with `retry:`, if any. */
  retry: number | undefined

  push(chunk: string): SseMessage[] {
    this.buffer += chunk
    const out: SseMessage[] = []
    // A line ends at \n, \r\n or \r; a trailing \r may be half of a \r\n still in transit.
    const lines = this.buffer.split(/\r\n|\n|\r(?!$)/)
    this.buffer = lines.pop() ?? ''
    for (const line of lines) {
      if (line === '') {
        if (this.data.length > 0) out.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') })
        this.data = []
        this.event = ''
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      let value = colon === -1 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'data') this.data.push(value)
      else if (field === 'event') this.event = value
      else if (field === 'id' && !value.includes('\0')) this.id = value
      else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value)
    }
    return out
  }
}

/** What the session stream carries, by `event:` name (see the streamSession operation). */
export type SessionStreamEvent =
  | { event: 'session'; data: Session }
  | { event: 'agent'; data: AgentInfo }
  | { event: 'chat'; data: ChatMessage }
  | { event: 'consent'; data: Consent }
  | { event: 'command'; data: Command }
  | { event: 'snapshot'; data: SnapshotSummary }
  /** A script run changed (started, finished…); sent whole each time. */
  | { event: 'script_run'; data: ScriptRun }
  /** One stored chunk of a run's output, in the run's order. */
  | { event: 'script_output'; data: ScriptOutputEvent }

const streamEvents = new Set<string>(['session', 'agent', 'chat', 'consent', 'command', 'snapshot', 'script_run', 'script_output'])

/**
 * The stream's last message when its credential stopped working (revoked, expired, the user
 * disabled): the 401 the next request would get, as the SDK would throw it.
 */
export function toCredentialError(message: SseMessage): ApiError | undefined {
  if (message.event !== 'error') return undefined
  let body: { code?: unknown; message?: unknown } = {}
  try {
    body = JSON.parse(message.data) as typeof body
  } catch {
    // A malformed last word still means the stream is over for this credential.
  }
  const code = typeof body.code === 'string' ? body.code : 'INVALID_TOKEN'
  const text = typeof body.message === 'string' ? body.message : 'Your sign-in has ended'
  return new ApiError(401, { statusCode: 401, code, error: 'Unauthorized', message: text })
}

/** A wire message in our terms, or undefined for events this console does not know (yet). */
export function toSessionEvent(message: SseMessage): SessionStreamEvent | undefined {
  if (!streamEvents.has(message.event)) return undefined
  try {
    // The server validates what it sends against the same schemas; the cast names the pairing.
    return { event: message.event, data: JSON.parse(message.data) } as SessionStreamEvent
  } catch {
    return undefined
  }
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'failed'

export interface StreamHandlers {
  onEvent(event: SessionStreamEvent): void
  onState?(state: StreamState, error?: unknown): void
}

const MIN_DELAY = 1000
const MAX_DELAY = 15_000

/**
 * Follows a session's live stream until the returned function is called: replays what happened
 * after `after`, then each change. A dropped connection is reopened (with backoff) from the last
 * event id, so nothing is missed; a 401/403/404, or the server's `error` event when the sign-in
 * ends (revoked, expired, the user disabled), ends it for good. Goes through the SDK client, so
 * the bearer token and error handling are the same as every other call.
 */
export function followSessionStream(client: HelplineClient, sessionId: string, after: number, handlers: StreamHandlers): () => void {
  const abort = new AbortController()
  let lastId = after
  let delay = MIN_DELAY

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      abort.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve()
      })
    })

  const run = async () => {
    handlers.onState?.('connecting')
    while (!abort.signal.aborted) {
      const parser = new SseParser()
      try {
        const { data: body } = await client.GET('/api/v1/sessions/{id}/stream', {
          params: { path: { id: sessionId }, query: { after: lastId } },
          parseAs: 'stream',
          signal: abort.signal,
        })
        if (!body) throw new Error('The stream has no body')
        handlers.onState?.('open')
        // The server answered: the next drop is a fresh problem, not more of the same outage.
        delay = MIN_DELAY
        const reader = body.pipeThrough(new TextDecoderStream()).getReader()
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          for (const message of parser.push(value)) {
            const ended = toCredentialError(message)
            if (ended) {
              handlers.onState?.('failed', ended)
              return
            }
            if (message.id !== undefined && /^\d+$/.test(message.id)) lastId = Number(message.id)
            const event = toSessionEvent(message)
            if (event) handlers.onEvent(event)
          }
        }
        if (parser.retry !== undefined) delay = Math.max(parser.retry, MIN_DELAY)
      } catch (error) {
        if (abort.signal.aborted) return
        if (error instanceof ApiError && [401, 403, 404].includes(error.status)) {
          handlers.onState?.('failed', error)
          return
        }
      }
      if (abort.signal.aborted) return
      handlers.onState?.('reconnecting')
      await sleep(delay)
      delay = Math.min(delay * 2, MAX_DELAY)
    }
  }
  void run()
  return () => abort.abort()
}
