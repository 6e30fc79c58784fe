/** Something with a deadline in `CoarseTimers`. */
export interface Expiring {
  /** Called once, in the sweep of its deadline's tick, unless deleted before. */
  expire(): void
}

/**
 * Thousands of long deadlines that need not be exact to the millisecond (held agent polls: one
 * each, 50 s): kept in buckets of `tickMs`, swept by one interval that runs only while a bucket is
 * not empty, instead of a timer object, a closure and a timer-list entry per deadline. An item
 * expires in the first sweep after the start of the first tick that starts at or after its
 * deadline (the sweeps are not aligned with the ticks): never early, less than two ticks late
 * (plus the event loop's own delays) — a poll held for `wait` seconds is held at least that long,
 * as the protocol says; the agent's own timeout allows 15 s more.
 */
export class CoarseTimers<T extends Expiring> {
  private readonly buckets = new Map<number, Set<T>>()
  /** The last tick swept: its bucket and those before it are gone. */
  private swept: number
  private interval: NodeJS.Timeout | undefined

  constructor(private readonly tickMs: number) {
    this.swept = this.tickOf(Date.now()) - 1
  }

  /** Adds `item` to expire by `at` (ms since the epoch); returns its tick, which `delete` needs. */
  add(item: T, at: number): number {
    if (!this.interval) {
      // Not unref'd: a pending deadline keeps the process alive, as the timer it replaces did.
      this.interval = setInterval(() => this.sweep(), this.tickMs)
      // Nothing waits (no bucket is left behind): the sweeps start from now.
      this.swept = Math.max(this.swept, this.tickOf(Date.now()) - 1)
    }
    // The first tick that starts at or after the deadline (one already swept: the next sweep).
    const tick = Math.max(Math.ceil(at / this.tickMs), this.swept + 1)
    let bucket = this.buckets.get(tick)
    if (!bucket) this.buckets.set(tick, (bucket = new Set()))
    bucket.add(item)
    return tick
  }

  /** Takes `item` out before its deadline (it was woken): it will not expire. */
  delete(item: T, tick: number) {
    const bucket = this.buckets.get(tick)
    if (!bucket?.delete(item) || bucket.size > 0) return
    this.buckets.delete(tick)
    this.idle()
  }

  /** Items waiting (for tests and metrics). */
  get size(): number {
    let n = 0
    for (const bucket of this.buckets.values()) n += bucket.size
    return n
  }

  private tickOf(at: number): number {
    return Math.floor(at / this.tickMs)
  }

  private sweep() {
    const now = this.tickOf(Date.now())
    // Every tick since the last sweep: an interval that fired late skips none.
    for (let tick = this.swept + 1; tick <= now; tick++) {
      // Swept before its items expire: one that is added again from `expire` lands in a later tick.
      this.swept = tick
      const bucket = this.buckets.get(tick)
      if (!bucket) continue
      this.buckets.delete(tick)
      for (const item of bucket) item.expire()
    }
    this.idle()
  }

  private idle() {
    if (this.buckets.size > 0 || !this.interval) return
    clearInterval(this.interval)
    this.interval = undefined
  }
}
