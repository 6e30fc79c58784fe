import type { Db } from './client.ts'

/**
 * A value of one column in PostgreSQL's binary COPY format; `null` is SQL NULL. `bytes` may be one
 * buffer or the pieces a value arrived in (an upload's chunks), sent one after the other uncopied.
 */
export type CopyValue = { uuid: string } | { int4: number } | { text: string } | { bytes: Uint8Array | readonly Uint8Array[] } | null

/** What the COPY needs from postgres.js: its tagged-template query with `.writable()`. */
interface PostgresJsTransaction {
  unsafe(statement: string): PromiseLike<unknown> & { writable(): Promise<NodeJS.WritableStream & { on(event: 'error', fn: (err: unknown) => void): unknown }> }
}

/** postgres.js's query settles through these two (src/query.js); we listen to both. */
interface Settling {
  resolve(value: unknown): void
  reject(err: unknown): void
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')

/**
 * The postgres.js transaction under a drizzle transaction, when it runs on postgres.js; undefined
 * on PGlite (or should drizzle ever keep it elsewhere: the caller then inserts as before).
 */
export function postgresJsOf(tx: Db | object): PostgresJsTransaction | undefined {
  const client = (tx as { session?: { client?: { unsafe?: unknown; savepoint?: unknown } } }).session?.client
  return typeof client?.unsafe === 'function' && typeof client.savepoint === 'function' ? (client as unknown as PostgresJsTransaction) : undefined
}

/** A byte value (or piece of one) at least this long is written on its own instead of copied together with its neighbours. */
const SEPARATE = 4 * 1024

/** The rows as the binary COPY stream: small parts copied together, large byte values passed as they are. */
function encode(rows: readonly CopyValue[][]): Buffer[] {
  const out: Buffer[] = []
  let small: Buffer[] = [SIGNATURE, Buffer.alloc(8)]
  const int32 = (n: number) => {
    const b = Buffer.allocUnsafe(4)
    b.writeInt32BE(n, 0)
    return b
  }
  for (const row of rows) {
    const count = Buffer.allocUnsafe(2)
    count.writeInt16BE(row.length, 0)
    small.push(count)
    for (const value of row) {
      if (value === null) small.push(int32(-1))
      else if ('uuid' in value) small.push(int32(16), Buffer.from(value.uuid.replace(/-/g, ''), 'hex'))
      else if ('int4' in value) small.push(int32(4), int32(value.int4))
      else if ('text' in value) {
        const text = Buffer.from(value.text, 'utf8')
        small.push(int32(text.length), text)
      } else {
        const pieces = value.bytes instanceof Uint8Array ? [value.bytes] : value.bytes
        small.push(int32(pieces.reduce((sum, piece) => sum + piece.byteLength, 0)))
        for (const piece of pieces) {
          const view = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)
          if (piece.byteLength < SEPARATE) small.push(view)
          else {
            if (small.length > 0) out.push(Buffer.concat(small))
            small = []
            out.push(view)
          }
        }
      }
    }
  }
  small.push(Buffer.from([0xff, 0xff]))
  out.push(Buffer.concat(small))
  return out
}

/**
 * Writes rows with `COPY table (columns) FROM STDIN (FORMAT binary)` on a postgres.js
 * transaction: byte values travel as they are, where a parameter would take them as text (hex,
 * or base64 to decode), about 40 % more to send and to parse on each side.
 *
 * Settled by the statement's own outcome: postgres.js 3.4 never finishes the stream when the
 * server refuses the data after it was all sent (porsager/postgres#1173: the caller would hang and
 * the transaction stay open), so the query's own resolve and reject are watched instead. The
 * promise rejects with PostgreSQL's error (its code, e.g. 23505), and the transaction rolls back.
 */
export async function copyBinary(tx: PostgresJsTransaction, table: string, columns: readonly string[], rows: readonly CopyValue[][]): Promise<void> {
  const query = tx.unsafe(`copy ${table} (${columns.join(', ')}) from stdin with (format binary)`)
  const settling = query as unknown as Settling
  let answers = 0
  const done = new Promise<void>((resolve, reject) => {
    const { resolve: resolveQuery, reject: rejectQuery } = settling
    // The first answer is the stream (CopyInResponse), the second the end of the statement.
    settling.resolve = (value) => {
      resolveQuery(value)
      if (++answers === 2) resolve()
    }
    settling.reject = (err) => {
      rejectQuery(err)
      reject(err)
    }
  })
  // Awaited below; an error before the stream is handed out rejects `writable()` first.
  done.catch(() => {})
  const stream = await query.writable()
  // The stream is destroyed with the same error that rejects `done`.
  stream.on('error', () => {})
  const parts = encode(rows)
  for (const part of parts) stream.write(part)
  stream.end()
  await done
}
