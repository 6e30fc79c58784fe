import t from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import { jsonWithLongStrings, type JsonParser } from '../../src/lib/output-body.ts'

/**
 * The agent's run routes parse JSON without decoding the whole body as one string: long string
 * values are decoded one by one. What comes out, and what is refused, must be what fastify's own
 * parser gives for the same bytes.
 */
const fastifyParser = Fastify().getDefaultJsonParser('error', 'error') as JsonParser
const parse = jsonWithLongStrings(fastifyParser)
const request = {} as FastifyRequest

function both(body: Buffer) {
  const outcome = (parser: (r: FastifyRequest, b: never, done: (err: Error | null, value?: unknown) => void) => void, input: unknown) => {
    let result: { err?: string; value?: unknown } | undefined
    parser(request, input as never, (err, value) => (result = err ? { err: (err as { code?: string }).code ?? err.message } : { value }))
    return result
  }
  return { ours: outcome(parse, body), theirs: outcome(fastifyParser, body.toString('utf8')) }
}

const long = (text: string) => text.repeat(Math.ceil(3000 / text.length))

t.test('the same values as fastify’s parser, whatever the long strings hold', async (t) => {
  const texts = [
    long('plain line\n'),
    long('quotes " and \\ backslashes \\" and \\\\'),
    long('é✓ 😀 multi-byte, a lone \ud800 surrogate, control \u0001 and tab\t'),
    `${long('x')}\\`, // ends in a backslash: its escaped form ends in \\"
    `${long('y')}"`, // ends in a quote
    long('NUL \u0000 inside a long text'),
    '\u0000short, with NUL',
  ]
  const bodies = [
    { chunks: texts.map((data, sequence) => ({ sequence, stream: 'stdout', data })) },
    { chunks: [{ data: texts[0], sequence: 0, stream: 'stderr' }], extra: [texts[1], [texts[2], { deep: texts[3] }], 1.5, null, true] },
    { [long('a long key ')]: texts[0], short: 'value', empty: '' },
    [texts[4], 'between', texts[5]],
    texts[0],
    // Short strings with escaped quotes and backslashes, then a long stretch of structure: a quote
    // taken for the end of a string would shift every string after it.
    { note: 'he said "stop"', path: 'C:\\dir\\', odd: 'one " quote', numbers: Array.from({ length: 600 }, (_, i) => i), data: texts[0] },
  ]
  for (const [i, value] of bodies.entries()) {
    for (const spaced of [false, true]) {
      const text = spaced ? JSON.stringify(value, null, 2).replaceAll('":', '" \n\t :') : JSON.stringify(value)
      const { ours, theirs } = both(Buffer.from(text))
      t.same(ours, theirs, `body ${i}${spaced ? ', with whitespace around colons' : ''}`)
      t.same(ours, { value }, `body ${i} parsed to what was sent`)
    }
  }
})

t.test('refused where fastify’s parser refuses, with the same error', async (t) => {
  const chunk = JSON.stringify(long('fine text\n'))
  const bodies = {
    'a raw control character in a long string': `{"chunks":[{"data":"${long('bad\u0001')}"}]}`,
    'a bad escape in a long string': `{"chunks":[{"data":"${long('bad \\x escape')}"}]}`,
    'an unterminated long string': `{"chunks":[{"data":${chunk.slice(0, -1)}}]}`,
    'garbage after a long value': `{"chunks":[{"data":${chunk}} x]}`,
    'a __proto__ key beside a long value': `{"__proto__":{"polluted":1},"data":${chunk}}`,
    'a constructor key beside a long value': `{"constructor":{"prototype":{"polluted":1}},"data":${chunk}}`,
    'a long value where a key belongs': `{${chunk}}`,
    'empty': '',
  }
  for (const [what, text] of Object.entries(bodies)) {
    const { ours, theirs } = both(Buffer.from(text))
    t.ok(theirs?.err, `fastify refuses ${what}`)
    t.same(ours, theirs, what)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
