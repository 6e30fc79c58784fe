import type { Autostart } from '../platform/index.ts'
import type { RunJournal } from '../state.ts'
import type { AgentCommand, RunContext, Runner } from './index.ts'

export interface RebootMessages {
  restarting(autostart: Autostart): string
  alreadyDone(): string
  failed(reason: string): string
}

export interface RebootRunnerOptions {
  journal: RunJournal
  /** Writes the saved session (server, session, rejoin token, cursor) so the agent can rejoin after the restart. */
  saveState(): void
  ensureAutostart(): Promise<Autostart>
  reboot(): Promise<'restarting' | 'simulated'>
  /** The restart is under way (or simulated): the agent stops and exits with EXIT.rebooting. */
  onRestarting(how: 'restarting' | 'simulated'): void
  /** The OS refused: the command already succeeded, so the CSR is told another way (chat). */
  onFailed(reason: string): Promise<void>
  messages: RebootMessages
}

/**
 * reboot: at most once per approval. The command is journaled (and flushed) before anything is
 * done; an agent that finds it already journaled (it restarted and the command came again) only
 * reports it done. Then: save the state, make sure the agent comes back, tell the server it is
 * restarting, restart.
 */
export class RebootRunner implements Runner {
  readonly kind = 'reboot'

  constructor(private readonly options: RebootRunnerOptions) {}

  async run(command: AgentCommand, context: RunContext) {
    const { journal, messages } = this.options
    if (journal.rebooted(command.id)) {
      context.say(messages.alreadyDone())
      await context.report(1, { status: 'succeeded', message: 'The computer was already restarted for this request' })
      return
    }
    journal.rebooting(command.id)
    this.options.saveState()
    const autostart = await this.options.ensureAutostart().catch((err: unknown): Autostart => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }))
    context.say(messages.restarting(autostart))
    await context.report(0, {
      status: 'running',
      message: autostart.ok ? `The agent starts again by itself (${autostart.detail})` : `The agent will not start again by itself: ${autostart.detail}`,
      data: { rebooting: true, autostart: autostart.ok },
    })
    await context.report(1, { status: 'succeeded' })
    let how: 'restarting' | 'simulated'
    try {
      how = await this.options.reboot()
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      context.say(messages.failed(reason))
      await this.options.onFailed(reason).catch(() => undefined)
      return
    }
    this.options.onRestarting(how)
  }
}
