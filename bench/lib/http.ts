/** One HTTP request of a load generator, on its pool of kept-alive sockets. */
import http from 'node:http'

export interface Answer {
  status: number
  body: string
}

/**
 * Sends `body` (an object as JSON; a string as it is, e.g. a body built once for many posts) to
 * `base` + `path` with the bearer `token`; resolves with the answer's status and text, rejects
 * when the connection fails.
 */
export function request(sockets: http.Agent, base: URL, method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: sockets,
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}
