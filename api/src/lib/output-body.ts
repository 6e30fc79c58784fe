import type { FastifySchemaCompiler } from 'fastify'
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
