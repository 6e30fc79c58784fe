import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { sql } from 'drizzle-orm'
import type { Database } from '../db/client.ts'
import { unavailableCause } from '../db/unavailable.ts'
import type { Notifier } from './notifier.ts'

/**
 * What Prometheus scrapes at /metrics. Two kinds of numbers, named so nobody sums the wrong ones:
 * - this instance's own (`helpline_http_*`, polls held, streams open, database errors, notifier
 *   lag, and the process metrics): sum them over instances;
 * - the work recorded in the database (`helpline_agents_online`, `helpline_commands`,
 *   `helpline_consents`, `helpline_script_runs`, `helpline_script_output_bytes`): read by each
 *   instance at scrape time from the one PostgreSQL, so every instance reports the same value;
 *   take `max` over instances, never `sum`. Counting at the source means a restarted or killed
 *   instance loses nothing, and the numbers agree with the console.
 * One registry per app (not prom-client's global one), so tests build many apps in one process.
 */
export interface Metrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status'>
  pollsHeld: Gauge
  streamsOpen: Gauge
  databaseErrors: Counter<'kind'>
  /** Call on every error a request or a scrape ran into; counts the database's. */
  noteError(err: unknown): void
  /** Stops the notifier probe. */
  close(): void
}

/** Request durations in seconds: fast API answers up to held polls (50 s by default, at most 60) and streams. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
/** How often the notifier's round trip (NOTIFY → this instance's LISTEN) is measured. */
const PROBE_INTERVAL_MS = 5_000

/** The database error's kind: `unavailable` (connection lost, timeout, shutdown), `sqlstate_XX` (a refused statement, by class), or undefined (not the database's). */
export function databaseErrorKind(err: unknown): string | undefined {
  if (unavailableCause(err)) return 'unavailable'
  let current: unknown = err
  for (let depth = 0; depth < 8 && current && typeof current === 'object'; depth++) {
    const { severity, code } = current as { severity?: unknown; code?: unknown }
    // postgres.js's PostgresError and PGlite's DatabaseError both carry the server's severity and SQLSTATE.
    if (typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `sqlstate_${code.slice(0, 2)}`
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

interface Counted {
  rows: Record<string, unknown>[]
}

/** Rows of a query, whichever driver answered (postgres.js gives an array, PGlite an object with rows). */
async function rows(database: Database, query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  const result = (await database.db.execute(query)) as unknown as Counted | Record<string, unknown>[]
  return Array.isArray(result) ? result : result.rows
}

export function createMetrics(database: Database, notifier: Notifier, options: { poolMax: number; instance: string }): Metrics {
  const registry = new Registry()
  // Memory, CPU, event-loop delay and handles of this process (helpline_process_resident_memory_bytes, …).
  collectDefaultMetrics({ register: registry, prefix: 'helpline_' })

  const databaseErrors = new Counter({
    name: 'helpline_database_errors_total',
    help: 'Database errors this instance ran into, by kind: unavailable (connection lost, timeout) or the SQLSTATE class of a refused statement',
    labelNames: ['kind'] as const,
    registers: [registry],
  })
  const noteError = (err: unknown) => {
    const kind = databaseErrorKind(err)
    if (kind) databaseErrors.inc({ kind })
  }

  const httpDuration = new Histogram({
    name: 'helpline_http_request_duration_seconds',
    help: 'Time to answer a request, by method, route (the pattern, not the URL) and status; held agent polls count up to their wait',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  })
  const pollsHeld = new Gauge({ name: 'helpline_agent_polls_held', help: 'Agent long-polls this instance holds open now', registers: [registry] })
  const streamsOpen = new Gauge({ name: 'helpline_live_streams_open', help: 'Console live streams (server-sent events) this instance holds open now', registers: [registry] })

  // The database's numbers are read in one go per scrape; each gauge's collect awaits the same read.
  let reading: Promise<void> | undefined
  const readDatabase = () => {
    reading ??= readCounts().finally(() => {
      reading = undefined
    })
    return reading
  }
  /** A gauge whose values come from the database read of the scrape. */
  const fromDatabase = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry], collect: readDatabase })
  const databaseUp = fromDatabase('helpline_database_up', '1 when the last scrape could read the database, else 0')
  const agentsOnline = fromDatabase('helpline_agents_online', 'Agents online now (from the database; the same on every instance)')
  const commands = fromDatabase('helpline_commands', 'Commands by kind and status (from the database; the same on every instance)', ['kind', 'status'] as const)
  const consents = fromDatabase(
    'helpline_consents',
    'Consent requests by kind and status: approved and denied are the customers\u2019 answers (from the database)',
    ['kind', 'status'] as const,
  )
  const scriptRuns = fromDatabase('helpline_script_runs', 'Script runs by status, finished ones by outcome (from the database)', ['status'] as const)
  const outputBytes = fromDatabase('helpline_script_output_bytes', 'Script output stored, in bytes (from the database)')
  const connections = fromDatabase(
    'helpline_database_connections',
    'Connections of every Helpline instance to PostgreSQL by state (pg_stat_activity; active = a query running); PostgreSQL only',
    ['state'] as const,
  )
  new Gauge({ name: 'helpline_database_pool_max', help: 'The most connections this instance opens to the database', registers: [registry] }).set(options.poolMax)

  /** Reads every database-derived number; a failure leaves the last values and says database_up 0. */
  async function readCounts() {
    try {
      const [agentRows, commandRows, consentRows, runRows, bytesRows] = await Promise.all([
        rows(database, sql`select count(*)::int as n from agents where state = 'online'`),
        rows(database, sql`select kind, status::text as status, count(*)::int as n from commands group by 1, 2`),
        rows(database, sql`select kind::text as kind, status::text as status, count(*)::int as n from consent_requests group by 1, 2`),
        rows(database, sql`select status::text as status, count(*)::int as n from script_runs group by 1`),
        rows(database, sql`select coalesce(sum(output_bytes), 0)::float8 as n from script_runs`),
      ])
      agentsOnline.set(Number(agentRows[0]?.n ?? 0))
      setLabelled(commands, commandRows, ['kind', 'status'])
      setLabelled(consents, consentRows, ['kind', 'status'])
      setLabelled(scriptRuns, runRows, ['status'])
      outputBytes.set(Number(bytesRows[0]?.n ?? 0))
      if (database.driver === 'postgres') {
        const byState = await rows(
          database,
          sql`select coalesce(state, 'unknown') as state, count(*)::int as n from pg_stat_activity where application_name = 'helpline' and datname = current_database() group by 1`,
        )
        setLabelled(connections, byState, ['state'])
      }
      databaseUp.set(1)
    } catch (err) {
      noteError(err)
      databaseUp.set(0)
    }
  }

  const probe = notifierProbe(notifier, options.instance, registry)
  return { registry, httpDuration, pollsHeld, streamsOpen, databaseErrors, noteError, close: probe.stop }
}

/** Replaces a labelled gauge's values by a query's rows (a label set no longer present goes away). */
function setLabelled<L extends string>(gauge: Gauge<L>, found: Record<string, unknown>[], labels: readonly L[]) {
  gauge.reset()
  for (const row of found) {
    const values = Object.fromEntries(labels.map((l) => [l, String(row[l])])) as Record<L, string>
    gauge.set(values, Number(row.n ?? 0))
  }
}

/**
 * Notifier lag: every few seconds the instance publishes a wake-up on a topic of its own and
 * times its arrival back through the notifier (on PostgreSQL: NOTIFY, the server, this instance's
 * LISTEN connection). While a probe is outstanding the gauge shows how long it has been waiting,
 * so a LISTEN connection that went dead shows as a lag that keeps growing.
 */
function notifierProbe(notifier: Notifier, instance: string, registry: Registry) {
  let lastLag = 0
  let sentAt: number | undefined
  let unsubscribe: (() => void) | undefined
  let counter = 0
  new Gauge({
    name: 'helpline_notifier_lag_seconds',
    help: 'Round trip of a wake-up through the notifier (LISTEN/NOTIFY on PostgreSQL), or how long the current one has been waiting when longer',
    registers: [registry],
    collect() {
      const waiting = sentAt === undefined ? 0 : (Date.now() - sentAt) / 1000
      this.set(Math.max(lastLag, waiting))
    },
  })
  const send = () => {
    if (sentAt !== undefined) return // the last one has not come back: the gauge already grows
    counter += 1
    const topic = `metrics-probe:${instance}:${counter}`
    const started = Date.now()
    sentAt = started
    unsubscribe = notifier.subscribe(topic, () => {
      lastLag = (Date.now() - started) / 1000
      sentAt = undefined
      unsubscribe?.()
      unsubscribe = undefined
    })
    notifier.publish(topic)
  }
  send()
  const timer = setInterval(send, PROBE_INTERVAL_MS)
  timer.unref()
  return {
    stop: () => {
      clearInterval(timer)
      unsubscribe?.()
    },
  }
}
