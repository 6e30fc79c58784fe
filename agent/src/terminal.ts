import { createInterface, type Interface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { cleanText } from '@helpline/sdk'

/**
 * The one sanitiser everything the agent shows goes through: C0 and C1 control characters
 * (except newline and tab) and the bidi overrides and isolates are removed, so no text from the
 * server (a CSR's chat message, a script's name, the CSR's own name) can move the cursor, clear or
 * rewrite a line (a consent prompt, say), set the window title, or reorder what the customer reads.
 * The Terminal and print() below are the only writers to stdout and stderr (a test checks); the
 * customer window, when it comes, must show text through this function too.
 */
export const sanitize = cleanText

/** A line to stdout (or stderr) outside the terminal's session: usage, start-up errors, install-service. */
export function print(line: string, to: 'stdout' | 'stderr' = 'stdout') {
  const stream = to === 'stdout' ? process.stdout : process.stderr
  stream.write(`${sanitize(line)}\n`)
}

interface Prompt {
  lines: string[]
  again: string
  resolve: (answer: boolean | undefined) => void
}

const YES = /^(y|yes|はい|ok)$/i
const NO = /^(n|no|いいえ)$/i

/**
 * The customer's terminal: lines out, lines in. A line typed while a consent question is open
 * answers it (y/n); any other line is a chat message. Questions are asked one at a time.
 */
export class Terminal {
  private readonly rl: Interface
  private readonly queue: Prompt[] = []
  private active: Prompt | undefined
  private onChat: ((text: string) => void) | undefined
  private nothingToAnswer: string | undefined

  constructor(
    input: Readable,
    private readonly output: Writable,
  ) {
    this.rl = createInterface({ input, terminal: false })
    this.rl.on('line', (line) => this.line(line.trim()))
  }

  /** Every line the customer reads in the terminal (prompts too) passes here. */
  say(line: string) {
    this.output.write(`${sanitize(line)}\n`)
  }

  chat(handler: (text: string) => void) {
    this.onChat = handler
  }

  /**
   * What to say when the customer types a lone yes or no while no question is open: an answer
   * meant for a question that has gone is not chat for the CSR.
   */
  loneAnswer(line: string) {
    this.nothingToAnswer = line
  }

  /** Shows a question and resolves with the answer, or undefined when cancelled first. */
  ask(lines: string[], again: string): { answer: Promise<boolean | undefined>; cancel: () => void } {
    let prompt!: Prompt
    const answer = new Promise<boolean | undefined>((resolve) => {
      prompt = { lines, again, resolve }
    })
    this.queue.push(prompt)
    this.next()
    const cancel = () => {
      const i = this.queue.indexOf(prompt)
      if (i >= 0) this.queue.splice(i, 1)
      if (this.active === prompt) {
        this.active = undefined
        this.next()
      }
      prompt.resolve(undefined)
    }
    return { answer, cancel }
  }

  private next() {
    if (this.active) return
    this.active = this.queue.shift()
    if (this.active) for (const line of this.active.lines) this.say(line)
  }

  private line(text: string) {
    const prompt = this.active
    if (prompt) {
      if (YES.test(text) || NO.test(text)) {
        this.active = undefined
        prompt.resolve(YES.test(text))
        this.next()
      } else if (text) this.say(prompt.again)
      return
    }
    if (this.nothingToAnswer !== undefined && (YES.test(text) || NO.test(text))) this.say(this.nothingToAnswer)
    else if (text) this.onChat?.(text)
  }

  close() {
    this.rl.close()
  }
}
