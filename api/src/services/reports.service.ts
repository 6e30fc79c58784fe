import { asc, eq, inArray } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { chatMessages, consentRequests, scriptOutputChunks, scriptRuns, sessionEvents, systemInfoSnapshots } from '../db/schema.ts'
import { exportWords, type ExportLang, type ExportWords } from '../lib/export-words.ts'
import { displayWidth } from '../lib/system-info-text.ts'
import type { SessionReport } from '../schemas/access.ts'
import type { Principal } from './auth.service.ts'
import type { ChatService } from './chat.service.ts'
import type { ConsentsService } from './consents.service.ts'
import { toScriptRun } from './runs.service.ts'
import { toSessionEvent, type SessionsService } from './sessions.service.ts'
import { snapshotSummaryColumns, toSummary } from './system-info.service.ts'

/** One line per event: when, what (in words when we have them), who, and its details in a short key=value form. */
function eventLine(e: SessionReport['timeline'][number], words: ExportWords, customerName: string): string {
  const details = Object.entries(e.data)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
  const said = words.event(e.type, e.data, { customerName })
  return `${words.time(e.createdAt)}  ${e.type.padEnd(24)} ${words.term('actor', e.actorType)}${said ? `  ${said}` : ''}${details ? `  ${details}` : ''}`
}

/** A chat line: people's words as written; the server's own lines worded from their event. */
function chatText(m: SessionReport['chat'][number], words: ExportWords, customerName: string): string {
  if (m.sender !== 'system' || !m.systemEvent) return m.body
  return words.event(m.systemEvent.type, m.systemEvent.data, { customerName }) ?? m.body
}

/** The report as plain text in the chosen language: the same sections as the JSON, for a ticket or an archive. */
export function renderReportText(r: SessionReport, words: ExportWords = exportWords('en')): string {
  const s = r.session
  const w = words.w
  const out: string[] = []
  const section = (title: string) => out.push('', title, '='.repeat(Math.max(title.length, 3)))
  const labels = [w('customer'), w('csr'), w('agent'), w('status'), w('created'), w('started'), w('ended'), w('duration'), w('notes')]
  const labelWidth = Math.max(...labels.map((l) => displayWidth(l))) + 3
  const row = (label: string, value: string) => `${label}:${' '.repeat(Math.max(1, labelWidth - displayWidth(label)))}${value}`
  const p = s.agent?.platform
  out.push(w('reportTitle', { number: s.number }), w('generated', { time: words.time(r.generatedAt) }))
  section(w('whoAndWhen'))
  out.push(
    row(w('customer'), `${s.customerName}${s.customerEmail ? ` <${s.customerEmail}>` : ''}`),
    row(w('csr'), s.csr.name),
    row(w('agent'), s.agent && p ? w('agentLine', { host: p.hostname, os: p.os, osVersion: p.osVersion, arch: p.arch, version: s.agent.agentVersion }) : w('agentNever')),
    row(w('status'), `${words.term('status', s.status)}${s.endedReason ? ` (${words.term('reason', s.endedReason)})` : ''}`),
    row(w('created'), words.time(s.createdAt)),
    row(w('started'), words.time(s.startedAt)),
    row(w('ended'), words.time(s.endedAt)),
    row(w('duration'), words.seconds(r.durationSeconds)),
  )
  if (s.description) out.push(row(w('notes'), s.description))
  section(w('timeline', { n: r.timeline.length }))
  for (const e of r.timeline) out.push(eventLine(e, words, s.customerName))
  section(w('consents', { n: r.consents.length }))
  for (const c of r.consents) {
    out.push(
      w('consentLine', {
        time: words.time(c.createdAt),
        kind: words.term('kind', c.kind),
        status: words.term('consent', c.status),
        name: c.requestedBy.name,
        answered: words.time(c.answeredAt),
      }),
    )
  }
  section(w('snapshots', { n: r.snapshots.length }))
  for (const snap of r.snapshots) {
    out.push(w('snapshotLine', { time: words.time(snap.collectedAt), host: snap.hostname ?? '', os: snap.os ?? '', size: words.bytes(snap.sizeBytes), id: snap.id }))
  }
  section(w('scripts', { n: r.scriptRuns.length }))
  for (const { run, output } of r.scriptRuns) {
    out.push(
      '',
      w('runHead', { name: run.scriptName, version: run.version, status: words.term('run', run.status), batch: run.batchId, position: run.position + 1 }),
      `  sha256 ${run.digest}`,
      `  ${w('runArgs', { args: run.args.length ? run.args.map((a) => JSON.stringify(a)).join(' ') : w('none'), timeout: words.seconds(run.timeoutSeconds) })}`,
      `  ${w('runTimes', { started: words.time(run.startedAt), finished: words.time(run.finishedAt), duration: words.ms(run.durationMs), exit: run.exitCode ?? '—' })}${run.outputTruncated ? w('outputCut') : ''}`,
    )
    if (run.error) out.push(`  ${w('error')}: ${run.error}`)
    const text = output
      .map((c) => (c.stream === 'stdout' ? c.data : c.data.replace(/^(?=.)/gm, c.stream === 'stderr' ? '[stderr] ' : '[helpline] ')))
      .join('')
    if (text) out.push(`  ${w('output')}`, ...text.replace(/\n$/, '').split('\n').map((l) => `  | ${l}`))
  }
  section(w('chat', { n: r.chat.length }))
  for (const m of r.chat) out.push(`${words.time(m.createdAt)}  ${m.authorName}: ${chatText(m, words, s.customerName)}`)
  return `${out.join('\n')}\n`
}

/** Everything that happened in a session, as one document (JSON, or text for download and print). */
export class ReportsService {
  constructor(
    private readonly db: Db,
    private readonly sessions: SessionsService,
    private readonly consents: ConsentsService,
    private readonly chat: ChatService,
  ) {}

  async report(principal: Principal, sessionId: string): Promise<SessionReport> {
    const row = await this.sessions.findAccessible(principal, sessionId)
    const [session, events, consentRows, snapshots, runs, chatRows] = await Promise.all([
      this.sessions.getRow(row),
      this.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.id)),
      this.db.select().from(consentRequests).where(eq(consentRequests.sessionId, sessionId)).orderBy(asc(consentRequests.createdAt)),
      this.db.select(snapshotSummaryColumns).from(systemInfoSnapshots).where(eq(systemInfoSnapshots.sessionId, sessionId)).orderBy(asc(systemInfoSnapshots.collectedAt)),
      this.db.select().from(scriptRuns).where(eq(scriptRuns.sessionId, sessionId)).orderBy(asc(scriptRuns.createdAt), asc(scriptRuns.position)),
      this.db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(asc(chatMessages.seq)),
    ])
    const chunks = runs.length
      ? await this.db
          .select()
          .from(scriptOutputChunks)
          .where(inArray(scriptOutputChunks.runId, runs.map((r) => r.id)))
          .orderBy(asc(scriptOutputChunks.runId), asc(scriptOutputChunks.sequence))
      : []
    const outputOf = new Map<string, SessionReport['scriptRuns'][number]['output']>()
    for (const c of chunks) {
      const list = outputOf.get(c.runId) ?? []
      list.push({ sequence: c.sequence, stream: c.stream, data: c.data, createdAt: c.createdAt.toISOString() })
      outputOf.set(c.runId, list)
    }
    const end = row.endedAt ?? new Date()
    return {
      generatedAt: new Date().toISOString(),
      session,
      durationSeconds: row.startedAt ? Math.max(0, Math.round((end.getTime() - row.startedAt.getTime()) / 1000)) : null,
      agentPlatform: session.agent ? { ...session.agent.platform } : null,
      timeline: events.map(toSessionEvent),
      consents: await this.consents.toConsents(consentRows),
      snapshots: snapshots.map(toSummary),
      scriptRuns: runs.map((r) => ({ run: toScriptRun(r), output: outputOf.get(r.id) ?? [] })),
      chat: await this.chat.present(row, chatRows),
    }
  }

  async reportText(principal: Principal, sessionId: string, lang: ExportLang = 'en'): Promise<{ filename: string; text: string }> {
    const report = await this.report(principal, sessionId)
    return { filename: `session-report-${report.session.number}.txt`, text: renderReportText(report, exportWords(lang)) }
  }
}
