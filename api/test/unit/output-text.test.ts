import t from 'tap'
import { storableText } from '../../src/services/runs.service.ts'

t.test('output text as the database and JSON can hold it', async (t) => {
  const plain = 'hello\nwörld 😀\n'
  t.equal(storableText(plain), plain, 'text without NUL or lone surrogates is kept as it is')
  t.equal(storableText('a\u0000b\u0000'), 'a\uFFFDb\uFFFD', 'NUL becomes U+FFFD')
  t.equal(storableText('x\uD800y\uDC00z'), 'x\uFFFDy\uFFFDz', 'a lone high or low surrogate becomes U+FFFD')
  t.equal(storableText('\uD83D\uDE00\uD83D'), '\uD83D\uDE00\uFFFD', 'a pair is kept, a half at the end is not')
  t.equal(storableText(''), '')
})
