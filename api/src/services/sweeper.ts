import type { FastifyBaseLogger } from 'fastify'

export interface SweepTask {
  name: string
  run(): Promise<number>
}

/**
 * Time-based changes nobody requests: waiting sessions expire, unanswered consents expire,
 * silent agents go offline. Every instance runs it; each change re-checks its row under the
 * session's lock, so two instances never apply one twice.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly tasks: SweepTask[],
    private readonly intervalMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  start() {
    this.timer = setInterval(() => {
      // A slow database must not pile sweeps on top of each other.
      if (!this.running) this.running = this.sweep().finally(() => (this.running = undefined))
    }, this.intervalMs)
    this.timer.unref()
  }

  async sweep() {
    for (const task of this.tasks) {
      try {
        const n = await task.run()
        if (n > 0) this.log.debug({ task: task.name, n }, 'sweep')
      } catch (err) {
        this.log.warn({ err, task: task.name }, 'sweep task failed; retried on the next sweep')
      }
    }
  }

  async stop() {
    clearInterval(this.timer)
    await this.running
  }
}
