import type { TranslateFunction } from 'react-admin'
import type { Command, Consent } from '../../api/resources/sessions.ts'
import type { LiveState } from './live.ts'

/**
 * Working on the customer's computer as another user, and restarting it: what the session page
 * offers and what the logon dialog says, all derived from the live state (so a streamed answer,
 * a reload and the page's own calls all lead to the same screen).
 */

const OPEN: ReadonlySet<Command['status']> = new Set(['awaiting_consent', 'queued', 'delivered', 'running'])
const byCreated = (a: { createdAt: string }, b: { createdAt: string }) => new Date(a.createdAt).getTime() - new Date(b.createdAt).getTime()

function latestCommand(live: Pick<LiveState, 'commands'>, kind: string): Command | undefined {
  return live.commands.filter((c) => c.kind === kind).sort(byCreated).at(-1)
}

const isOpen = (command: Command | undefined) => command !== undefined && OPEN.has(command.status)

/** What the header shows and offers about access to the customer's computer. */
export interface AccessControls {
  /** The user the agent works as after a logon; null: the customer's own user. */
  workingAs: string | null
  /** The computer is restarting (the agent said so); it rejoins by itself. */
  restarting: boolean
  /** A restart waits for the customer's answer. */
  rebootAwaitingConsent: boolean
  /** A log off is on its way to the agent. */
  loggingOff: boolean
  canLogon: boolean
  canLogoff: boolean
  canReboot: boolean
}

export function accessControls(live: Pick<LiveState, 'session' | 'commands'>): AccessControls {
  const { session } = live
  const agent = session.agent
  const restarting = agent?.rebooting === true && agent.status !== 'left'
  const reachable = session.status === 'active' && agent?.status === 'online' && !restarting
  const workingAs = session.status === 'active' && agent ? (agent.workingAs ?? null) : null
  const logon = latestCommand(live, 'logon_as_user')
  const logoff = latestCommand(live, 'logoff')
  const reboot = latestCommand(live, 'reboot')
  const loggingOff = isOpen(logoff)
  // A reboot command the agent took ("running") is over for the page once the agent is back.
  const rebootPending = reboot !== undefined && ['awaiting_consent', 'queued', 'delivered'].includes(reboot.status)
  return {
    workingAs,
    restarting,
    rebootAwaitingConsent: reboot?.status === 'awaiting_consent',
    loggingOff,
    canLogon: reachable && !workingAs && !isOpen(logon) && !loggingOff,
    canLogoff: reachable && !!workingAs && !loggingOff,
    canReboot: reachable && !rebootPending,
  }
}

/** One "log on as another user" from the dialog: the request, then (once sent) its command. */
export interface LogonAttempt {
  consent: Consent
  /** The agent's public key, from the answer to the request: the credentials are encrypted for it. */
  publicKey: string
  /** The user name typed (not secret), to name the outcome before the agent's own word arrives. */
  username?: string
  commandId?: string
  /** Why sending failed (an error message or a translation key). */
  error?: string
}

export type LogonPhase =
  /** The request is on its way to the API. */
  | { kind: 'asking' }
  | { kind: 'waiting_consent'; consent: Consent }
  /** Approved: the dialog asks for the user name and password. */
  | { kind: 'credentials'; consent: Consent }
  /** Encrypting and sending, or the agent is logging on. */
  | { kind: 'sending'; username: string }
  | { kind: 'logged_on'; username: string }
  /** `reason`: the agent's code for it (bad_credentials…), from the chat line it wrote. */
  | { kind: 'failed'; message: string | null; reason?: string }
  /** The customer denied, did not answer, or the request was withdrawn: the dialog closes. */
  | { kind: 'closed'; reason: 'denied' | 'expired' | 'cancelled' }

/**
 * Where a logon attempt stands, from the live state: the consent (followed through the stream),
 * then the command the credentials travel in, and what the agent said.
 */
/** Sets of credentials one approval takes (the API's LOGON_ATTEMPTS): a mistyped password does not use up the customer's consent. */
export const LOGON_ATTEMPTS = 3

/** Tries left with an approval: LOGON_ATTEMPTS less the logons already sent with it. */
export function logonAttemptsLeft(live: Pick<LiveState, 'commands'>, consentId: string): number {
  return Math.max(0, LOGON_ATTEMPTS - live.commands.filter((c) => c.consentId === consentId).length)
}

export function logonPhase(live: Pick<LiveState, 'session' | 'consents' | 'commands' | 'chat'>, attempt: LogonAttempt | undefined, sending = false): LogonPhase {
  if (!attempt) return { kind: 'asking' }
  if (attempt.error) return { kind: 'failed', message: attempt.error }
  const username = attempt.username ?? ''
  if (attempt.commandId) {
    const command = live.commands.find((c) => c.id === attempt.commandId)
    if (!command || isOpen(command)) return { kind: 'sending', username }
    if (command.status === 'succeeded') return { kind: 'logged_on', username: live.session.agent?.workingAs ?? username }
    // failed: the agent's message; cancelled: nobody picked the credentials up in time.
    const reason = command.status === 'failed' ? failureReason(live, command) : undefined
    return reason ? { kind: 'failed', message: command.error, reason } : { kind: 'failed', message: command.error }
  }
  if (sending) return { kind: 'sending', username }
  const consent = live.consents.find((c) => c.id === attempt.consent.id) ?? attempt.consent
  switch (consent.status) {
    case 'pending':
      return { kind: 'waiting_consent', consent }
    case 'approved':
      return { kind: 'credentials', consent }
    default:
      return { kind: 'closed', reason: consent.status }
  }
}

/** The reason on the agent.logon_failed line written for this command (the first one since it was created). */
function failureReason(live: Pick<LiveState, 'chat'>, command: Command): string | undefined {
  const since = new Date(command.createdAt).getTime()
  const line = live.chat.find((m) => m.systemEvent?.type === 'agent.logon_failed' && new Date(m.createdAt).getTime() >= since)
  const reason = line?.systemEvent?.data.reason
  return typeof reason === 'string' && reason ? reason : undefined
}

/**
 * Why a logon failed, in one sentence: our words for a reason we know, otherwise "Logon failed:"
 * with the agent's (or the API's) message, which often starts with those words already.
 */
export function logonFailureText(phase: { message: string | null; reason?: string }, translate: TranslateFunction): string {
  const raw = phase.message ? translate(phase.message, { _: phase.message }) : ''
  const message = raw.replace(/^logon failed:\s*/i, '') || translate('helpline.logon.no_reason')
  const generic = translate('helpline.logon.failed', { message })
  return phase.reason ? translate(`helpline.logon.reasons.${phase.reason}`, { _: generic }) : generic
}
