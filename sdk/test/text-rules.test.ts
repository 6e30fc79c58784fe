import t from 'tap'
import { cleanText, fileNameProblem, fileNameRules, hasControlCharacters, quoteName, type FileNameProblemCode } from '@helpline/sdk'

/**
 * The rules the server and the agent share for file names and for text shown to a customer.
 * Each row: a name and the rule it breaks (undefined: the agent writes it).
 */
const names: [string, FileNameProblemCode | undefined][] = [
  ['run.sh', undefined],
  ['日本語 データ.txt', undefined],
  ['say "hi".txt', undefined],
  ['.hidden', undefined],
  ['a.b.c', undefined],
  ['CONSOLE.txt', undefined],
  ['com10.log', undefined],
  ['nullable.sh', undefined],
  ['a'.repeat(252) + '.sh', undefined],
  ['', 'empty'],
  ['a'.repeat(256), 'too_long'],
  ['é'.repeat(128), 'too_long'],
  ['../../../../tmp/x', 'separator'],
  ['dir/file', 'separator'],
  ['C:\\Windows\\evil.txt', 'separator'],
  ['/etc/passwd', 'separator'],
  ['.', 'dots'],
  ['..', 'dots'],
  ['my..file', 'dots'],
  ['a\u0000b', 'control'],
  ['tab\there', 'control'],
  ['line\nbreak', 'control'],
  ['esc\u001b[2Kx', 'control'],
  ['del\u007f', 'control'],
  ['c1\u0085x', 'control'],
  ['csi\u009bx', 'control'],
  ['invoice\u202egnp.sh', 'bidi'],
  ['lre\u202ax', 'bidi'],
  ['isolate\u2066x\u2069', 'bidi'],
  ['lone\ud800', 'unicode'],
  ['CON', 'reserved'],
  ['con.txt', 'reserved'],
  ['Nul.tar.gz', 'reserved'],
  ['AUX', 'reserved'],
  ['prn.log', 'reserved'],
  ['COM1', 'reserved'],
  ['lpt9.sh', 'reserved'],
  ['COM1 .log', 'reserved'],
  ['run.sh.', 'trailing'],
  ['run.sh ', 'trailing'],
]

t.test('file names: the rules table decides, one rule per problem', async (t) => {
  for (const [name, code] of names) t.equal(fileNameProblem(name)?.code, code, `${quoteName(name)}: ${code ?? 'allowed'}`)
  const codes = new Set(fileNameRules.map((r) => r.code))
  for (const [, code] of names) if (code) t.ok(codes.has(code), `${code} is a rule`)
  t.equal(codes.size, fileNameRules.length, 'each rule has its own code')
  for (const rule of fileNameRules) t.ok(names.some(([, c]) => c === rule.code), `rule ${rule.code} is exercised by this table`)
})

t.test('text shown to a customer: control and bidi characters go, newlines and tabs stay', async (t) => {
  t.equal(cleanText('\u001b[2K\rApprove? (this is safe)'), '[2KApprove? (this is safe)', 'an erase-line and carriage return cannot rewrite a line')
  t.equal(cleanText('title\u001b]0;owned\u0007 here'), 'title]0;owned here', 'an OSC (window title) sequence loses its ESC and BEL')
  t.equal(cleanText('link \u001b]8;;http://evil\u001b\\x\u001b]8;;\u001b\\'), 'link ]8;;http://evil\\x]8;;\\', 'an OSC 8 hyperlink is shown, not followed')
  t.equal(cleanText('c1 \u009b2J csi \u0090dcs\u009c'), 'c1 2J csi dcs', 'C1 controls (8-bit CSI, DCS, ST) removed')
  t.equal(cleanText('gnp.\u202eexe\u202c \u2067rtl\u2069'), 'gnp.exe rtl', 'bidi overrides and isolates removed')
  t.equal(cleanText('two\nlines\tand a tab\r\n'), 'two\nlines\tand a tab\n', 'newline and tab kept; CR of CRLF dropped')
  t.equal(cleanText('nul\u0000 del\u007f bs\b'), 'nul del bs', 'NUL, DEL and backspace removed')
  t.equal(cleanText('日本語 — “quotes” ✓ 👍'), '日本語 — “quotes” ✓ 👍', 'ordinary Unicode untouched')
})

t.test('names with control characters are found; quoting shows them without acting on them', async (t) => {
  t.ok(hasControlCharacters('Carla\u001b]0;x\u0007'))
  t.ok(hasControlCharacters('two\nlines'), 'a name has one line')
  t.notOk(hasControlCharacters('two\nlines\tand tab', { multiline: true }), 'notes may have lines and tabs')
  t.ok(hasControlCharacters('notes\r\u001b[2J', { multiline: true }), 'but no other control')
  t.ok(hasControlCharacters('abc\u2066'), 'an isolate')
  t.notOk(hasControlCharacters('Ådne Øvrebø 日本'))
  t.equal(quoteName('../x\u001b[2K\u202e"q"\\'), '"../x\\u001b[2K\\u202e\\"q\\"\\\\"')
  t.equal(quoteName('a\ud800b'), '"a\\ud800b"', 'a lone surrogate is written out')
})
