/**
 * The table, line by line: each bench reports the lines it measured here; each line is
 * printed as it comes, and `bench/run.ts` prints them all again as one table at the end.
 *
 * A line is `ok` when its figure meets the target and nothing went wrong; `falls short` otherwise;
 * `reported` when it has no target (the 50,000-agent fleet). `errors` counts what went wrong while
 * measuring (failed requests, lost commands): a bench with errors makes `npm run bench` exit 1.
 */
export interface Line {
  /** The line of the table, e.g. "dispatch at 1,000 agents". */
  what: string
  /** "PGlite", "PostgreSQL", or "—" for lines that do not depend on the database. */
  db: string
  /** The "today" figure. */
  today: string
  /** Today's figure, measured now. */
  figure: string
  target: string
  /** undefined: no target (reported only). */
  ok: boolean | undefined
  errors: number
}

const QUICK = process.env.BENCH_QUICK === '1'
const lines: Line[] = []
/** Benches that threw instead of reporting. */
const failures: string[] = []

export function verdict(line: Line): string {
  if (line.errors > 0) return `falls short (${line.errors} error${line.errors === 1 ? '' : 's'})`
  if (line.ok === undefined) return 'reported'
  return line.ok ? 'ok' : 'falls short'
}

export function report(line: Line): void {
  lines.push(line)
  console.log(`  ${line.what} [${line.db}]: ${line.figure}   today ${line.today}   target ${line.target}   ${verdict(line)}`)
}

export function failed(bench: string, err: unknown): void {
  failures.push(`${bench}: ${err instanceof Error ? err.message : String(err)}`)
}

/** Errors reported by lines, plus benches that threw. */
export function errorCount(): number {
  return lines.reduce((n, l) => n + l.errors, 0) + failures.length
}

/** The summary: one table of every line reported, then the benches that failed. */
export function summary(): string {
  const header = ['what', 'db', 'today (issue)', 'now', 'target', '']
  const rows = lines.map((l) => [l.what, l.db, l.today, l.figure, l.target, verdict(l)])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd()
  const out = [
    `\n## summary${QUICK ? ' (BENCH_QUICK=1: small sizes, figures are not the issue\u2019s)' : ''}`,
    fmt(header),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...rows.map(fmt),
  ]
  const counts = { ok: 0, short: 0, reported: 0 }
  for (const l of lines) {
    const v = verdict(l)
    if (v === 'ok') counts.ok++
    else if (v === 'reported') counts.reported++
    else counts.short++
  }
  out.push(`${lines.length} lines: ${counts.ok} ok, ${counts.short} falling short, ${counts.reported} reported only; errors ${errorCount()}`)
  for (const f of failures) out.push(`FAILED ${f}`)
  return out.join('\n')
}

/** `1234567` → `1,234,567`. */
export const thousands = (n: number) => Math.round(n).toLocaleString('en-US')

/** Milliseconds, readable: `0.42 ms`, `12.3 ms`, `1.52 s`. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`
}
