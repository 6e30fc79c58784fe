import { connect, type Socket } from 'node:net'

/** What postgres.js hands its `socket` option: the parsed connection options. */
interface SocketOptions {
  host: string[]
  port: number[]
  path?: string | false
  ssl?: unknown
}

/** The last six bytes of a chunk that leaves the server idle: ReadyForQuery ('Z', length 5, status). */
function endsReady(chunk: Buffer): boolean {
  const n = chunk.length
  return n >= 6 && chunk[n - 6] === 0x5a && chunk.readUInt32BE(n - 5) === 5
}

function dropped(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/**
 * The sockets postgres.js reaches PostgreSQL through. The one guarantee: a connection that cannot
 * be made, or stops answering, fails the query waiting on it within a bounded time, so the request
 * answers 503 instead of hanging until the database is back.
 *
 * postgres.js alone already times out a connect that gets no answer (`connect_timeout`), but:
 * - a connection the other end closes before PostgreSQL said a word (a proxy, pooler or load
 *   balancer in front of a database that is down) is reconnected at once, in a loop, while the
 *   query waits: here that close is an ECONNRESET error, which fails the query;
 * - a connection whose packets are silently dropped mid-query waits for TCP to notice (minutes):
 *   here a request that gets no byte back within `replyTimeoutMs` (the statement timeout plus a
 *   margin: PostgreSQL itself answers by then) destroys the connection.
 * With TLS postgres.js swaps the socket for its own TLS socket, so only the connect is ours there.
 */
export function pgSocketFactory(replyTimeoutMs: number) {
  let next = 0
  return (options: SocketOptions): Socket => {
    const i = next++ % Math.max(1, options.host.length)
    const socket = options.path ? connect(options.path) : connect(options.port[i] ?? 5432, options.host[i] ?? 'localhost')
    // As libpq does: a short message after a large one (COPY's end after its data) goes at once, not after a delayed ACK (~40 ms).
    socket.setNoDelay(true)
    if (options.ssl) return socket
    let failed = false
    socket.on('error', () => (failed = true))
    // Registered before postgres.js's own listeners, so the error reaches it before the close does.
    socket.once('close', () => {
      if (!failed && socket.bytesRead === 0) socket.emit('error', dropped('ECONNRESET', 'The database connection was closed before the server answered'))
    })

    let waitingSince = 0
    let timer: NodeJS.Timeout | undefined
    const check = () => {
      timer = undefined
      if (!waitingSince || socket.destroyed) return
      const waited = Date.now() - waitingSince
      if (waited >= replyTimeoutMs) {
        socket.destroy(dropped('ETIMEDOUT', `The database did not answer within ${replyTimeoutMs} ms`))
      } else {
        timer = setTimeout(check, replyTimeoutMs - waited).unref()
      }
    }
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean
    socket.write = ((...args: unknown[]) => {
      if (!waitingSince) {
        waitingSince = Date.now()
        timer ??= setTimeout(check, replyTimeoutMs).unref()
      }
      return write(...args)
    }) as Socket['write']
    // Safe to listen before postgres.js does: the server sends nothing before the startup
    // message, which postgres.js writes after attaching its own listener. A chunk that ends the
    // server's turn clears the wait; anything else (more rows coming) restarts it; a notification
    // on an idle connection starts nothing.
    socket.on('data', (chunk: Buffer) => {
      if (endsReady(chunk)) waitingSince = 0
      else if (waitingSince) waitingSince = Date.now()
    })
    socket.once('close', () => clearTimeout(timer))
    return socket
  }
}
