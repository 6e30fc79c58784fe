import type { Terminal } from '../terminal.ts'
import type { WindowConsent, WindowServer, WindowStatus } from './window-server.ts'

/** What the agent shows the customer and hears back, wherever the customer is: terminal, window, or both. */
export interface CustomerUi {
  /** A line of news ("Connected", "Running script …"). */
  say(line: string): void
  /** Lines the customer types or sends as chat. */
  chat(handler: (text: string) => void): void
  /** Asks a consent question; resolves with the first answer from any place, undefined when cancelled. */
  ask(lines: string[], again: string, meta?: ConsentMeta): { answer: Promise<boolean | undefined>; cancel: () => void }
  /** A consent ended without an answer from here (expired, withdrawn, answered automatically). */
  settle(id: string, state: Exclude<WindowConsent['state'], 'pending'>, answeredIn: WindowConsent['answeredIn']): void
  /** A chat message to show (the CSR's, or the customer's own echoed). */
  message(from: 'csr' | 'customer' | 'agent', author: string, text: string, line: string): void
  status(change: Partial<WindowStatus>): void
  close(): void
}

export interface ConsentMeta {
  id: string
  title: string
  expiresAt: string
}

export interface HubMessages {
  /** Said in the terminal when the window answered a question first. */
  answeredInWindow(approved: boolean): string
  /** Said in the terminal when a lone y/n is typed with no question open (it is not sent as chat). */
  nothingToAnswer?: string
}

/**
 * The terminal and the customer window side by side: news goes to both, chat comes from both,
 * and a consent question is asked in both — the first answer counts, once; the other place shows
 * that it was answered. Without a window this is the terminal alone.
 */
export class UiHub implements CustomerUi {
  private window: WindowServer | undefined
  private chatHandler: ((text: string) => void) | undefined
  /** Questions open in the window, by consent id: how to answer them from there. */
  private readonly open = new Map<string, (approved: boolean) => void>()

  constructor(
    private readonly terminal: Terminal,
    private readonly messages: HubMessages,
  ) {
    if (messages.nothingToAnswer !== undefined) terminal.loneAnswer(messages.nothingToAnswer)
  }

  attach(window: WindowServer) {
    this.window = window
  }

  /** The window's Allow or Deny: 'unknown' for a question not open here. */
  answerFromWindow(consentId: string, approved: boolean): 'ok' | 'unknown' | 'answered' {
    const answer = this.open.get(consentId)
    if (!answer) return this.window && this.knownSettled(consentId) ? 'answered' : 'unknown'
    answer(approved)
    return 'ok'
  }

  private readonly settledIds = new Set<string>()
  private knownSettled(id: string) {
    return this.settledIds.has(id)
  }

  chatFromWindow(text: string) {
    this.chatHandler?.(text)
  }

  say(line: string) {
    this.terminal.say(line)
    this.window?.addActivity(line)
  }

  chat(handler: (text: string) => void) {
    this.chatHandler = handler
    this.terminal.chat(handler)
  }

  ask(lines: string[], again: string, meta?: ConsentMeta): { answer: Promise<boolean | undefined>; cancel: () => void } {
    const prompt = this.terminal.ask(lines, again)
    if (!this.window || !meta) return prompt
    const window = this.window
    // The window shows what the terminal shows, less its rule and its "type y or n" line (the last one).
    window.addConsent({ id: meta.id, title: meta.title, lines: lines.slice(0, -1).filter((l) => l.trim() !== '' && !/^─+$/.test(l)), expiresAt: meta.expiresAt })
    let settle!: (approved: boolean | undefined) => void
    const answer = new Promise<boolean | undefined>((resolve) => (settle = resolve))
    let done = false
    const finish = (approved: boolean | undefined, where: 'window' | 'terminal' | null) => {
      if (done) return
      done = true
      this.open.delete(meta.id)
      this.settledIds.add(meta.id)
      if (where === 'window') {
        prompt.cancel()
        this.terminal.say(this.messages.answeredInWindow(approved === true))
      }
      if (approved !== undefined && where) window.settleConsent(meta.id, approved ? 'approved' : 'denied', where)
      settle(approved)
    }
    this.open.set(meta.id, (approved) => finish(approved, 'window'))
    void prompt.answer.then((approved) => {
      if (approved !== undefined) finish(approved, 'terminal')
    })
    return { answer, cancel: () => finish(undefined, null) }
  }

  settle(id: string, state: Exclude<WindowConsent['state'], 'pending'>, answeredIn: WindowConsent['answeredIn']) {
    this.settledIds.add(id)
    this.open.delete(id)
    this.window?.settleConsent(id, state, answeredIn)
  }

  message(from: 'csr' | 'customer' | 'agent', author: string, text: string, line: string) {
    // The customer's own words are on their terminal already; the CSR's need printing there.
    if (from !== 'customer') this.terminal.say(line)
    this.window?.addMessage({ from, author, text, at: new Date().toISOString() })
  }

  status(change: Partial<WindowStatus>) {
    this.window?.setStatus(change)
  }

  close() {
    this.terminal.close()
  }
}
