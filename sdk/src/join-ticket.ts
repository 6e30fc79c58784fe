/**
 * The join ticket: what a download from the join page (`/join/<number>`) carries so that running
 * it joins without typing anything. It is one line appended to the file's end —
 * `//# helpline-join v1 <URI-encoded JSON>` — which is a comment at the end of the bundled
 * JavaScript agent and trailing bytes (ignored by the loader) after an executable. It lives in the
 * file's content, not its name, so renaming or copying the file changes nothing; and the agent
 * always shows the customer the server's address and asks before it connects, so a ticket edited
 * to point elsewhere cannot go unnoticed. The same session gives the same bytes every time, so the
 * sha256 the join page shows is the sha256 of the file downloaded.
 */
export interface JoinTicket {
  /** The server's base URL, e.g. https://help.example.com */
  server: string
  /** The session number, 123-456-789. */
  number: string
  /** The organisation's name (ORG_NAME) and the CSR's display name, shown before connecting. */
  org: string
  csr: string
}

export const JOIN_TICKET_MARKER = '//# helpline-join v1 '

/** The bytes appended to a download (as text: ASCII only). */
export function joinTicketLine(ticket: JoinTicket): string {
  return `\n${JOIN_TICKET_MARKER}${encodeURIComponent(JSON.stringify(ticket))}\n`
}

/** Reads the ticket from the end of a file (its last few KiB as latin1/ASCII text); undefined when there is none or it is malformed. */
export function parseJoinTicket(tail: string): JoinTicket | undefined {
  const at = tail.lastIndexOf(JOIN_TICKET_MARKER)
  if (at < 0) return undefined
  const encoded = tail.slice(at + JOIN_TICKET_MARKER.length).trim()
  if (!/^[A-Za-z0-9%._~!*'()-]+$/.test(encoded)) return undefined
  try {
    const value = JSON.parse(decodeURIComponent(encoded)) as Partial<JoinTicket>
    const text = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max
    if (!text(value.server, 2048) || !/^https?:\/\/[^/\s]+/.test(value.server!) || !text(value.number, 20) || !/^\d{3}-?\d{3}-?\d{3}$/.test(value.number!)) return undefined
    return {
      server: value.server!.replace(/\/+$/, ''),
      number: value.number!,
      org: text(value.org, 200) ? value.org! : '',
      csr: text(value.csr, 200) ? value.csr! : '',
    }
  } catch {
    return undefined
  }
}
