import { PGlite, parse, protocol, types, type messages, type ParserOptions, type QueryOptions, type Results, type Transaction } from '@electric-sql/pglite'

/**
 * PGlite that keeps each statement text it is asked to run as a named prepared statement, and
 * runs it again as one protocol exchange.
 *
 * Why: PGlite's own `query` sends every statement as six separate exchanges with its engine
 * (Parse, Describe statement, Bind, Describe portal, Execute, Sync), each a pass through its
 * JavaScript protocol code and the engine's main loop, and parses and plans the text every time.
 * With the server's statement texts constant, most of that is repeated work: on the batch
 * benchmark (POST → every agent holds its command, 100 sessions) PGlite was two thirds of the
 * server's CPU. Here a text is parsed and described once (its parameter types learnt), then each
 * run is Bind + Describe portal + Execute + Sync in one buffer: one pass, no parse analysis, and
 * PostgreSQL's plan cache may reuse a generic plan.
 *
 * Answers are PGlite's own: the same messages read as its `parseResults` reads them (`results`
 * below), parameters through its serializers by the types the engine reported, errors are its DatabaseError with `query`,
 * `params` and `queryOptions` set as its `query` sets them. Drizzle only calls `query` and
 * `transaction` (whose `query` is routed here too); `exec`, `sql` and blob (COPY /dev/blob)
 * queries take PGlite's own path.
 *
 * At most STATEMENTS texts are kept; the least recently used is closed (with the next exchange,
 * before its Bind, so an error later in that buffer cannot skip it). Prepared statements are not
 * transactional: a ROLLBACK keeps them, which is what is wanted here.
 */
export class PreparedPGlite extends PGlite {
  /** How many statement texts stay prepared (the server uses about a hundred constant ones). */
  static readonly STATEMENTS = 256

  readonly #statements = new Map<string, { name: string; types: number[] }>()
  #closing: Uint8Array[] = []
  #named = 0

  override async query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    if (!preparable(text, options)) return super.query<T>(text, params, options)
    await this._checkReady()
    return this._runExclusiveTransaction(async () => {
      const result = await this.#run<T>(text, params ?? [], options)
      // PGlite's own query writes its file system through after a statement outside a transaction.
      await this.syncToFs()
      return result
    })
  }

  override async transaction<T>(callback: (tx: Transaction) => Promise<T>): Promise<T> {
    return super.transaction((tx) => {
      const fast: Transaction = Object.create(tx)
      fast.query = async <R>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<R>> => {
        if (tx.closed) throw new Error('Transaction is closed')
        if (!preparable(text, options)) return tx.query<R>(text, params, options)
        return this.#run<R>(text, params ?? [], options)
      }
      return callback(fast)
    })
  }

  /** Runs `text` as its prepared statement (preparing it first when new), under PGlite's query lock. */
  #run<T>(text: string, params: unknown[], options: QueryOptions | undefined): Promise<Results<T>> {
    return this._runExclusiveQuery(async () => {
      try {
        const statement = this.#statements.get(text) ?? (await this.#prepare(text, options))
        // Most recently used last, so the first entry is the one to close.
        this.#statements.delete(text)
        this.#statements.set(text, statement)
        const values = params.map((value, i) => {
          if (value === null || value === undefined) return null
          const type = statement.types[i]!
          const serialize = options?.serializers?.[type] ?? this.serializers[type]
          return serialize ? serialize(value) : String(value)
        })
        const closing = this.#closing
        this.#closing = []
        const exchange = bindExchange(closing, statement.name, values)
        const { messages } = await this.execProtocol(exchange, { syncToFs: false, ...(options?.onNotice ? { onNotice: options.onNotice } : {}) })
        return results<T>(messages, this.parsers, options)
      } catch (error) {
        throw withQuery(error, text, params, options)
      }
    })
  }

  /** Parse + Describe statement: the statement named, its parameter types learnt. */
  async #prepare(text: string, options: QueryOptions | undefined): Promise<{ name: string; types: number[] }> {
    const name = `hl_${(this.#named++).toString(36)}`
    const exchange = Buffer.concat([
      protocol.serialize.parse({ name, text, ...(options?.paramTypes ? { types: options.paramTypes } : {}) }),
      protocol.serialize.describe({ type: 'S', name }),
      protocol.serialize.sync(),
    ])
    const { messages } = await this.execProtocol(exchange, { syncToFs: false })
    const statement = { name, types: parse.parseDescribeStatementResults(messages) }
    if (this.#statements.size >= PreparedPGlite.STATEMENTS) {
      const [oldest, kept] = this.#statements.entries().next().value as [string, { name: string }]
      this.#statements.delete(oldest)
      this.#closing.push(protocol.serialize.close({ type: 'S', name: kept.name }))
    }
    return statement
  }
}

/** A parameter as PGlite's serializers give it: text, bytes (sent in binary format), or SQL NULL. */
type BindValue = string | ArrayBuffer | ArrayBufferView | null

/** Describe portal + Execute (all rows) + Sync: what follows every Bind here. */
const AFTER_BIND = Buffer.concat([protocol.serialize.describe({ type: 'P' }), protocol.serialize.execute({}), protocol.serialize.sync()])

/**
 * The statements to close, then Bind (unnamed portal, `statement`, `values`, text results) +
 * Describe portal + Execute + Sync, written once into one buffer of the right size: the bytes
 * PGlite's serializer writes (a test compares them), without its writer growing and copying
 * itself for every long text (a 512 KiB output post was ~10 % of the server's CPU that way).
 */
export function bindExchange(closing: readonly Uint8Array[], statement: string, values: readonly BindValue[]): Buffer {
  const bytes = values.map((v) => (v === null || typeof v === 'string' ? v : ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v)))
  const lengths = bytes.map((v) => (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.byteLength))
  const closed = closing.reduce((n, c) => n + c.byteLength, 0)
  // 'B', length, portal "" and the statement's name (C strings), formats, values, result format.
  const body = 4 + 1 + Buffer.byteLength(statement, 'utf8') + 1 + 2 + 2 * values.length + 2 + lengths.reduce((n, l) => n + 4 + l, 0) + 2
  const out = Buffer.allocUnsafe(closed + 1 + body + AFTER_BIND.length)
  let at = 0
  for (const c of closing) {
    out.set(c, at)
    at += c.byteLength
  }
  at = out.writeUInt8(0x42, at)
  at = out.writeInt32BE(body, at)
  at = out.writeUInt8(0, at) // the unnamed portal
  at += out.write(statement, at, 'utf8')
  at = out.writeUInt8(0, at)
  at = out.writeUInt16BE(values.length, at)
  for (const v of bytes) at = out.writeInt16BE(v === null || typeof v === 'string' ? 0 : 1, at)
  at = out.writeUInt16BE(values.length, at)
  for (const [i, v] of bytes.entries()) {
    at = out.writeInt32BE(v === null ? -1 : lengths[i]!, at)
    if (typeof v === 'string') at += out.write(v, at, lengths[i]!, 'utf8')
    else if (v !== null) {
      out.set(v, at)
      at += v.byteLength
    }
  }
  at = out.writeInt16BE(0, at) // results as text
  AFTER_BIND.copy(out, at)
  return out
}

/** Texts PGlite's own path must run: blob transfers (COPY … '/dev/blob'), which it sets up around the statement. */
function preparable(text: string, options: QueryOptions | undefined): boolean {
  return !options?.blob && !text.includes('/dev/blob')
}

/** PGlite's `query` adds the statement to its errors; so does ours. */
function withQuery(error: unknown, text: string, params: unknown[], options: QueryOptions | undefined): unknown {
  if (error instanceof Error && 'code' in error) Object.assign(error, { query: text, params, queryOptions: options })
  return error
}

/** Commands whose count PGlite reports as `affectedRows` (its `parseResults`). */
const COUNTED = new Set(['INSERT', 'UPDATE', 'DELETE', 'COPY', 'MERGE'])

/**
 * PGlite's `parseResults` for the one statement of an exchange, without its per-call copy of every
 * parser (`{...this.parsers, ...options.parsers}`: some two hundred entries, once per statement,
 * since drizzle passes parsers with each; 13 % of the server's CPU on the batch benchmark). The
 * same precedence: the query's parsers, then the instance's, then PGlite's defaults.
 */
function results<T>(answer: messages.BackendMessage[], own: ParserOptions, options: QueryOptions | undefined): Results<T> {
  const given = options?.parsers
  const parserOf = (type: number) => given?.[type] ?? own[type] ?? types.parsers[type]
  const arrays = options?.rowMode === 'array'
  let fields: { name: string; dataTypeID: number }[] = []
  let parsers: ((value: string | null) => unknown)[] = []
  const rows: unknown[] = []
  for (const message of answer) {
    if (message.name === 'rowDescription') {
      fields = (message as messages.RowDescriptionMessage).fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }))
      parsers = fields.map(({ dataTypeID }) => {
        const parser = parserOf(dataTypeID)
        return (value: string | null) => (value === null ? null : parser ? parser(value, dataTypeID) : value)
      })
    } else if (message.name === 'dataRow') {
      const values = (message as messages.DataRowMessage).fields
      if (arrays) rows.push(values.map((value, i) => parsers[i]!(value)))
      else {
        const row: Record<string, unknown> = {}
        for (let i = 0; i < values.length; i++) row[fields[i]!.name] = parsers[i]!(values[i]!)
        rows.push(row)
      }
    } else if (message.name === 'commandComplete') {
      const words = (message as messages.CommandCompleteMessage).text.split(' ')
      const command = words[0]!
      const count = parseInt(words[words.length - 1]!, 10)
      const affectedRows = COUNTED.has(command) ? count : 0
      return { rows, fields, command, affectedRows, ...(Number.isNaN(count) ? {} : { rowCount: count }) } as Results<T>
    }
  }
  return { affectedRows: 0, rows: [], fields: [] } as Results<T>
}
