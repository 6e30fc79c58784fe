import type { AgentInfo, SessionStatus } from '../../api/resources/sessions.ts'

/** `123456789` or `123-456-789` → `123-456-789`; anything else as it is. */
export function formatNumber(number: string): string {
  const digits = number.replace(/\D/g, '')
  return digits.length === 9 ? `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}` : number
}

/** The exact command the customer runs to join, against the server this console is served by. */
/** The join page for this session: the customer downloads the support app there, and it joins by itself. */
export function joinLink(number: string, origin: string): string {
  return `${origin.replace(/\/+$/, '')}/join/${formatNumber(number)}`
}

/** For a customer with Node.js who prefers a terminal: download the bundled agent with this session in it, and run it. */
export function agentCommand(number: string, origin: string): string {
  return `curl -fLo helpline-agent.mjs '${origin.replace(/\/+$/, '')}/api/v1/join/${formatNumber(number)}/downloads/helpline-agent.mjs' && node helpline-agent.mjs`
}

/** A mailto: link with the subject and body encoded (RFC 6068: %20, not +). */
export function joinMailto({ to, subject, body }: { to: string; subject: string; body: string }): string {
  const q = (text: string) => encodeURIComponent(text).replace(/'/g, '%27')
  return `mailto:${q(to).replace(/%40/g, '@')}?subject=${q(subject)}&body=${q(body)}`
}

/**
 * What to say about the agent. An ended session's agent is told to stop and does: it has left,
 * whatever presence the API last recorded ("online" until it misses two polls, or "offline").
 */
export function agentDisplayStatus(agent: AgentInfo | null, sessionStatus: SessionStatus): AgentInfo['status'] | 'none' | 'disconnected' {
  if (!agent) return 'none'
  if (sessionStatus === 'ended') return 'left'
  return agent.status
}

/** "Debian GNU/Linux 12 · x64 · customer-pc" */
export function platformLabel(agent: Pick<AgentInfo, 'platform'>): string {
  const p = agent.platform
  return [p.osVersion || p.os, p.arch, p.hostname].filter(Boolean).join(' · ')
}

const pad2 = (n: number) => String(n).padStart(2, '0')

/**
 * The middle of a saved file's name: who and when, so a folder of them sorts and reads well, e.g.
 * `Jane-Doe-123-456-789-2026-05-01_1432` (local time). Letters of any script stay; only
 * characters file systems refuse are replaced.
 */
export function fileStem(customerName: string, number: string, at: string | Date): string {
  const customer =
    customerName
      .normalize('NFC')
      .replace(/[\\/:*?"<>|\u0000-\u001f\s.]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'customer'
  const when = new Date(at)
  const stamp = `${when.getFullYear()}-${pad2(when.getMonth() + 1)}-${pad2(when.getDate())}_${pad2(when.getHours())}${pad2(when.getMinutes())}`
  return `${customer}-${formatNumber(number)}-${stamp}`
}

/** The saved snapshot's name, e.g. `system-info-Jane-Doe-123-456-789-2026-05-01_1432.txt` (the collection's time). */
export function snapshotFileName(customerName: string, number: string, collectedAt: string | Date): string {
  return `system-info-${fileStem(customerName, number, collectedAt)}.txt`
}

/** Offers `text` to the browser as a file download. */
export function downloadText(text: string, fileName: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }))
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  link.rel = 'noopener'
  document.body.appendChild(link)
  link.click()
  link.remove()
  // The browser reads the blob asynchronously: give it time before letting it go.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

/** The route of a snapshot's print view (outside the layout, opened in its own window). */
export function printPath(sessionId: string, snapshotId: string): string {
  return `/print/sessions/${sessionId}/snapshots/${snapshotId}`
}
