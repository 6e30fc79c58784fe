import type { FastifyRequest, FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import ucs2length from 'ajv/dist/runtime/ucs2length.js'
import { compileBodyValidator, compileTextValidator } from '../plugins/app/contract.ts'
import { MAX_CHUNK_CHARS, RunOutputPost } from '../schemas/runs.ts'

/**
 * ajv's own count of code points (a surrogate pair is one), so the bound means what the schema's
 * maxLength means. The module is CommonJS: Node hands its exports object over as the default.
 */
const codePoints = (ucs2length as unknown as { default: (text: string) => number }).default

/** RunOutputPost as ajv compiles it here: the same schema without `maxLength` on the chunks' text. */
function withoutTextBound(): TSchema {
  const copy = structuredClone(RunOutputPost) as unknown as { properties: { chunks: { items: { properties: { data: { maxLength?: number } } } } } }
  delete copy.properties.chunks.items.properties.data.maxLength
  return copy as unknown as TSchema
}

/**
 * The output route's validator. ajv checks `maxLength` by counting the code points of every chunk
 * char by char (about 3 ms of CPU per MiB of output); a text of at most MAX_CHUNK_CHARS UTF-16
 * units has at most that many code points, so only a longer one needs counting. The schema in the
 * contract keeps its maxLength; a text over it is refused with the issue ajv would raise
 * (400 VALIDATION_FAILED, field `chunks.<i>.data`).
 */
export const outputBodyValidator: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  if (httpPart !== 'body') return compileTextValidator(schema)
  const inner = compileBodyValidator(withoutTextBound())
  const validate = (body: unknown) => {
    if (!inner(body)) {
      validate.errors = inner.errors
      return false
    }
    const chunks = (body as { chunks: { data: string }[] }).chunks
    for (let i = 0; i < chunks.length; i++) {
      const text = chunks[i]!.data
      if (text.length > MAX_CHUNK_CHARS && codePoints(text) > MAX_CHUNK_CHARS) {
        validate.errors = [
          {
            instancePath: `/chunks/${i}/data`,
            schemaPath: '#/properties/chunks/items/properties/data/maxLength',
            keyword: 'maxLength',
            params: { limit: MAX_CHUNK_CHARS },
            message: `must NOT have more than ${MAX_CHUNK_CHARS} characters`,
          },
        ]
        return false
      }
    }
    validate.errors = null
    return true
  }
  validate.errors = null as typeof inner.errors
  return validate
}

type Done = (err: Error | null, body?: unknown) => void
/** A JSON parser with fastify's callback signature (its default parser is one). */
export type JsonParser = (request: FastifyRequest, body: string, done: Done) => void

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
/** A string literal at least this long (in bytes of JSON) is decoded on its own. */
const LONG = 1024
/** Where a long literal stood, in the JSON left to parse: NUL (which JSON text can only write as `\u0000`) and its index. */
const MARK = '\u0000'
const ESCAPED_NUL = '\\u0000'

/** The index of the quote closing the string literal opened at `open`, or -1 when it is not closed. */
function closingQuote(body: Buffer, open: number): number {
  let at = open
  for (;;) {
    at = body.indexOf(QUOTE, at + 1)
    if (at === -1) return -1
    let backslashes = 0
    while (body[at - 1 - backslashes] === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return at
  }
}

/** Whether the first byte after `end` that is not JSON whitespace is a colon (the literal was a key). */
function isKey(body: Buffer, end: number): boolean {
  let at = end + 1
  while (body[at] === 0x20 || body[at] === 0x0a || body[at] === 0x0d || body[at] === 0x09) at++
  return body[at] === COLON
}

/** Puts the long values back where their marks stand (objects and arrays of the parsed JSON). */
function restore(value: unknown, longs: readonly string[]): unknown {
  if (typeof value === 'string') return value.startsWith(MARK) ? longs[Number(value.slice(1))] : value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = restore(value[i], longs)
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    for (const key of Object.keys(record)) record[key] = restore(record[key], longs)
  }
  return value
}

/**
 * The JSON parser of the agent's run routes: fastify's own (the same errors, the same refusal of
 * `__proto__` and `constructor` keys), except that a long string value is decoded on its own.
 * Decoding a post of 16 × 32 KiB of output as one string means a 512 KiB string, which V8 places
 * in its own freshly mapped memory each time: about 2.5 ms of CPU per post, half of it the
 * kernel's page faults, for a string that is thrown away once parsed. Here each long literal
 * becomes its own string (JSON.parse of that literal: escapes decoded, invalid ones refused) and
 * the rest — keys, numbers, short strings, a few hundred bytes — is parsed with a mark where each
 * long value stood. Scanning for quotes finds exactly the string literals: outside a string, JSON
 * has no other quote, and UTF-8 never puts a quote or backslash byte inside a multi-byte
 * character. A body whose short part writes NUL itself is parsed whole, as before.
 */
export function jsonWithLongStrings(defaultParser: JsonParser) {
  return (request: FastifyRequest, body: Buffer, done: Done) => {
    const pieces: string[] = []
    const longs: string[] = []
    const whole = () => defaultParser(request, body.toString('utf8'), done)
    let from = 0
    let at = 0
    for (;;) {
      const open = body.indexOf(QUOTE, at)
      if (open === -1) break
      const close = closingQuote(body, open)
      if (close === -1) break
      if (close - open >= LONG && !isKey(body, close)) {
        const before = body.toString('utf8', from, open)
        if (before.includes(ESCAPED_NUL)) return whole()
        let value: string
        try {
          value = JSON.parse(body.toString('utf8', open, close + 1)) as string
        } catch {
          return whole() // not a valid literal: refused as fastify refuses it
        }
        pieces.push(before, JSON.stringify(`${MARK}${longs.length}`))
        longs.push(value)
        from = close + 1
      }
      at = close + 1
    }
    const rest = body.toString('utf8', from)
    if (longs.length === 0 || rest.includes(ESCAPED_NUL)) return whole()
    pieces.push(rest)
    defaultParser(request, pieces.join(''), (err: Error | null, parsed?: unknown) => (err ? done(err, undefined) : done(null, restore(parsed, longs))))
  }
}
