import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sanitize } from '../terminal.ts'
import { WINDOW_CSS, WINDOW_HTML, WINDOW_JS } from './window-page.ts'

/**
 * The customer window's web server: a page on 127.0.0.1 that only the customer's own browser,
 * opened by this agent, can use. Every request must
 * - carry the random secret in its path (`/s/<secret>/…`), which only the URL the agent opened knows;
 * - name this server exactly in its Host header (127.0.0.1:<port>), so a web page whose name was
 *   rebound to 127.0.0.1 (DNS rebinding) is refused;
 * - come from this page: a foreign Origin or a cross-site fetch is refused, and changes need a JSON
 *   body (which no other site can send here without a CORS preflight, and preflights are refused).
 * The page cannot be framed (clickjacking a "Allow" click) and runs no inline script. Every text
 * it shows goes through the terminal's sanitiser first, as everything the agent prints does.
 */

export type ConsentState = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled'

export interface WindowConsent {
  id: string
  title: string
  /** What the terminal shows for it, line by line (already in the customer's language and sanitised). */
  lines: string[]
  expiresAt: string
  state: ConsentState
  /** Where it was answered: here, in the terminal, or automatically (--approve). */
  answeredIn: 'window' | 'terminal' | 'auto' | null
}

export interface WindowMessage {
  id: number
  from: 'csr' | 'customer' | 'agent'
  author: string
  text: string
  at: string
}

export type WindowPhase = 'confirm' | 'connecting' | 'joined' | 'reconnecting' | 'restarting' | 'ended' | 'left' | 'stopped' | 'failed'

export interface WindowStatus {
  phase: WindowPhase
  server: string
  number: string
  csr: string
  org: string
  /** What runs on the computer now ("Running script … (1 of 2)"), or null. */
  running: string | null
  /** A message shown at the top (e.g. "You are back in your support session with …"). */
  notice: string | null
}

export interface WindowActions {
  answer(consentId: string, approved: boolean): 'ok' | 'unknown' | 'answered'
  chat(text: string): void
  leave(): void
  /** The customer's answer to "connect to this server?" before joining from a join ticket. */
  confirm(join: boolean): void
}

interface Snapshot {
  version: number
  status: WindowStatus
  consents: WindowConsent[]
  messages: WindowMessage[]
  activity: string[]
  strings: Record<string, string>
  lang: string
}

const MAX_MESSAGES = 300
const MAX_ACTIVITY = 200
const MAX_CONSENTS = 30
const HOLD_MS = 25_000
const MAX_BODY = 16 * 1024

export class WindowServer {
  private server: Server | undefined
  private port = 0
  private readonly secret = randomBytes(24).toString('base64url')
  private version = 0
  private status: WindowStatus = { phase: 'connecting', server: '', number: '', csr: '', org: '', running: null, notice: null }
  private readonly consents: WindowConsent[] = []
  private readonly messages: WindowMessage[] = []
  private readonly activity: string[] = []
  private messageId = 0
  private readonly waiting = new Set<() => void>()

  constructor(
    private readonly actions: WindowActions,
    private readonly strings: Record<string, string>,
    private readonly lang: string,
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) this.send(res, 500, { error: 'failed' })
        else res.end()
      })
    })
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(0, '127.0.0.1', () => resolve())
    })
    this.port = (this.server.address() as AddressInfo).port
    return this.url
  }

  /** The address the agent opens in the customer's browser (secret included). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/s/${this.secret}/`
  }

  async close() {
    for (const wake of [...this.waiting]) wake()
    const server = this.server
    if (!server) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    // Held long-polls and a browser's keep-alive connections would hold the close up.
    server.closeAllConnections()
    await closed
  }

  // ── What the agent tells the window ──────────────────────────────────────────────────────

  setStatus(change: Partial<WindowStatus>) {
    const clean = Object.fromEntries(Object.entries(change).map(([k, v]) => [k, typeof v === 'string' && k !== 'phase' ? sanitize(v) : v]))
    this.status = { ...this.status, ...clean }
    this.changed()
  }

  addConsent(consent: Omit<WindowConsent, 'state' | 'answeredIn'>) {
    if (this.consents.some((c) => c.id === consent.id)) return
    this.consents.push({ ...consent, title: sanitize(consent.title), lines: consent.lines.map(sanitize), state: 'pending', answeredIn: null })
    if (this.consents.length > MAX_CONSENTS) this.consents.splice(0, this.consents.length - MAX_CONSENTS)
    this.changed()
  }

  settleConsent(id: string, state: Exclude<ConsentState, 'pending'>, answeredIn: WindowConsent['answeredIn']) {
    const consent = this.consents.find((c) => c.id === id)
    if (!consent || consent.state !== 'pending') return
    consent.state = state
    consent.answeredIn = answeredIn
    this.changed()
  }

  addMessage(message: Omit<WindowMessage, 'id'>) {
    this.messages.push({ ...message, author: sanitize(message.author), text: sanitize(message.text), id: ++this.messageId })
    if (this.messages.length > MAX_MESSAGES) this.messages.splice(0, this.messages.length - MAX_MESSAGES)
    this.changed()
  }

  addActivity(line: string) {
    this.activity.push(sanitize(line))
    if (this.activity.length > MAX_ACTIVITY) this.activity.splice(0, this.activity.length - MAX_ACTIVITY)
    this.changed()
  }

  private changed() {
    this.version++
    for (const wake of [...this.waiting]) wake()
  }

  private snapshot(): Snapshot {
    return {
      version: this.version,
      status: this.status,
      consents: this.consents,
      messages: this.messages,
      activity: this.activity,
      strings: this.strings,
      lang: this.lang,
    }
  }

  // ── HTTP ─────────────────────────────────────────────────────────────────────────────────

  /** Why a request is refused, or undefined when it may be served. */
  private refusal(req: IncomingMessage): string | undefined {
    const own = `127.0.0.1:${this.port}`
    if (req.headers.host !== own) return 'wrong host'
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${own}`) return 'foreign origin'
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross-site request'
    const prefix = `/s/`
    const path = req.url ?? ''
    if (!path.startsWith(prefix)) return 'no secret'
    const given = Buffer.from(path.slice(prefix.length, prefix.length + this.secret.length))
    const expected = Buffer.from(this.secret)
    if (given.length !== expected.length || !timingSafeEqual(given, expected) || path[prefix.length + this.secret.length] !== '/') return 'no secret'
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (origin !== `http://${own}`) return 'changes need this page’s Origin'
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return 'changes are JSON'
    }
    return undefined
  }

  private send(res: ServerResponse, status: number, body: unknown, type = 'application/json; charset=utf-8') {
    res.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-resource-policy': 'same-origin',
      'content-security-policy':
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    })
    res.end(typeof body === 'string' ? body : JSON.stringify(body))
  }

  private async readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
    let size = 0
    const chunks: Buffer[] = []
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_BODY) return undefined
      chunks.push(chunk)
    }
    try {
      const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
    } catch {
      return undefined
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const refused = this.refusal(req)
    if (refused) return this.send(res, 403, { error: refused })
    const url = new URL(req.url!, `http://127.0.0.1:${this.port}`)
    const path = url.pathname.slice(`/s/${this.secret}`.length)
    if (req.method === 'GET' && (path === '/' || path === '')) return this.send(res, 200, WINDOW_HTML, 'text/html; charset=utf-8')
    if (req.method === 'GET' && path === '/app.js') return this.send(res, 200, WINDOW_JS, 'text/javascript; charset=utf-8')
    if (req.method === 'GET' && path === '/app.css') return this.send(res, 200, WINDOW_CSS, 'text/css; charset=utf-8')
    if (req.method === 'GET' && path === '/api/state') {
      const since = Number(url.searchParams.get('since') ?? '-1')
      if (since === this.version) await this.hold(res)
      return this.send(res, 200, this.snapshot())
    }
    if (req.method !== 'POST') return this.send(res, 404, { error: 'not found' })
    const body = await this.readJson(req)
    if (!body) return this.send(res, 400, { error: 'a JSON object is expected' })
    const consent = /^\/api\/consents\/([A-Za-z0-9-]{1,64})$/.exec(path)
    if (consent && typeof body.approved === 'boolean') {
      const result = this.actions.answer(consent[1]!, body.approved)
      if (result === 'unknown') return this.send(res, 404, { error: 'no such request' })
      if (result === 'answered') return this.send(res, 409, { error: 'already answered' })
      return this.send(res, 200, { ok: true })
    }
    if (path === '/api/chat' && typeof body.text === 'string' && body.text.trim()) {
      this.actions.chat(body.text.trim().slice(0, 4000))
      return this.send(res, 200, { ok: true })
    }
    if (path === '/api/leave') {
      this.actions.leave()
      return this.send(res, 200, { ok: true })
    }
    if (path === '/api/confirm' && typeof body.join === 'boolean') {
      this.actions.confirm(body.join)
      return this.send(res, 200, { ok: true })
    }
    return this.send(res, 400, { error: 'unknown request' })
  }

  /** A long-poll: answers when something changes, the time is up, or the page went away. */
  private hold(res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiting.delete(done)
        res.off('close', done)
        resolve()
      }
      const timer = setTimeout(done, HOLD_MS)
      this.waiting.add(done)
      res.once('close', done)
    })
  }
}
