import type { FastifyBaseLogger } from 'fastify'
import { unavailableCause } from '../db/unavailable.ts'

export interface SweepTask {
  name: string
  run(): Promise<number>
  /**
   * Run at most this often (ms); unset: on every sweep. For tasks whose deadline is long (an agent
   * offline after 105 s), a query a second is work for nothing: an idle fleet's server paid it
   * every second for every task (docs/notes/issue-13-idle-4.md).
   */
  everyMs?: number
}

/**
 * How often a task whose deadline is `deadlineMs` needs to run: a twentieth of it (what it does
 * happens at most 5 % late), never more often than every sweep, never less than once a minute.
 */
export function sweepEvery(deadlineMs: number): number {
  return Math.min(60_000, Math.floor(deadlineMs / 20))
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
  /** When each task last ran to the end (a failed run is tried again on the next sweep). */
  private readonly ranAt = new Map<SweepTask, number>()

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

  async sweep(now = Date.now()) {
    for (const task of this.tasks) {
      if (task.everyMs !== undefined && now - (this.ranAt.get(task) ?? -Infinity) < task.everyMs) continue
      try {
        const n = await task.run()
        this.ranAt.set(task, now)
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
