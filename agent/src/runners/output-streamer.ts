import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'

export interface OutputChunk {
  sequence: number
  stream: 'stdout' | 'stderr' | 'info'
  data: string
}

/** What the server said to one post of output chunks. */
export type OutputAnswer =
  /** It holds every chunk of the post now (stored or already had it); `status` cancelled: stop the script. */
  | { kind: 'stored'; status: string }
  /** 409 OUTPUT_SEQUENCE_GAP: it holds every chunk below `expected` and nothing from there. */
  | { kind: 'gap'; expected: number }
  /** 409 RUN_FINISHED (or the run is gone): it takes no more output for this run. */
  | { kind: 'closed' }

/** Posts chunks; retries network failures and 5xx itself (until it gets an answer or the agent stops). */
export type PostOutput = (chunks: OutputChunk[]) => Promise<OutputAnswer>

const SPILL_PREFIX = 'output-spill-'
const PIECE_CHARS = 32 * 1024
/** 8 × 32 Ki characters: a post stays far below the server's body limit whatever the output holds. */
const MAX_CHUNKS_PER_POST = 8
/**
 * Unacknowledged output kept in memory; the rest waits in a file. A script keeps at most 1 MiB of
 * output (script-exec.ts), so a bound above that would never be reached.
 */
export const DEFAULT_MEMORY_LIMIT_BYTES = 256 * 1024

const weight = (c: OutputChunk) => Buffer.byteLength(c.data, 'utf8') + 64

/**
 * The chunks the server has not acknowledged yet, in sequence order. The one guarantee: a chunk
 * leaves only once acknowledged, and memory stays bounded however long the server is away. Past
 * the limit, chunks are appended to a spill file (created exclusively, mode 0600, in the agent's
 * state folder) and read back in order; the file is removed as soon as it is drained.
 */
export class PendingChunks {
  private memory: OutputChunk[] = []
  private memoryBytes = 0
  private fd: number | undefined
  /** Byte length of each chunk in the file not read back yet, oldest first. */
  private spilled: number[] = []
  private readAt = 0
  private writeAt = 0

  constructor(
    private readonly spillPath: string,
    private readonly limitBytes: number,
  ) {}

  get isEmpty(): boolean {
    return this.memory.length === 0 && this.spilled.length === 0
  }

  /** Whether some chunks wait on disk right now. */
  get spilling(): boolean {
    return this.spilled.length > 0
  }

  add(chunk: OutputChunk) {
    // Once anything is on disk, later chunks go there too: the file is read back before them.
    if (this.spilled.length === 0 && this.memoryBytes + weight(chunk) <= this.limitBytes) {
      this.memory.push(chunk)
      this.memoryBytes += weight(chunk)
      return
    }
    if (this.fd === undefined) {
      mkdirSync(dirname(this.spillPath), { recursive: true, mode: 0o700 })
      this.fd = openSync(this.spillPath, 'wx+', 0o600)
    }
    const line = Buffer.from(`${JSON.stringify(chunk)}\n`, 'utf8')
    writeSync(this.fd, line, 0, line.length, this.writeAt)
    this.writeAt += line.length
    this.spilled.push(line.length)
  }

  /** The oldest unacknowledged chunks, at most `n`. */
  head(n: number): OutputChunk[] {
    this.refill()
    return this.memory.slice(0, n)
  }

  first(): number | undefined {
    this.refill()
    return this.memory[0]?.sequence
  }

  /** The server holds every chunk up to `sequence`: they go. */
  acknowledge(sequence: number) {
    do {
      while (this.memory[0] && this.memory[0].sequence <= sequence) this.memoryBytes -= weight(this.memory.shift()!)
      this.refill()
    } while (this.memory[0] && this.memory[0].sequence <= sequence)
  }

  /** Reads chunks back from the file while there is room; removes the file once it is drained. */
  private refill() {
    while (this.spilled.length > 0 && this.fd !== undefined) {
      const length = this.spilled[0]!
      if (this.memory.length > 0 && this.memoryBytes + length > this.limitBytes) return
      const buf = Buffer.alloc(length)
      readSync(this.fd, buf, 0, length, this.readAt)
      const chunk = JSON.parse(buf.toString('utf8')) as OutputChunk
      this.readAt += length
      this.spilled.shift()
      this.memory.push(chunk)
      this.memoryBytes += weight(chunk)
    }
    if (this.spilled.length === 0) this.removeFile()
  }

  /** Forgets everything (the run is closed) and removes the file. */
  clear() {
    this.memory = []
    this.memoryBytes = 0
    this.spilled = []
    this.removeFile()
  }

  private removeFile() {
    if (this.fd === undefined) return
    closeSync(this.fd)
    this.fd = undefined
    this.readAt = this.writeAt = 0
    rmSync(this.spillPath, { force: true })
  }
}

/** Spill files of an agent that stopped mid-run (its runs are reported lost at start-up): removed. */
export function removeLeftoverSpills(dir: string) {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) if (name.startsWith(SPILL_PREFIX)) rmSync(join(dir, name), { force: true })
}

export interface StreamerOptions {
  post: PostOutput
  /** The agent's state folder: a spill file goes there when the server is away long enough. */
  spillDir: string
  /** Seal and post what was written at least this often (ms). */
  flushMs: number
  memoryLimitBytes?: number
  /** The server says the run was cancelled: stop the script (its remaining output is still sent). */
  onCancelled(): void
}

/**
 * Streams one run's output to the server in numbered chunks. The guarantee: every chunk the
 * script wrote reaches the server exactly once and in order, or the server said it takes no more
 * (the run's end was recorded); nothing the server did not acknowledge is dropped, and the script
 * is never held up by the server: `push` only buffers. Writes are merged briefly (so a chatty
 * script does not become thousands of posts), posted one post at a time (so they arrive in
 * order) and retried with the same numbers until acknowledged (so the server stores each once).
 */
export class OutputStreamer {
  private readonly pending: PendingChunks
  /** The chunk still being written to: not numbered until sealed. */
  private tail: Omit<OutputChunk, 'sequence'> | undefined
  private next = 0
  private timer: NodeJS.Timeout | undefined
  private worker: Promise<void> | undefined
  private given = false
  readonly failures: string[] = []

  constructor(private readonly options: StreamerOptions) {
    const spillPath = join(options.spillDir, `${SPILL_PREFIX}${randomBytes(8).toString('hex')}.jsonl`)
    this.pending = new PendingChunks(spillPath, options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES)
  }

  /** Chunks produced so far (sealed), which is what `finish` reports as outputChunks. */
  get produced(): number {
    return this.next
  }

  push(stream: OutputChunk['stream'], raw: string) {
    // The server's text columns cannot hold NUL; what the customer's script printed is kept otherwise.
    const text = raw.includes('\u0000') ? raw.replaceAll('\u0000', '\uFFFD') : raw
    for (let i = 0; i < text.length; i += PIECE_CHARS) {
      const piece = text.slice(i, i + PIECE_CHARS)
      // Consecutive writes to one stream become one chunk while it stays small.
      if (this.tail && this.tail.stream === stream && this.tail.data.length + piece.length <= PIECE_CHARS) {
        this.tail.data += piece
      } else {
        this.seal()
        this.tail = { stream, data: piece }
      }
    }
    this.timer ??= setTimeout(() => this.flush(), this.options.flushMs)
  }

  /** Numbers the chunk being written and starts posting. */
  flush() {
    clearTimeout(this.timer)
    this.timer = undefined
    this.seal()
    this.kick()
  }

  /**
   * After the script ended: resolves once the server holds every chunk (complete: finish may
   * report outputChunks), or will take no more of them (complete: false).
   */
  async close(): Promise<{ produced: number; complete: boolean }> {
    this.flush()
    while (this.worker) await this.worker
    this.pending.clear()
    return { produced: this.next, complete: !this.given }
  }

  private seal() {
    if (!this.tail) return
    this.pending.add({ sequence: this.next++, ...this.tail })
    this.tail = undefined
  }

  private kick() {
    if (this.worker || this.given || this.pending.isEmpty) return
    this.worker = this.drain().finally(() => {
      this.worker = undefined
      this.kick()
    })
  }

  private async drain() {
    while (!this.given && !this.pending.isEmpty) {
      const batch = this.pending.head(MAX_CHUNKS_PER_POST)
      const first = batch[0]!.sequence
      let answer: OutputAnswer
      try {
        answer = await this.options.post(batch)
      } catch (err) {
        // Not an outage (those are retried below us): a refusal no retry will change, or the agent stops.
        return this.giveUp(`output not sent: ${err instanceof Error ? err.message : String(err)}`)
      }
      if (answer.kind === 'closed') return this.giveUp()
      if (answer.kind === 'stored') {
        this.pending.acknowledge(batch[batch.length - 1]!.sequence)
        if (answer.status === 'cancelled') this.options.onCancelled()
      } else if (answer.expected > first) {
        // The server already holds what comes before `expected`: send again from there.
        this.pending.acknowledge(answer.expected - 1)
      } else {
        return this.giveUp(`the server lost output from chunk ${answer.expected}; chunks before ${first} were acknowledged earlier`)
      }
    }
  }

  private giveUp(failure?: string) {
    if (failure) this.failures.push(failure)
    this.given = true
    this.pending.clear()
  }
}
