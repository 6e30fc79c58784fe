import type { SystemInfoCategory } from '../sysinfo/types.ts'
import type { AgentCommand, RunContext, Runner } from './index.ts'

export interface SystemInfoRunnerOptions {
  /** Reads the computer: the platform's collector, swapped by tests. */
  collect: () => Promise<SystemInfoCategory[]>
  /** Uploads the snapshot for a command (idempotent on the server). */
  upload: (commandId: string, body: { collectedAt: string; categories: SystemInfoCategory[] }) => Promise<void>
  messages: { collecting: () => string; collected: (count: number) => string; failed: (reason: string) => string }
}

/** collect_system_info: read every category, upload them as one snapshot. */
export class SystemInfoRunner implements Runner {
  readonly kind = 'collect_system_info'
  collect: SystemInfoRunnerOptions['collect']

  constructor(private readonly options: SystemInfoRunnerOptions) {
    this.collect = options.collect
  }

  async run(command: AgentCommand, context: RunContext) {
    context.say(this.options.messages.collecting())
    await context.report(0, { status: 'running' })
    let categories: SystemInfoCategory[]
    try {
      categories = await this.collect()
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      context.say(this.options.messages.failed(reason))
      await context.report(1, { status: 'failed', message: reason })
      return
    }
    await this.options.upload(command.id, { collectedAt: new Date().toISOString(), categories })
    context.say(this.options.messages.collected(categories.length))
  }
}
