import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ApiError } from '@helpline/sdk'
import { fetchWithTimeout, isTransient, retryDelay } from '../src/retry.ts'
import { OutputStreamer, PendingChunks, removeLeftoverSpills, type OutputAnswer, type OutputChunk } from '../src/runners/output-streamer.ts'

/**
 * The agent's side of an outage, without a server: which failures it retries and how long it
 * waits, and the output streamer that keeps every chunk until the server acknowledged it.
 */

const spillDir = () => mkdtempSync(join(tmpdir(), 'helpline-spill-test-'))
const spillFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('output-spill-'))
const apiError = (status: number, code: string, retryAfter?: number, errors?: Record<string, string>) =>
  new ApiError(status, { statusCode: status, code, error: 'x', message: code, ...(errors ? { errors } : {}) }, retryAfter)

/** A server the test holds and releases: it records each post and answers with `answer`. */
function fakeServer(answer: (chunks: OutputChunk[], post: number) => OutputAnswer = () => ({ kind: 'stored', status: 'running' })) {
  const posts: OutputChunk[][] = []
  let inFlight = 0
  let mostInFlight = 0
  let held: Promise<void> = Promise.resolve()
  let release: () => void = () => {}
  return {
    posts,
    mostInFlight: () => mostInFlight,
    /** Posts wait until `open()`, like an agent retrying through an outage. */
    hold() {
      held = new Promise((r) => (release = r))
    },
    open: () => release(),
    post: async (chunks: OutputChunk[]): Promise<OutputAnswer> => {
      inFlight++
      mostInFlight = Math.max(mostInFlight, inFlight)
      posts.push(chunks.map((c) => ({ ...c })))
      await held
      inFlight--
      return answer(chunks, posts.length - 1)
    },
  }
}

const text = (chunks: OutputChunk[]) => chunks.map((c) => c.data).join('')
/** What the server ends up holding when it stores each sequence once. */
const held = (posts: OutputChunk[][]) => [...new Map(posts.flat().map((c) => [c.sequence, c])).values()].sort((a, b) => a.sequence - b.sequence)

t.test('retries: every 5xx, 429 and network failure is transient; the rest is not', async (t) => {
  for (const status of [500, 502, 503, 504, 429]) t.ok(isTransient(apiError(status, 'X')), `${status} is retried`)
  for (const status of [400, 401, 403, 404, 409, 413, 422]) t.notOk(isTransient(apiError(status, 'X')), `${status} is not`)
  t.ok(isTransient(new TypeError('fetch failed')), 'a refused or reset connection is retried')
  t.notOk(isTransient(new Error('a bug')), 'a bug is not')
})

t.test('a call to a server that never answers gives up, as a retryable failure; the caller can still abort it', async (t) => {
  // Accepts, then says nothing: a proxy in front of a dead server, or dropped packets.
  const silent = createNetServer((socket) => socket.on('error', () => {}))
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => silent.close(r)))
  silent.on('connection', (socket) => t.teardown(() => socket.destroy()))
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/health`
  const timed = fetchWithTimeout(300)
  const started = Date.now()
  const err = await timed(url).catch((e: unknown) => e)
  t.equal((err as Error).name, 'TimeoutError', `gave up after ${Date.now() - started} ms`)
  t.ok(isTransient(err), 'and is retried')
  const stop = new AbortController()
  setTimeout(() => stop.abort(), 50)
  const aborted = await timed(new Request(url, { signal: stop.signal })).catch((e: unknown) => e)
  t.equal((aborted as Error).name, 'AbortError', 'the agent stopping still aborts the call')
})

t.test('retries: full jitter up to 30 s; Retry-After when the server says', async (t) => {
  const at = (random: number) => () => random
  t.equal(retryDelay(new TypeError('x'), 0, 1000, 30_000, at(0)), 0, 'full jitter starts at 0')
  t.equal(retryDelay(new TypeError('x'), 0, 1000, 30_000, at(0.999)), 999, 'the first ceiling is the base')
  t.equal(retryDelay(new TypeError('x'), 3, 1000, 30_000, at(0.5)), 4000, 'the ceiling doubles per attempt')
  t.equal(retryDelay(apiError(500, 'X'), 40, 1000, 30_000, at(1)), 30_000, 'capped at 30 s')
  t.equal(retryDelay(apiError(503, 'SERVICE_UNAVAILABLE', 5), 0, 1000, 30_000, at(0)), 5000, 'Retry-After: 5 waits 5 s')
  t.equal(retryDelay(apiError(429, 'RATE_LIMITED', 7), 9, 1000, 30_000, at(0.5)), 7500, 'plus up to the base, so agents told the same spread out')
})

t.test('the server away: nothing is dropped, one post at a time, and the script is never held up', async (t) => {
  const server = fakeServer()
  const dir = spillDir()
  const streamer = new OutputStreamer({ post: server.post, spillDir: dir, flushMs: 1, onCancelled: () => t.fail('not cancelled') })
  server.hold()
  const written: string[] = []
  for (let i = 0; i < 40; i++) {
    const line = `line ${i}\n`
    written.push(line)
    const started = performance.now()
    streamer.push(i % 5 === 4 ? 'stderr' : 'stdout', line)
    t.ok(performance.now() - started < 50, 'a write returns at once while the server is away')
    await new Promise((r) => setTimeout(r, 2))
  }
  t.equal(server.posts.length, 1, 'while the first post waits for the server, no other is made')
  server.open()
  const result = await streamer.close()
  t.equal(server.mostInFlight(), 1, 'never two posts at once: they arrive in order')
  const received = held(server.posts)
  t.equal(text(received), written.join(''), 'every write reached the server, in order')
  t.same(received.map((c) => c.sequence), received.map((_, i) => i), 'numbered without gaps')
  t.same(result, { produced: received.length, complete: true }, 'finish may say how many chunks there were')
  t.same(spillFiles(dir), [], 'nothing spilled: it fit in memory')
})

t.test('a chunk leaves only once acknowledged: a gap answer resends from the expected sequence', async (t) => {
  // The server stored chunks 0–2 of the first post but the answer was lost; it then says it expects 3.
  const server = fakeServer((chunks, post) => (post === 0 ? { kind: 'gap', expected: 3 } : { kind: 'stored', status: 'running' }))
  const streamer = new OutputStreamer({ post: server.post, spillDir: spillDir(), flushMs: 1, onCancelled: () => {} })
  for (let i = 0; i < 8; i++) {
    streamer.push(i % 2 ? 'stderr' : 'stdout', `chunk ${i}`)
  }
  const result = await streamer.close()
  t.same(server.posts[0]!.map((c) => c.sequence), [0, 1, 2, 3, 4, 5, 6, 7], 'first post')
  t.same(server.posts[1]!.map((c) => c.sequence), [3, 4, 5, 6, 7], 'sent again from the expected sequence, nothing before it')
  t.same(result, { produced: 8, complete: true })
})

t.test('the server lost acknowledged output, or closed the run: the rest is dropped and finish does not claim it', async (t) => {
  const lost = fakeServer((chunks, post) => (post === 0 ? { kind: 'stored', status: 'running' } : { kind: 'gap', expected: 0 }))
  const first = new OutputStreamer({ post: lost.post, spillDir: spillDir(), flushMs: 1, onCancelled: () => {} })
  first.push('stdout', 'a')
  first.flush()
  await new Promise((r) => setTimeout(r, 20))
  first.push('stderr', 'b')
  t.same(await first.close(), { produced: 2, complete: false }, 'cannot resend what it no longer has: said, not looped on')
  t.equal(lost.posts.length, 2)
  t.match(first.failures[0], /lost output from chunk 0/)

  const closed = fakeServer(() => ({ kind: 'closed' }))
  const second = new OutputStreamer({ post: closed.post, spillDir: spillDir(), flushMs: 1, onCancelled: () => {} })
  second.push('stdout', 'late')
  second.flush()
  await new Promise((r) => setTimeout(r, 20))
  second.push('stderr', 'later')
  t.same(await second.close(), { produced: 2, complete: false }, 'RUN_FINISHED: what is left is dropped')
  t.equal(closed.posts.length, 1, 'and not posted')

  let stopped = 0
  const cancelled = fakeServer(() => ({ kind: 'stored', status: 'cancelled' }))
  const third = new OutputStreamer({ post: cancelled.post, spillDir: spillDir(), flushMs: 1, onCancelled: () => stopped++ })
  third.push('stdout', 'x')
  t.same(await third.close(), { produced: 1, complete: true })
  t.equal(stopped, 1, 'a cancelled run stops the script; its output is still acknowledged')
})

t.test('past the memory limit, chunks wait in a 0600 file in the state folder and come back in order; the file goes once drained', async (t) => {
  const server = fakeServer()
  const dir = spillDir()
  const streamer = new OutputStreamer({ post: server.post, spillDir: dir, flushMs: 1, memoryLimitBytes: 2048, onCancelled: () => {} })
  server.hold()
  const written: string[] = []
  for (let i = 0; i < 60; i++) {
    const line = `${'x'.repeat(90)} ${i}\n`
    written.push(line)
    streamer.push(i % 2 ? 'stderr' : 'stdout', line)
    await new Promise((r) => setTimeout(r, 2))
  }
  const files = spillFiles(dir)
  t.equal(files.length, 1, 'a spill file in the state folder')
  t.equal(statSync(join(dir, files[0]!)).mode & 0o777, 0o600, 'readable by the agent only')
  server.open()
  const result = await streamer.close()
  t.equal(text(held(server.posts)), written.join(''), 'everything arrived, in order')
  t.equal(result.complete, true)
  t.same(spillFiles(dir), [], 'the file is removed once everything was acknowledged')
})

t.test('pending chunks: bounded memory, in order across memory and file', async (t) => {
  const dir = spillDir()
  const path = join(dir, 'output-spill-unit.jsonl')
  // Each chunk weighs 164 bytes here (100 of data and 64 for the rest): two fit in 400.
  const pending = new PendingChunks(path, 400)
  const chunk = (sequence: number) => ({ sequence, stream: 'stdout' as const, data: `${sequence}`.padEnd(100, '.') })
  for (let i = 0; i < 10; i++) pending.add(chunk(i))
  t.ok(pending.spilling && existsSync(path), 'past 400 bytes, chunks go to the file')
  t.same(pending.head(8).map((c) => c.sequence), [0, 1], 'memory holds only what fits')
  pending.acknowledge(0)
  t.same(pending.head(8).map((c) => c.sequence), [1, 2], 'acknowledging one brings the next back from the file')
  pending.add(chunk(10))
  pending.acknowledge(8)
  t.same(pending.head(8).map((c) => c.sequence), [9, 10], 'later chunks queue behind the file, not ahead of it')
  t.notOk(pending.spilling || existsSync(path), 'the drained file is gone')
  pending.acknowledge(10)
  t.ok(pending.isEmpty)
  writeFileSync(join(dir, 'output-spill-old.jsonl'), '{}\n')
  writeFileSync(join(dir, 'state.json'), '{}')
  removeLeftoverSpills(dir)
  t.same(readdirSync(dir), ['state.json'], 'at start-up, spill files of a stopped agent are removed, nothing else')
})
