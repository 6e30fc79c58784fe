import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { Static, TSchema } from 'typebox'
import { AppError, badRequest } from '../errors.ts'
import { compileTextValidator } from '../plugins/app/contract.ts'
import { validationFailed } from '../plugins/app/errors.ts'

export interface UploadedFile {
  field: string
  name: string
  /**
   * The bytes in the pieces they arrived in, never copied into one buffer: the database takes
   * them piece by piece (a binary COPY), so a 1 MiB upload is not held twice.
   */
  content: Buffer[]
  /** Bytes in all pieces together. */
  size: number
  /** sha256 (hex) of the content, computed over the bytes as they arrived. */
  sha256: string
}

export interface UploadSpec<S extends TSchema> {
  /** The text fields, checked (and coerced from text) like a query string. */
  fields: S
  /** File fields and how many files each takes. */
  files: Record<string, number>
  /** The most all files together may weigh. */
  maxBytes: number
  /** The error for an upload over maxBytes; `atLeast` when reading stopped before the end. */
  tooLarge: (received: number, atLeast: boolean) => AppError
}

/**
 * How far past the limit an upload is still read, only to count it: the 413 can then say how
 * big the upload was. Beyond this the reading stops and the message says "more than".
 */
export const countBeyondLimitFactor = 8

/** Options for @fastify/multipart that match readUpload: it counts; busboy only backstops. */
export function multipartOptions(maxBytes: number, maxFiles: number) {
  return {
    // Names are checked, not silently cut to their last path segment.
    preservePath: true,
    throwFileSizeLimit: false,
    limits: {
      fileSize: maxBytes * countBeyondLimitFactor + 1,
      files: maxFiles,
      fields: 20,
      // A 4,000-character description in UTF-8 fits with room to spare.
      fieldSize: 64 * 1024,
      parts: maxFiles + 20,
      headerPairs: 100,
    },
  }
}

/** The rest of the body is not read: closing the connection keeps the client from sending it. */
function cutOff(err: AppError): AppError {
  return new AppError(err.statusCode, err.code, err.message, err.errors, { ...err.headers, connection: 'close' })
}

const multipartCodes: Record<string, [number, string, string]> = {
  FST_PARTS_LIMIT: [413, 'TOO_MANY_PARTS', 'The form has too many parts'],
  FST_FILES_LIMIT: [413, 'TOO_MANY_PARTS', 'The form has too many files'],
  FST_FIELDS_LIMIT: [413, 'TOO_MANY_PARTS', 'The form has too many fields'],
}

function toClientError(err: unknown): unknown {
  if (err instanceof AppError) return err
  const code = (err as { code?: unknown }).code
  const known = typeof code === 'string' ? multipartCodes[code] : undefined
  if (known) return new AppError(known[0], known[1], known[2])
  // Whatever else busboy or the socket raised mid-form is a malformed or abandoned body.
  return badRequest('INVALID_MULTIPART', `The multipart body could not be read: ${(err as Error).message ?? String(err)}`)
}

/**
 * The longest file chunk that may be a view of busboy's own reused buffer rather than of a network
 * read: bytes at the end of one read that looked like the start of the boundary and were not are
 * handed on as a view of its look-behind buffer, one byte shorter than CRLF, `--` and the boundary
 * (the boundary is part of the Content-Type header: at most two UTF-8 bytes a character). Busboy
 * 3.2 only ever writes boundary bytes there, at the same places, so such a view does not change,
 * but nothing promises that: chunks this small are copied as they arrive (a few bytes, rarely).
 * Every other chunk is a view of a network read that nothing writes to again, kept as it is.
 */
function reusedUpTo(contentType: string | undefined): number {
  return 2 * (contentType?.length ?? 0) + 4
}

/**
 * Reads a multipart/form-data body as it streams: text fields are collected and validated,
 * files are counted byte by byte against maxBytes and kept in memory only while the total fits.
 * Memory is bounded by maxBytes whatever the client sends.
 */
export async function readUpload<S extends TSchema>(
  request: FastifyRequest,
  spec: UploadSpec<S>,
  validate = compileTextValidator(spec.fields),
): Promise<{ fields: Static<S>; files: UploadedFile[] }> {
  if (!request.isMultipart()) {
    throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the form as multipart/form-data')
  }
  const raw: Record<string, unknown[]> = {}
  const files: UploadedFile[] = []
  const fieldErrors: Record<string, string> = {}
  const readCap = spec.maxBytes * countBeyondLimitFactor
  const reused = reusedUpTo(request.headers['content-type'])
  let total = 0
  try {
    for await (const part of request.parts()) {
      const allowed = spec.files[part.fieldname]
      if (part.type === 'field') {
        if (allowed !== undefined) fieldErrors[part.fieldname] = 'must be a file (a part with a filename)'
        else if (part.valueTruncated) fieldErrors[part.fieldname] = 'is too long'
        else (raw[part.fieldname] ??= []).push(part.value)
        continue
      }
      const chunks: Buffer[] = []
      let size = 0
      // Hashed as it streams, while each chunk is still in the cache: no second pass later.
      const hash = createHash('sha256')
      for await (const chunk of part.file as AsyncIterable<Buffer>) {
        total += chunk.length
        if (total > readCap) throw cutOff(spec.tooLarge(total, true))
        // Past the limit nothing more is kept; the rest is only counted.
        if (total <= spec.maxBytes) {
          // Kept as it is (no copy) unless busboy may write over it later: see reusedUpTo.
          chunks.push(chunk.length <= reused ? Buffer.from(chunk) : chunk)
          size += chunk.length
          hash.update(chunk)
        } else chunks.length = 0
      }
      if (part.file.truncated) throw cutOff(spec.tooLarge(total, true))
      if (allowed === undefined) {
        fieldErrors[part.fieldname] = 'is not allowed'
      } else if (total <= spec.maxBytes) {
        files.push({ field: part.fieldname, name: part.filename, content: chunks, size, sha256: hash.digest('hex') })
      }
    }
  } catch (err) {
    throw toClientError(err)
  }
  if (total > spec.maxBytes) throw spec.tooLarge(total, false)
  for (const [field, most] of Object.entries(spec.files)) {
    const n = files.filter((f) => f.field === field).length
    if (n > most) fieldErrors[field] = most === 1 ? 'takes one file' : `takes at most ${most} files`
  }
  if (Object.keys(fieldErrors).length > 0) {
    const [first] = Object.entries(fieldErrors)
    throw badRequest('VALIDATION_FAILED', `Invalid body: ${first![0]} ${first![1]}`, fieldErrors)
  }
  // One value is a scalar, a repeated field a list; the schema's coercion settles the rest.
  const fields: Record<string, unknown> = Object.fromEntries(
    Object.entries(raw).map(([name, values]) => [name, values.length === 1 ? values[0] : values]),
  )
  if (!validate(fields)) throw validationFailed(validate.errors ?? [], 'body')
  return { fields: fields as Static<S>, files }
}
