import type { TranslateFunction } from 'react-admin'
import type { SessionEvent, SessionReport } from '../../api/resources/sessions.ts'
import { formatDuration } from '../script-batches/status.ts'
import { logonFailureText } from '../sessions/access.ts'
import { fileStem } from '../sessions/format.ts'
import { computerText } from '../sessions/system-lines.ts'

/** The report of a session, in the console's layout (the app bar and the menu stay). */
export function reportPath(sessionId: string): string {
  return `/sessions/${sessionId}/report`
}

/** The report's print view: outside the layout, opened in its own window. */
export function reportPrintPath(sessionId: string): string {
  return `/print/sessions/${sessionId}/report`
}

/** The saved report's name, e.g. `session-report-Jane-Doe-123-456-789-2026-05-01_1432.txt` (the session's creation). */
export function reportFileName(customerName: string, number: string, createdAt: string | Date): string {
  return `session-report-${fileStem(customerName, number, createdAt)}.txt`
}

/** A table lookup that ignores inherited names (an event type is data, not code). */
const own = (table: Record<string, string>, key: string): string | undefined => (Object.hasOwn(table, key) ? table[key] : undefined)

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/** "Debian GNU/Linux 12 · x64 · customer-pc" from a platform as the report carries it (untyped). */
export function platformText(platform: unknown): string {
  if (typeof platform !== 'object' || platform === null) return ''
  const p = platform as Record<string, unknown>
  return [str(p.osVersion) ?? str(p.os), str(p.arch), str(p.hostname)].filter(Boolean).join(' · ')
}

/** A session's length in words: "—" when it never started. */
export function durationText(seconds: number | null): string {
  return seconds === null ? '—' : formatDuration(seconds * 1000)
}

/** The events about working on the customer's computer: logons, log offs, restarts and rejoins. */
export const ACCESS_EVENT_TYPES: readonly string[] = ['agent.logged_on', 'agent.logon_failed', 'agent.logged_off', 'agent.rebooting', 'agent.rejoined']

export function accessEvents(timeline: readonly SessionEvent[]): SessionEvent[] {
  return timeline.filter((e) => ACCESS_EVENT_TYPES.includes(e.type))
}

/** Events whose words are "<what the consent was for>": the chat's own system lines. */
const consentKeys: Record<string, string> = {
  'consent.requested': 'helpline.chat.system.consent_requested',
  'consent.approved': 'helpline.chat.system.consent_approved',
  'consent.denied': 'helpline.chat.system.consent_denied',
  'consent.expired': 'helpline.chat.system.consent_expired',
  'consent.cancelled': 'helpline.chat.system.consent_cancelled',
}

const plainKeys: Record<string, string> = {
  'session.created': 'helpline.report.events.session_created',
  'session.ended': 'helpline.report.events.session_ended',
  'session.expired': 'helpline.report.events.session_expired',
  'agent.left': 'helpline.report.events.agent_left',
  'agent.offline': 'helpline.report.events.agent_offline',
  'agent.online': 'helpline.report.events.agent_online',
  'agent.replaced': 'helpline.report.events.agent_replaced',
  'agent.rebooting': 'helpline.report.events.agent_rebooting',
  'snapshot.stored': 'helpline.chat.system.snapshot_stored',
}

const commandKeys: Record<string, string> = {
  created: 'helpline.report.events.command_created',
  queued: 'helpline.report.events.command_queued',
  delivered: 'helpline.report.events.command_delivered',
  running: 'helpline.report.events.command_running',
  succeeded: 'helpline.report.events.command_succeeded',
  failed: 'helpline.report.events.command_failed',
  cancelled: 'helpline.report.events.command_cancelled',
}

function scriptName(d: Record<string, unknown>, translate: TranslateFunction): string {
  const name = str(d.scriptName) ?? str(d.name) ?? '?'
  const version = num(d.version)
  return version === undefined ? name : translate('helpline.runs.log_title', { name, version })
}

/**
 * An event of the timeline in words, or undefined for a type this console does not know (the
 * page then shows the raw type and its details).
 */
export function eventText(event: Pick<SessionEvent, 'type' | 'data'>, translate: TranslateFunction): string | undefined {
  const d = event.data ?? {}
  const [group, action = ''] = event.type.split('.', 2) as [string, string | undefined]
  const plain = own(plainKeys, event.type)
  if (plain) return translate(plain)
  const consent = own(consentKeys, event.type)
  if (consent) {
    const kind = str(d.kind)
    return translate(consent, { what: kind ? translate(`helpline.consent.kinds.${kind}`, { _: kind }) : '' })
  }
  switch (event.type) {
    case 'agent.joined': {
      const where = platformText(d.platform)
      return where ? translate('helpline.report.events.agent_joined_from', { where }) : translate('helpline.report.events.agent_joined')
    }
    case 'agent.rejoined':
      return translate(d.afterReboot === true ? 'helpline.report.events.agent_rejoined_after_reboot' : 'helpline.report.events.agent_rejoined')
    case 'agent.logged_on':
      return translate('helpline.report.events.logged_on', { username: str(d.username) ?? '?' })
    case 'agent.logon_failed': {
      const reason = str(d.reason)
      return logonFailureText({ message: str(d.message) ?? null, ...(reason ? { reason } : {}) }, translate)
    }
    case 'agent.logged_off': {
      const username = str(d.username)
      const text = username ? translate('helpline.report.events.logged_off', { username }) : translate('helpline.report.events.logged_off_plain')
      const reason = str(d.reason)
      return reason ? `${text} (${translate(`helpline.report.logoff_reasons.${reason}`, { _: reason })})` : text
    }
    case 'script_batch.requested': {
      const scripts = Array.isArray(d.scripts) ? d.scripts : []
      const names = scripts.map((s) => (typeof s === 'object' && s !== null ? scriptName(s as Record<string, unknown>, translate) : '?')).join(', ')
      return translate('helpline.report.events.scripts_requested', { names: names || '—' })
    }
    case 'script_run.started':
      return translate('helpline.report.events.script_started', { name: scriptName(d, translate) })
    case 'agent.join_refused':
      return translate('helpline.report.events.join_refused', { computer: computerText(d), address: str(d.address) ?? '?' })
    case 'agent.admission_granted':
      return translate('helpline.report.events.admission_granted', { time: str(d.until) ? new Date(str(d.until)!).toLocaleTimeString() : '?' })
    case 'admin.acted':
      return translate(`helpline.chat.system.admin_acted.${str(d.action) ?? '?'}`, { admin: str(d.adminName) ?? '?', _: event.type })
  }
  if (group === 'script_run') {
    // script_run.ended, or script_run.<status> for a run that ended without running.
    const status = str(d.status) ?? action
    return translate('helpline.report.events.script_ended', {
      name: scriptName(d, translate),
      status: translate(`helpline.runs.status.${status}`, { _: status }),
    })
  }
  const commandKey = group === 'command' ? own(commandKeys, action) : undefined
  if (commandKey) {
    const kind = str(d.kind) ?? '?'
    const what = translate(`helpline.report.command_kinds.${kind}`, { _: kind })
    const text = translate(commandKey, { what })
    const error = str(d.error)
    return error ? `${text}: ${error}` : text
  }
  return undefined
}

/** An event's data in a short `key=value` form (objects left out), for types without words. */
export function eventDetails(event: Pick<SessionEvent, 'data'>): string {
  return Object.entries(event.data ?? {})
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
}

/**
 * Who caused an event: users by name where the report knows them (the CSR, whoever asked for a
 * consent), the customer's agent, or Helpline itself.
 */
export function actorText(event: Pick<SessionEvent, 'actorType' | 'actorId'>, report: Pick<SessionReport, 'session' | 'consents'>, translate: TranslateFunction): string {
  if (event.actorType === 'agent') return translate('helpline.report.actors.agent')
  if (event.actorType === 'system') return translate('helpline.report.actors.system')
  const users = new Map<string, string>([[report.session.csr.id, report.session.csr.name]])
  for (const c of report.consents) users.set(c.requestedBy.id, c.requestedBy.name)
  return (event.actorId && users.get(event.actorId)) || translate('helpline.report.actors.user')
}

/** The arguments a script ran with, each quoted so spaces and empty ones can be seen. */
export function argsText(args: readonly string[], none: string): string {
  return args.length === 0 ? none : args.map((a) => JSON.stringify(a)).join(' ')
}
