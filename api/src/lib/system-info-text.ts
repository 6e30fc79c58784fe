import type { SystemInfoCategory } from '../schemas/sessions.ts'
import { formatSystemInfoValue, systemInfoCategoryTitle, systemInfoCell, systemInfoColumn, systemInfoLabel, systemInfoNote, type SystemInfoLang } from '@helpline/sdk'
import { exportWords, type ExportWords } from './export-words.ts'

export interface SystemInfoDocument {
  sessionNumber: string
  customerName: string
  collectedAt: Date
  hostname: string | null
  categories: SystemInfoCategory[]
}

const WIDTH = 78
/** A cell wider than this is cut with an ellipsis, so one long value does not stretch a whole table. */
const MAX_CELL = 60

// Display width: East Asian wide characters take two columns in a terminal or a monospace font.
const wide = /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/u
export function displayWidth(text: string): number {
  let n = 0
  for (const ch of text) n += wide.test(ch) ? 2 : 1
  return n
}
function pad(text: string, to: number): string {
  return text + ' '.repeat(Math.max(0, to - displayWidth(text)))
}
function clip(text: string, max = MAX_CELL): string {
  const flat = text.replace(/\s*\n\s*/g, ' ')
  if (displayWidth(flat) <= max) return flat
  let out = ''
  for (const ch of flat) {
    if (displayWidth(out + ch) > max - 1) break
    out += ch
  }
  return `${out}…`
}

function heading(title: string, underline: string): string[] {
  return [title, underline.repeat(Math.max(displayWidth(title), 3))]
}

/** Labels by key and raw values formatted in the export's language (dates in UTC: a file has no local time). */
function readable(fields: SystemInfoCategory['fields'], lang: SystemInfoLang): { label: string; value: string }[] {
  return fields.map((f) => ({ label: systemInfoLabel(f.key, f.label, lang), value: formatSystemInfoValue(f.value, f.kind, lang, 'UTC') }))
}

function readableTable(t: SystemInfoCategory['tables'][number], lang: SystemInfoLang): SystemInfoCategory['tables'][number] {
  return {
    ...t,
    title: systemInfoLabel(t.key, t.title, lang),
    columns: t.columns.map((c, i) => systemInfoColumn(t.columnKeys?.[i], c, lang)),
    rows: t.rows.map((r) => r.map((cell, i) => systemInfoCell(cell, t.columnKinds?.[i], t.columnKeys?.[i], lang, 'UTC').text)),
    note: systemInfoNote(t, lang),
  }
}

function keyValues(fields: { label: string; value: string }[]): string[] {
  const labelWidth = Math.min(Math.max(0, ...fields.map((f) => displayWidth(f.label))), 32)
  return fields.flatMap((f) => {
    const [first = '', ...rest] = f.value.split('\n')
    return [`${pad(f.label, labelWidth)} : ${first}`, ...rest.map((line) => `${' '.repeat(labelWidth + 3)}${line}`)]
  })
}

function table(t: SystemInfoCategory['tables'][number], none = '(none)'): string[] {
  const rows = t.rows.map((r) => r.map((cell) => clip(cell)))
  const widths = t.columns.map((c, i) => Math.max(displayWidth(c), ...rows.map((r) => displayWidth(r[i] ?? ''))))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]!))).join('  ').trimEnd()
  const out = [...heading(t.title, '-'), line(t.columns), line(widths.map((w) => '-'.repeat(w)))]
  if (rows.length === 0) out.push(none)
  for (const r of rows) out.push(line(r))
  if (t.note) out.push(`(${t.note})`)
  return out
}

/**
 * A snapshot as a text file a person can read and print: a title block, then every category
 * under its own heading, key/value lines aligned on the colon, tables with aligned columns.
 */
export function renderSystemInfoText(doc: SystemInfoDocument, words: ExportWords = exportWords('en')): string {
  const w = words.w
  const title = (c: SystemInfoCategory) => systemInfoCategoryTitle(c, words.lang)
  const out: string[] = [
    '='.repeat(WIDTH),
    w('sysinfoTitle'),
    '='.repeat(WIDTH),
    ...keyValues([
      { label: w('session'), value: doc.sessionNumber },
      { label: w('customer'), value: doc.customerName },
      { label: w('computer'), value: doc.hostname ?? w('unknown') },
      { label: w('collected'), value: words.time(doc.collectedAt.toISOString()) },
      { label: w('categories'), value: doc.categories.map(title).join(words.lang === 'ja' ? '、' : ', ') },
    ]),
    '',
  ]
  for (const category of doc.categories) {
    out.push('', '#'.repeat(WIDTH), `# ${title(category).toUpperCase()}`, '#'.repeat(WIDTH), '')
    if (!category.available) {
      out.push(w('notAvailable', { reason: category.reason ?? w('noReason') }))
      continue
    }
    if (category.fields.length > 0) out.push(...keyValues(readable(category.fields, words.lang)))
    for (const t of category.tables) out.push('', ...table(readableTable(t, words.lang), w('none')))
    if (category.fields.length === 0 && category.tables.length === 0) out.push(w('nothingReported'))
  }
  out.push('', w('sysinfoEnd', { n: doc.categories.length }), '')
  return out.join('\n')
}

