import { get as httpGet } from 'node:http'

export interface SseEvent {
  id: number
  event: string
  data: Record<string, unknown>
}

export interface SseStream {
  status: number
  contentType: string
  headers: Record<string, string | string[] | undefined>
  /** The next chunk of text; fails after 5 s without one. */
  next(): Promise<string>
  /** Reads until `pred` holds for the events parsed so far (comments skipped); returns them. */
  until(pred: (events: SseEvent[]) => boolean): Promise<SseEvent[]>
  /** Resolves when the server ends the response. */
  ended: Promise<void>
  close(): void
}

/** An SSE client on node:http, so the test decides exactly when the socket goes. */
export function openStream(url: string, headers: Record<string, string>): Promise<SseStream> {
  return new Promise<SseStream>((resolve, reject) => {
    const req = httpGet(url, { headers }, (res) => {
      res.setEncoding('utf8')
      res.on('error', () => {}) // the test closes the socket itself
      const chunks: string[] = []
      let waiting: ((chunk: string) => void) | undefined
      res.on('data', (chunk: string) => {
        if (waiting) {
          const w = waiting
          waiting = undefined
          w(chunk)
        } else chunks.push(chunk)
      })
      const ended = new Promise<void>((done) => res.on('end', () => done()).on('close', () => done()))
      const next = () =>
        new Promise<string>((r, fail) => {
          if (chunks.length) return r(chunks.splice(0).join(''))
          const timer = setTimeout(() => fail(new Error('no data from the stream within 5 s')), 5000)
          waiting = (chunk) => {
            clearTimeout(timer)
            r(chunk)
          }
        })
      let buffer = ''
      const events: SseEvent[] = []
      const until = async (pred: (events: SseEvent[]) => boolean) => {
        while (!pred(events)) {
          buffer += await next()
          let end: number
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const fields = Object.fromEntries(
              block
                .split('\n')
                .filter((l) => !l.startsWith(':'))
                .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
            )
            if (fields.event) events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data!) as Record<string, unknown> })
          }
        }
        return events
      }
      resolve({
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type']),
        headers: res.headers,
        next,
        until,
        ended,
        close: () => req.destroy(),
      })
    })
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)))
  })
}
