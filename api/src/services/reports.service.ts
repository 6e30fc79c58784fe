import { asc, eq, inArray } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { chatMessages, consentRequests, scriptOutputChunks, scriptRuns, sessionEvents, systemInfoSnapshots } from '../db/schema.ts'
import type { SessionReport } from '../schemas/access.ts'
import type { Principal } from './auth.service.ts'
import type { ChatService } from './chat.service.ts'
import type { ConsentsService } from './consents.service.ts'
import { toScriptRun } from './runs.service.ts'
import { toSessionEvent, type SessionsService } from './sessions.service.ts'
import { snapshotSummaryColumns, toSummary } from './system-info.service.ts'

const stamp = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '—')

function duration(seconds: number | null): string {
  if (seconds === null) return '—'
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`
}

/** One line per event: when, what, who, and its details in a short key=value form. */
function eventLine(e: SessionReport['timeline'][number]): string {
  const details = Object.entries(e.data)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
  return `${stamp(e.createdAt)}  ${e.type.padEnd(24)} ${e.actorType}${details ? `  ${details}` : ''}`
}

/** The report as plain text: the same sections as the JSON, for a ticket or an archive. */
export function renderReportText(r: SessionReport): string {
  const s = r.session
  const out: string[] = []
  const section = (title: string) => out.push('', title, '='.repeat(title.length))
  out.push(`Helpline session report ${s.number}`, `Generated ${stamp(r.generatedAt)}`)
  section('Who and when')
  out.push(
    `Customer:   ${s.customerName}${s.customerEmail ? ` <${s.customerEmail}>` : ''}`,
    `CSR:        ${s.csr.name}`,
    `Agent:      ${s.agent ? `${s.agent.platform.hostname} (${s.agent.platform.os} ${s.agent.platform.osVersion}, ${s.agent.platform.arch}), agent ${s.agent.agentVersion}` : 'never joined'}`,
    `Status:     ${s.status}${s.endedReason ? ` (${s.endedReason})` : ''}`,
    `Created:    ${stamp(s.createdAt)}`,
    `Started:    ${stamp(s.startedAt)}`,
    `Ended:      ${stamp(s.endedAt)}`,
    `Duration:   ${duration(r.durationSeconds)}`,
  )
  if (s.description) out.push(`Notes:      ${s.description}`)
  section(`Timeline (${r.timeline.length} events)`)
  for (const e of r.timeline) out.push(eventLine(e))
  section(`Consent requests (${r.consents.length})`)
  for (const c of r.consents) out.push(`${stamp(c.createdAt)}  ${c.kind.padEnd(17)} ${c.status.padEnd(9)} asked by ${c.requestedBy.name}, answered ${stamp(c.answeredAt)}`)
  section(`System information (${r.snapshots.length} snapshots)`)
  for (const snap of r.snapshots) out.push(`${stamp(snap.collectedAt)}  ${snap.hostname ?? ''} ${snap.os ?? ''}  ${snap.sizeBytes} bytes  (full text: snapshot ${snap.id})`)
  section(`Scripts run (${r.scriptRuns.length})`)
  for (const { run, output } of r.scriptRuns) {
    out.push(
      '',
      `${run.scriptName} v${run.version}  [${run.status}]  batch ${run.batchId}, #${run.position + 1}`,
      `  sha256 ${run.digest}`,
      `  arguments: ${run.args.length ? run.args.map((a) => JSON.stringify(a)).join(' ') : '(none)'}  timeout ${run.timeoutSeconds} s`,
      `  started ${stamp(run.startedAt)}, finished ${stamp(run.finishedAt)}, ${run.durationMs !== null ? `${run.durationMs} ms` : 'no duration'}, exit code ${run.exitCode ?? '—'}${run.outputTruncated ? ', output cut at 1 MiB' : ''}`,
    )
    if (run.error) out.push(`  error: ${run.error}`)
    const text = output
      .map((c) => (c.stream === 'stdout' ? c.data : c.data.replace(/^(?=.)/gm, c.stream === 'stderr' ? '[stderr] ' : '[helpline] ')))
      .join('')
    if (text) out.push('  output:', ...text.replace(/\n$/, '').split('\n').map((l) => `  | ${l}`))
  }
  section(`Chat (${r.chat.length} messages)`)
  for (const m of r.chat) out.push(`${stamp(m.createdAt)}  ${m.authorName}: ${m.body}`)
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

  async reportText(principal: Principal, sessionId: string): Promise<{ filename: string; text: string }> {
    const report = await this.report(principal, sessionId)
    return { filename: `session-report-${report.session.number}.txt`, text: renderReportText(report) }
  }
}
