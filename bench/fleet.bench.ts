/**
 * Agent fleet, on PostgreSQL: N simulated agents long-poll one API process (the built server,
 * plain node). The agents are a load generator in its own process (lib/fleet-agents.ts), so they
 * do not share the server's event loop. For each size: the server's RSS and CPU while it holds an
 * idle fleet (only the long-polls and their re-polls), then the dispatch latency from a CSR's POST
 * to the agent holding the command (p50, p99), and every error on the way.
 *
 * The issue's lines: dispatch at 1,000 agents (p50 < 10 ms, p99 < 50 ms); 20,000 agents (RSS
 * < 1 GiB, idle CPU < 15 % of one core, dispatch p50 < 20 ms, p99 < 100 ms, no errors); 50,000
 * reported.
 *
 *   npx tsx bench/fleet.bench.ts                       1,000 / 20,000 / 50,000 agents
 *   BENCH_QUICK=1                                       20 / 50 / 100 agents, short windows
 *   BENCH_FLEET_SIZES=1000,5000,10000                   other sizes (first = the 1,000 line, …)
 *   BENCH_FLEET_SAMPLES=200  BENCH_FLEET_WINDOW=50       dispatches timed; idle window in s (default: one hold)
 *   BENCH_FLEET_JOIN_SECONDS=900                        give up growing after this long per size
 *   BENCH_FLEET_POLL_WAIT=60                            the server's hold (default: its own, 50 s)
 *   BENCH_PROFILE_DIR=/tmp/prof                         the server writes a CPU profile on stop
 *
 * File descriptors: every held agent is a socket in the server and one in the load generator.
 * Both are started through prlimit with room for the largest size (root may raise the hard
 * limit; others get their hard limit, and the server then refuses what it cannot hold).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import type { Reply, Request } from './lib/fleet-agents.ts'
import { cpuReader, spent } from './lib/proc.ts'
import { adminToken, load, openFiles, root, startServer, threadUsage, usage, withOpenFiles, type Server } from './lib/server.ts'
import { ms, report, thousands } from './lib/report.ts'
import { postgresUrl, track } from './lib/scratch.ts'
import { summarize } from './stats.ts'

const QUICK = process.env.BENCH_QUICK === '1'
const SIZES = (process.env.BENCH_FLEET_SIZES ?? (QUICK ? '20,50,100' : '1000,20000,50000')).split(',').map(Number)
const SAMPLES = Number(process.env.BENCH_FLEET_SAMPLES ?? (QUICK ? 10 : 200))
/** The idle window in seconds; unset: one hold (every held agent re-polls once in it), 2 s when quick. */
const WINDOW_SET = process.env.BENCH_FLEET_WINDOW ? Number(process.env.BENCH_FLEET_WINDOW) : undefined
const JOIN_SECONDS = Number(process.env.BENCH_FLEET_JOIN_SECONDS ?? (QUICK ? 60 : 900))

/** The load generator, forked with room for `fds` sockets. */
export function loadGenerator(fds: number) {
  const argv = withOpenFiles(fds, [process.execPath])
  const proc = track(
    fork(`${root}bench/lib/fleet-agents.ts`, [], {
      execPath: argv[0],
      execArgv: [...argv.slice(1), '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  // A load generator that died (ctrl-C, a crash) is reported by the next ask, not thrown here.
  proc.on('error', () => undefined)
  const ask = <T extends Reply['type']>(msg: Request, type: T): Promise<Extract<Reply, { type: T }>> =>
    new Promise((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if (reply.type !== type && reply.type !== 'error') return
        proc.off('message', onMessage)
        proc.off('exit', onExit)
        if (reply.type === 'error') reject(new Error(reply.message))
        else resolve(reply as Extract<Reply, { type: T }>)
      }
      const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code})`))
      if (!proc.connected) return reject(new Error('the load generator is gone'))
      proc.on('message', onMessage)
      proc.once('exit', onExit)
      proc.send(msg)
    })
  return { proc, ask }
}

interface Figures {
  agents: number
  wanted: number
  rss: number
  cpu: number
  p50: number
  p99: number
  errors: number
  setup: number
  load: string
  /** Polls answered during the idle window, per second. */
  repollsPerSecond: number
  /** The server's CPU per answered poll in the idle window, ms. */
  cpuPerRepoll: number
  /** Of `cpu`: user and system time (% of one core). */
  user: number
  system: number
  /** Set when the size was not run: what the open-file limit allows. */
  holdable?: number
}

export async function run(): Promise<void> {
  const largest = Math.max(...SIZES)
  const fds = largest + 4096
  let server: Server | undefined
  let agents: ReturnType<typeof loadGenerator> | undefined
  const figures: Figures[] = []
  let errorsBefore = 0
  try {
    server = await startServer({
      postgres: postgresUrl,
      openFiles: fds,
      env: process.env.BENCH_FLEET_POLL_WAIT ? { AGENT_POLL_WAIT_SECONDS: process.env.BENCH_FLEET_POLL_WAIT } : {},
      // The profiler's own thread costs the server CPU too (3.6 % of one core at 4,000 agents):
      // compare idle CPU only between runs profiled alike. BENCH_FLEET_NODE_ARGS: e.g. --trace-gc.
      nodeArgs: [
        ...(process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`, '--cpu-prof-name=fleet-server.cpuprofile'] : []),
        ...(process.env.BENCH_FLEET_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ],
    })
    agents = loadGenerator(fds)
    const token = await adminToken(server.url)
    // Read once prlimit has exec'd node (the first answer proves it).
    await agents.ask({ type: 'errors' }, 'errors')
    const loadgenFiles = openFiles(agents.proc.pid!).soft
    console.log(
      `fleet (PostgreSQL, built server with plain node; load generator in its own process; open files: server ${server.openFiles}, load generator ${loadgenFiles}; load average ${load()})`,
    )
    // The server holds at most its open-file limit less 256 connections (api/src/lib/fd-limit.ts)
    // and refuses the rest; the load generator needs one descriptor per agent and some more.
    const holdable = Math.min(server.openFiles - 256, loadgenFiles - 512)
    if (holdable < largest) {
      console.log(
        `  at most ${thousands(holdable)} agents fit: the open-file limit is ${thousands(Math.min(server.openFiles, loadgenFiles))} and cannot be raised here ` +
          `(prlimit past the hard limit needs CAP_SYS_RESOURCE); larger sizes are not run (raise the hard limit: ulimit -Hn, LimitNOFILE)`,
      )
    }
    console.log('  agents   joined in   server RSS   idle CPU (one core)   dispatch p50      p99   errors   load')
    for (const size of SIZES) {
      if (size > holdable) {
        figures.push({ agents: 0, wanted: size, rss: NaN, cpu: NaN, user: NaN, system: NaN, p50: NaN, p99: NaN, errors: 0, setup: 0, load: load(), repollsPerSecond: NaN, cpuPerRepoll: NaN, holdable })
        continue
      }
      const grown = await agents.ask({ type: 'grow', api: server.url, token, to: size, concurrency: 50, deadlineSeconds: JOIN_SECONDS }, 'grown')
      // Let the joins' last polls settle, then measure the idle fleet: after one whole hold, so
      // that every agent is past the poll its join began with (until then nobody re-polls, and a
      // fleet that joined faster than one hold looks free), over one hold (each re-polls once).
      const windowSeconds = WINDOW_SET ?? (QUICK ? 2 : grown.pollWaitSeconds)
      await new Promise((r) => setTimeout(r, (QUICK ? 1 : grown.pollWaitSeconds) * 1000))
      // The polls answered in the window (nearly all of them re-polls at the end of a hold): the
      // idle CPU divided by them is what one re-poll costs, the figure a longer hold divides.
      const pollsBefore = (await agents.ask({ type: 'errors' }, 'errors')).polls
      const before = usage(server.pid)
      const threadsBefore = threadUsage(server.pid)
      const from = process.hrtime.bigint() / 1000n
      await new Promise((r) => setTimeout(r, windowSeconds * 1000))
      const after = usage(server.pid)
      const threadsAfter = threadUsage(server.pid)
      // The profile's clock is the same monotonic one: its samples in this range are the idle fleet's.
      if (process.env.BENCH_PROFILE_DIR) console.log(`    idle window in the profile's clock: ${from} ${process.hrtime.bigint() / 1000n} µs`)
      const repolls = (await agents.ask({ type: 'errors' }, 'errors')).polls - pollsBefore
      const idleCpu = ((after.cpu - before.cpu) / windowSeconds) * 100
      await agents.ask({ type: 'dispatch', samples: SAMPLES, prime: true }, 'dispatched')
      // CPU per timed dispatch: the server's and its PostgreSQL backends' (each cycle is the POST,
      // the held poll's answer, the agent's report and its re-poll; the idle fleet's re-polls are
      // in it too, a few per second).
      const cpu = cpuReader({ pid: server.pid, database: server.database })
      const cpu0 = cpu(true)
      const dispatchFrom = process.hrtime.bigint() / 1000n
      const d0 = performance.now()
      const { latencies, posts } = await agents.ask({ type: 'dispatch', samples: SAMPLES }, 'dispatched')
      const dispatchSeconds = (performance.now() - d0) / 1000
      const dispatchCpu = spent(cpu0, cpu(true))
      if (process.env.BENCH_PROFILE_DIR) console.log(`    timed dispatches in the profile's clock: ${dispatchFrom} ${process.hrtime.bigint() / 1000n} µs`)
      const { count, examples } = await agents.ask({ type: 'errors' }, 'errors')
      const s = summarize(latencies)
      const f: Figures = {
        agents: grown.agents,
        wanted: size,
        rss: after.rss,
        cpu: idleCpu,
        p50: s.p50,
        p99: s.p99,
        errors: count - errorsBefore,
        setup: grown.seconds,
        load: load(),
        repollsPerSecond: repolls / windowSeconds,
        cpuPerRepoll: repolls > 0 ? ((after.cpu - before.cpu) * 1000) / repolls : NaN,
        user: ((after.user - before.user) / windowSeconds) * 100,
        system: ((after.system - before.system) / windowSeconds) * 100,
      }
      errorsBefore = count
      figures.push(f)
      console.log(
        `  ${thousands(f.agents).padStart(6)}   ${`${f.setup.toFixed(0)} s`.padStart(9)}   ${`${(f.rss / 2 ** 20).toFixed(0)} MiB`.padStart(10)}   ${`${idleCpu.toFixed(1)} %`.padStart(19)}   ${ms(f.p50).padStart(12)}   ${ms(f.p99).padStart(8)}   ${String(f.errors).padStart(6)}   ${f.load}` +
          `   (hold ${grown.pollWaitSeconds} s, ${latencies.length} dispatches; the CSR's POST answered in p50 ${ms(summarize(posts).p50)}; dispatching took ${dispatchSeconds.toFixed(0)} s)`,
      )
      const perDispatch = (x: number) => ms(x / Math.max(1, latencies.length))
      console.log(
        `    dispatch CPU: server ${perDispatch(dispatchCpu.server)} (system ${perDispatch(dispatchCpu.serverSystem)}) + PostgreSQL backends ${perDispatch(dispatchCpu.database)} per timed dispatch ` +
          `(the whole cycle: POST, answer, report, re-poll)`,
      )
      // Idle CPU is re-polls × their cost: per 1,000 held agents, and what 20,000 would take at this hold.
      const perThousand = (idleCpu * 1000) / f.agents
      console.log(
        `    idle: ${f.repollsPerSecond.toFixed(0)} polls/s (${grown.pollWaitSeconds} s hold: ${(f.agents / grown.pollWaitSeconds).toFixed(0)} expected), ${f.cpuPerRepoll.toFixed(3)} ms of server CPU per poll, ` +
          `${perThousand.toFixed(2)} % of one core per 1,000 held agents (20,000 at this hold and cost: ${(perThousand * 20).toFixed(1)} %)`,
      )
      // The target is all of it (user + system). On loopback the system part also holds the load
      // generator's receive path, run inside the server's writes: on a real network it is the NIC's.
      console.log(`    idle CPU split: user ${f.user.toFixed(1)} %, system ${f.system.toFixed(1)} % (of one core; system includes the loopback peer's receive path)`)
      const threads = [...threadsAfter].map(([name, a]) => {
        const b = threadsBefore.get(name) ?? { user: 0, system: 0 }
        return { name, user: ((a.user - b.user) / windowSeconds) * 100, system: ((a.system - b.system) / windowSeconds) * 100 }
      })
      console.log(
        `    by thread: ${threads
          .filter((t) => t.user + t.system >= 0.05)
          .sort((a, b) => b.user + b.system - (a.user + a.system))
          .map((t) => `${t.name} ${t.user.toFixed(1)} + ${t.system.toFixed(1)} %`)
          .join(', ')} (user + system)`,
      )
      for (const e of examples.slice(0, f.errors > 0 ? 3 : 0)) console.log(`    error: ${e}`)
    }
  } finally {
    const s0 = performance.now()
    if (agents?.proc.connected) agents.proc.send({ type: 'stop' } satisfies Request)
    await server?.stop()
    console.log(`  (stopped in ${((performance.now() - s0) / 1000).toFixed(1)} s)`)
    agents?.proc.kill('SIGKILL')
  }

  // The sizes are, in order, the 1,000-agent line, the 20,000 line and the 50,000 one; one size above
  // 1,000 run alone (BENCH_FLEET_SIZES=19000) is the fleet line, judged by its own targets.
  const [small, main, big]: (Figures | undefined)[] = figures.length === 1 && figures[0]!.wanted > 1000 ? [undefined, figures[0]] : figures
  const size = (f: Figures) => (f.agents === f.wanted ? thousands(f.agents) : `${thousands(f.agents)} of ${thousands(f.wanted)}`)
  if (small) {
    report({
      what: `dispatch at ${size(small)} agents: p50 / p99`,
      db: 'PostgreSQL',
      today: '114 / 174 ms',
      figure: `${ms(small.p50)} / ${ms(small.p99)}`,
      target: '< 10 / < 50 ms',
      ok: small.p50 < 10 && small.p99 < 50 && small.agents === small.wanted,
      errors: small.errors,
    })
  }
  for (const [f, targeted] of [[main, true], [big, false]] as const) {
    if (!f) continue
    if (f.holdable !== undefined) {
      report({
        what: `fleet of ${thousands(f.wanted)} agents: RSS, idle CPU, dispatch p50 / p99`,
        db: 'PostgreSQL',
        today: targeted ? '10,000: 829 MiB, 78 %, 200 ms / 6.3 s, broke' : 'not reached',
        figure: `not run: at most ${thousands(f.holdable)} agents fit the open-file limit here`,
        target: targeted ? '< 1 GiB, < 15 %, < 20 / < 100 ms, no errors' : 'reported',
        ok: targeted ? false : undefined,
        errors: 0,
      })
      continue
    }
    const rssOk = f.rss < 2 ** 30
    const cpuOk = f.cpu < 15
    report({
      what: `fleet of ${size(f)} agents: RSS, idle CPU, dispatch p50 / p99`,
      db: 'PostgreSQL',
      today: targeted ? '10,000: 829 MiB, 78 %, 200 ms / 6.3 s, broke' : 'not reached',
      figure: `${(f.rss / 2 ** 20).toFixed(0)} MiB, ${f.cpu.toFixed(1)} %, ${ms(f.p50)} / ${ms(f.p99)}`,
      target: targeted ? '< 1 GiB, < 15 %, < 20 / < 100 ms, no errors' : 'reported',
      ok: targeted ? rssOk && cpuOk && f.p50 < 20 && f.p99 < 100 && f.agents === f.wanted : undefined,
      errors: f.errors,
    })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
