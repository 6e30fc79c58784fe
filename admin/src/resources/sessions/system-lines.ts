import type { TranslateFunction } from 'react-admin'
import type { ChatMessage, Session } from '../../api/resources/sessions.ts'

/** System lines in the console's language; the server's English text when we do not know the event. */
const systemKeys: Record<string, string> = {
  'agent.joined': 'helpline.chat.system.agent_joined',
  'agent.rejoined': 'helpline.chat.system.agent_rejoined',
  'agent.left': 'helpline.chat.system.agent_left',
  'consent.requested': 'helpline.chat.system.consent_requested',
  'consent.approved': 'helpline.chat.system.consent_approved',
  'consent.denied': 'helpline.chat.system.consent_denied',
  'consent.expired': 'helpline.chat.system.consent_expired',
  'consent.cancelled': 'helpline.chat.system.consent_cancelled',
  'snapshot.stored': 'helpline.chat.system.snapshot_stored',
  'system_info.failed': 'helpline.chat.system.system_info_failed',
  'session.ended': 'helpline.chat.system.session_ended',
  'session.expired': 'helpline.chat.system.session_expired',
  'agent.logged_on': 'helpline.chat.system.logged_on',
  'agent.logged_off': 'helpline.chat.system.logged_off',
  'agent.rebooting': 'helpline.chat.system.rebooting',
  'agent.rejoin_expired': 'helpline.chat.system.rejoin_expired',
}

/**
 * A system line in the console's language, from its event; the server's (English) text when we
 * do not know the event, or when the words come from the agent (why a logon failed).
 */
export function systemLineText(
  message: ChatMessage,
  session: Pick<Session, 'customerName'>,
  translate: TranslateFunction,
  time: (iso: string) => string = (iso) => new Date(iso).toLocaleTimeString(),
): string {
  const event = message.systemEvent
  if (!event) return message.body
  const data = event.data
  const text = (v: unknown) => (typeof v === 'string' ? v : '')
  switch (event.type) {
    case 'agent.join_refused':
      return translate('helpline.chat.system.join_refused', { computer: computerText(data), address: text(data.address), _: message.body })
    case 'agent.admission_granted':
      return translate('helpline.chat.system.admission_granted', { time: text(data.until) ? time(text(data.until)) : '?', _: message.body })
    case 'agent.replaced':
      return translate('helpline.chat.system.agent_replaced', { name: text(data.admittedByName) || '?', _: message.body })
    case 'script_run':
      return scriptRunText(data, translate, message.body)
    case 'admin.acted':
      return translate(`helpline.chat.system.admin_acted.${text(data.action)}`, { admin: text(data.adminName), _: message.body })
  }
  let key = Object.hasOwn(systemKeys, event.type) ? systemKeys[event.type] : undefined
  if (event.type === 'agent.rejoined' && data.afterReboot === true) key = 'helpline.chat.system.agent_rejoined_after_reboot'
  if (event.type === 'agent.logon_failed') {
    // The agent's own message is in the body ("Logon failed: …"); a known reason has our words.
    const reason = typeof data.reason === 'string' ? data.reason : ''
    return translate(`helpline.logon.reasons.${reason}`, { _: message.body })
  }
  if (!key) return message.body
  const kind = typeof data.kind === 'string' ? data.kind : undefined
  return translate(key, {
    name: session.customerName,
    what: kind ? translate(`helpline.consent.kinds.${kind}`, { _: kind }) : '',
    username: typeof data.username === 'string' ? data.username : '',
    minutes: typeof data.minutes === 'number' ? data.minutes : '',
    _: message.body,
  })
}

/** A script run's line: its name, version, place in the batch and status, with its exit code and duration when it has ended. */
function scriptRunText(data: Record<string, unknown>, translate: TranslateFunction, body: string): string {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
  const status = typeof data.status === 'string' ? data.status : ''
  const values = {
    script: typeof data.scriptName === 'string' ? data.scriptName : '?',
    version: num(data.version) ?? '?',
    position: (num(data.position) ?? -1) + 1 || '?',
    count: num(data.count) ?? '?',
    _: body,
  }
  if (status === 'running') return translate('helpline.chat.system.script_running', values)
  const exitCode = num(data.exitCode)
  const durationMs = num(data.durationMs)
  const facts = [
    exitCode === undefined ? '' : translate('helpline.runs.exit_code', { code: exitCode }),
    durationMs === undefined ? '' : translate('helpline.runs.seconds_short', { seconds: (durationMs / 1000).toFixed(1) }),
  ].filter(Boolean)
  const error = typeof data.error === 'string' && data.error ? ` — ${data.error}` : ''
  return translate('helpline.chat.system.script_run', {
    ...values,
    status: translate(`helpline.runs.status.${status}`, { _: status }),
    facts: (facts.length ? ` (${facts.join(', ')})` : '') + error,
  })
}

/** "host, OS version" of a joining computer, as the agent reported it. */
export function computerText(data: Record<string, unknown>): string {
  const pick = (v: unknown) => (typeof v === 'string' && v ? [v] : [])
  const os = pick(data.osVersion).length ? pick(data.osVersion) : pick(data.os)
  return [...pick(data.hostname), ...os].join(', ') || '?'
}
