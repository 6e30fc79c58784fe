import { PassThrough } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { unavailableCause } from '../../db/unavailable.ts'

const HEARTBEAT_MS = 15_000
const READ_RETRY_MS = 2_000
// Keyed by the app's services, which every encapsulated context shares.
const open = new WeakMap<object, Set<(shutdown?: boolean) => void>>()

/** Ends every open stream when the server closes, so closing does not wait for consoles to hang up. */
export function trackStreams(app: FastifyInstance) {
  const set = new Set<(shutdown?: boolean) => void>()
  open.set(app.services, set)
  app.addHook('preClose', async () => {
    for (const close of [...set]) close(true)
  })
}

/**
 * Serves a session's server-sent events: the changes after `after`, then each new change when the
 * session's notifier fires (one read per wake-up, coalesced while a read runs). Nothing polls the
 * database on a timer, except that a failed read (the database is away) is retried every 2 s
 * until one succeeds; a heartbeat comment keeps proxies from closing an idle stream.
 */
export async function openSessionStream(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, sessionId: string, after: number) {
  const out = new PassThrough()
  let cursor = after
  let closed = false
  let reading: Promise<void> | undefined
  let again = false
  let failing = false
  let retry: NodeJS.Timeout | undefined

  const pump = async (): Promise<void> => {
    if (reading) {
      again = true
      return reading
    }
    reading = (async () => {
      try {
        do {
          again = false
          const { cursor: next, events } = await app.services.stream.read(sessionId, cursor)
          if (closed) return
          for (const e of events) out.write(`id: ${e.seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`)
          cursor = next
        } while (again && !closed)
      } catch (err) {
        // The stream stays open and reads again from the same cursor, shortly, without waiting
        // for a wake-up that may never come (the database is away: nothing commits, nothing notifies).
        const down = unavailableCause(err)
        if (!failing) request.log.warn(down ? { database: down, sessionId } : { err, sessionId }, 'session stream read failed; retrying')
        failing = true
        if (!closed) retry ??= setTimeout(() => {
          retry = undefined
          void pump()
        }, READ_RETRY_MS)
        return
      } finally {
        reading = undefined
      }
      failing = false
    })()
    return reading
  }

  const streams = open.get(app.services)
  const unsubscribe = app.services.feed.subscribe(sessionId, () => void pump())
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), HEARTBEAT_MS)
  const close = (shutdown = false) => {
    // At shutdown the socket goes too: an idle keep-alive client would otherwise hold the close up.
    if (shutdown) setImmediate(() => reply.raw.destroy())
    if (closed) return
    closed = true
    clearInterval(heartbeat)
    clearTimeout(retry)
    unsubscribe()
    streams?.delete(close)
    out.end()
  }
  streams?.add(close)
  reply.raw.on('close', () => close())

  out.write(`retry: 2000\n: stream of session ${sessionId}\n\n`)
  await pump()
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-transform')
    .header('x-accel-buffering', 'no')
    // A stream's connection is not reused: when it ends (server closing) the socket goes too,
    // instead of idling until the keep-alive timeout holds up the close.
    .header('connection', 'close')
    .send(out)
}
