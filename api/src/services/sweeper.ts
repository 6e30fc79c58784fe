import type { FastifyBaseLogger } from 'fastify'
import { unavailableCause } from '../db/unavailable.ts'

export interface SweepTask {
  name: string
  run(): Promise<number>
}

/**
 * Time-based changes nobody requests: waiting sessions expire, unanswered consents expire,
 * silent agents go offline. Every instance runs it; each change re-checks its row under the
 * session's lock, so two instances never apply one twice. A failing task (the database is down)
 * is logged and tried again on the next sweep; nothing stops the timer.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private databaseDown = false

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
        const down = unavailableCause(err)
        if (down) {
          // The other tasks would only wait on the same database: the next sweep tries again.
          // Said once per outage, not once a second.
          if (!this.databaseDown) this.log.warn({ database: down, task: task.name }, 'database unavailable; sweeps resume when it is back')
          this.databaseDown = true
          return
        }
        this.log.warn({ err, task: task.name }, 'sweep task failed; retried on the next sweep')
      }
    }
    if (this.databaseDown) this.log.info('database available again; sweeping')
    this.databaseDown = false
  }

  async stop() {
    clearInterval(this.timer)
    await this.running
  }
}
