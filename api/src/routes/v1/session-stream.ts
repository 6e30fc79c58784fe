import { PassThrough } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { unavailableCause } from '../../db/unavailable.ts'
import { AppError } from '../../errors.ts'
import type { CredentialProblem, Principal } from '../../services/auth.service.ts'
import { credentialsTopic } from '../../services/tokens.service.ts'

const HEARTBEAT_MS = 15_000
const READ_RETRY_MS = 2_000
/** How soon a console reconnects after this instance closed its stream on shutdown. */
const SHUTDOWN_RETRY_MS = 500
/** Open streams one user may hold on one instance. */
export const MAX_STREAMS_PER_USER = 20
/**
 * The safety net behind revocation announcements (a NOTIFY lost while the LISTEN connection was
 * down): each stream re-reads its credential this often even when nothing was announced.
 */
const RECHECK_MS = 5_000
// setTimeout's longest delay; a later expiry is looked at again then.
const MAX_TIMER_MS = 2 ** 31 - 1

interface OpenStreams {
  closers: Set<(shutdown?: boolean) => void>
  perUser: Map<string, number>
}
// Keyed by the app's services, which every encapsulated context shares.
const open = new WeakMap<object, OpenStreams>()

/** Ends every open stream when the server closes, so closing does not wait for consoles to hang up. */
export function trackStreams(app: FastifyInstance) {
  const streams: OpenStreams = { closers: new Set(), perUser: new Map() }
  open.set(app.services, streams)
  app.addHook('preClose', async () => {
    for (const close of [...streams.closers]) close(true)
  })
}

/** 429 TOO_MANY_STREAMS when the user already holds the most streams this instance allows. */
function countStream(streams: OpenStreams | undefined, userId: string): () => void {
  if (!streams) return () => {}
  const held = streams.perUser.get(userId) ?? 0
  if (held >= MAX_STREAMS_PER_USER) {
    throw new AppError(429, 'TOO_MANY_STREAMS', `At most ${MAX_STREAMS_PER_USER} open live streams per user; close one first`, undefined, { 'retry-after': '5' })
  }
  streams.perUser.set(userId, held + 1)
  let released = false
  return () => {
    if (released) return
    released = true
    const left = (streams.perUser.get(userId) ?? 1) - 1
    if (left > 0) streams.perUser.set(userId, left)
    else streams.perUser.delete(userId)
  }
}

/**
 * Serves a session's server-sent events: the changes after `after`, then each new change when the
 * session's notifier fires (one read per wake-up, coalesced while a read runs). Nothing polls the
 * database on a timer, except that a failed read (the database is away) is retried every 2 s
 * until one succeeds; a heartbeat comment keeps proxies from closing an idle stream.
 *
 * The stream follows its credential: a revocation (sign-out, revoke, the user disabled, their
 * password reset) is announced on the user's credentials topic to every instance, the stream
 * re-reads its credential at once and, when it no longer works, or when it expires, sends an
 * `error` event and ends.
 */
export async function openSessionStream(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, principal: Principal, sessionId: string, after: number) {
  const streams = open.get(app.services)
  const release = countStream(streams, principal.userId)
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

  let expiryTimer: NodeJS.Timeout | undefined
  let checking = false
  const end = (problem: CredentialProblem) => {
    if (closed) return
    out.write(`event: error\ndata: ${JSON.stringify(problem)}\n\n`)
    close()
  }
  const watchExpiry = (expiresAt: Date | null) => {
    clearTimeout(expiryTimer)
    if (!expiresAt || closed) return
    const due = Math.min(Math.max(expiresAt.getTime() - Date.now(), 0), MAX_TIMER_MS)
    expiryTimer = setTimeout(() => void recheck(), due + 5)
  }
  const recheck = async () => {
    if (closed || checking) return
    checking = true
    try {
      const { problem, expiresAt } = await app.services.auth.recheck(principal.tokenId)
      if (problem) end(problem)
      else watchExpiry(expiresAt)
    } catch (err) {
      // The database did not answer: the next announcement or the safety net tries again.
      request.log.warn({ err, sessionId }, 'session stream credential re-check failed')
    } finally {
      checking = false
    }
  }

  const unsubscribe = app.services.feed.subscribe(sessionId, () => void pump())
  const unwatch = app.notifier.subscribe(credentialsTopic(principal.userId), () => void recheck())
  const safetyNet = setInterval(() => void recheck(), RECHECK_MS)
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), HEARTBEAT_MS)
  watchExpiry(principal.expiresAt)
  const close = (shutdown = false) => {
    if (shutdown && !closed) {
      // The console reconnects soon, through the load balancer, to an instance that is not
      // going away; the events it missed come from the cursor it sends (Last-Event-ID).
      out.write(`retry: ${SHUTDOWN_RETRY_MS}\n: this server is shutting down; reconnect\n\n`)
    }
    // At shutdown the socket goes too (once the hint is out): an idle keep-alive client would
    // otherwise hold the close up.
    if (shutdown) {
      reply.raw.once('finish', () => reply.raw.destroy())
      setTimeout(() => reply.raw.destroy(), 1000).unref()
    }
    if (closed) return
    closed = true
    clearInterval(heartbeat)
    clearTimeout(retry)
    clearInterval(safetyNet)
    clearTimeout(expiryTimer)
    unsubscribe()
    unwatch()
    release()
    streams?.closers.delete(close)
    out.end()
  }
  streams?.closers.add(close)
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
