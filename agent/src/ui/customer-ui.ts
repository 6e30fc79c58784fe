import { fstatSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { JoinTicket } from '@helpline/sdk'
import { catalogues, type Lang, type Translate } from '../i18n/index.ts'
import type { StateStore } from '../state.ts'
import { Terminal } from '../terminal.ts'
import { UiHub } from './hub.ts'
import { hasDesktop, openBrowser } from './open-browser.ts'
import { WindowServer } from './window-server.ts'

export type UiMode = 'browser' | 'terminal' | 'auto'

export interface CustomerUiOptions {
  mode: UiMode
  t: Translate
  lang: Lang
  store: StateStore
  /** The customer pressed "Leave session" in the window. */
  onLeave: () => void
}

/** Whether anyone can type into this process: a terminal, or a pipe a person or program writes to (not /dev/null). */
function stdinAnswers(): boolean {
  if (process.stdin.isTTY) return true
  try {
    const stat = fstatSync(0)
    return stat.isFIFO() || stat.isSocket()
  } catch {
    return false
  }
}

/**
 * Where the customer sees the agent and answers it: the terminal always, and the customer window
 * in their browser when the computer has a desktop (`--ui auto`, the default) or when asked
 * (`--ui browser`). One hub in front of both, so the agent speaks to "the customer" once.
 */
export class CustomerSurface {
  readonly hub: UiHub
  private window: WindowServer | undefined
  private confirmAnswer: ((join: boolean) => void) | undefined

  private constructor(
    private readonly options: CustomerUiOptions,
    private readonly terminal: Terminal,
  ) {
    const { t } = options
    this.hub = new UiHub(terminal, {
      answeredInWindow: (approved) => t('answeredInWindow', { answer: t(approved ? 'answerAllowed' : 'answerDenied') }),
      nothingToAnswer: t('nothingToAnswer'),
    })
  }

  static async open(options: CustomerUiOptions): Promise<CustomerSurface> {
    const surface = new CustomerSurface(options, new Terminal(process.stdin, process.stdout))
    if (options.mode === 'browser' || (options.mode === 'auto' && hasDesktop())) await surface.openWindow()
    return surface
  }

  /** True when someone can answer a consent here: the window, or a terminal. */
  get interactive(): boolean {
    return this.window !== undefined || stdinAnswers()
  }

  private async openWindow() {
    const { t, lang, store } = this.options
    const strings = Object.fromEntries(Object.entries(catalogues[lang]).filter(([key]) => key.startsWith('win_')))
    const window = new WindowServer(
      {
        answer: (id, approved) => this.hub.answerFromWindow(id, approved),
        chat: (text) => this.hub.chatFromWindow(text),
        leave: () => this.options.onLeave(),
        confirm: (join) => this.confirmAnswer?.(join),
      },
      strings,
      lang,
    )
    const url = await window.start()
    this.window = window
    this.hub.attach(window)
    store.saveWindow(url)
    const opened = await openBrowser(url)
    this.hub.say(t(opened ? 'windowOpened' : 'windowAddress', { url }))
  }

  /**
   * Before a join from a join ticket: the customer sees the server's address, the number and who
   * helps, and says yes (in the window or the terminal) before anything is sent anywhere.
   */
  async confirm(ticket: JoinTicket): Promise<boolean> {
    const { t } = this.options
    this.hub.status({ phase: 'confirm', server: ticket.server, number: ticket.number, csr: ticket.csr, org: ticket.org })
    const question = this.terminal.ask([t('confirmJoin', { number: ticket.number, csr: ticket.csr || '—', org: ticket.org || '—', server: ticket.server })], t('consentAgain'))
    const fromWindow = new Promise<boolean>((resolve) => (this.confirmAnswer = resolve))
    const join = await Promise.race([question.answer.then((a) => a ?? false), fromWindow])
    this.confirmAnswer = undefined
    question.cancel()
    this.hub.status({ phase: join ? 'connecting' : 'stopped' })
    return join
  }

  async close() {
    if (this.window) {
      // The page's long-poll hears the last state (ended, left) before the window goes away.
      await sleep(300)
      await this.window.close()
      this.options.store.clearWindow()
    }
    this.hub.close()
  }
}
