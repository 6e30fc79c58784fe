import { setTimeout as sleep } from 'node:timers/promises'
import { ApiError, createClient, timeoutSignal, type HelplineClient, type Schemas } from '@helpline/sdk'
import { isMessageKey, type MessageKey, type Translate } from './i18n/index.ts'
import type { PlatformAdapter } from './platform/index.ts'
import type { AgentCommand, RunContext, Runner } from './runners/index.ts'
import { Identity, LogoffRunner, LogonRunner } from './runners/logon.ts'
import { RebootRunner } from './runners/reboot.ts'
import { removeLeftoverSpills } from './runners/output-streamer.ts'
import { removeLeftoverRunDirs } from './runners/script-exec.ts'
import { recoverInterrupted, ScriptsRunner, type RunsApi } from './runners/scripts.ts'
import { SystemInfoRunner } from './runners/system-info.ts'
import { describeProblem, verifyScripts, wordProblem, type VerifyProblem } from './runners/verify.ts'
import { fetchWithTimeout, isTransient, retryDelay } from './retry.ts'
import { RunJournal, type AgentState, type ApprovedScript, type StateStore } from './state.ts'
import type { CustomerUi } from './ui/hub.ts'
import { AGENT_PROTOCOL, agentVersion, compatible } from './version.ts'

export type ApproveMode = 'ask' | 'all' | 'none'

export interface AgentOptions {
  server: string
  /** The session number, for `join`; absent for `rejoin`. */
  number?: string | undefined
  approve: ApproveMode
  t: Translate
  platform: PlatformAdapter
  /** Where the customer is: the terminal, the customer window, or both (ui/hub.ts). */
  terminal: CustomerUi
  store: StateStore
  /** The organisation's name, from the join ticket, for the customer window's title. */
  org?: string | undefined
  /**
   * False when nobody can answer a prompt on this computer (no window, no terminal: a service
   * after a restart); the agent then tells the CSR in the chat instead of letting requests expire silently.
   */
  interactive?: boolean
  /** The first retry waits up to this long; the ceiling doubles with each attempt up to maxRetryMs (30 s). */
  retryMs?: number
  maxRetryMs?: number
  /** While the session's CSR has not let this computer in: how often to try the join again (10 s), and for how long (10 min). */
  admissionRetryMs?: number
  admissionWaitMs?: number
  /** How long past the server's hold an unanswered poll is given up as a dead connection (POLL_MARGIN_MS). */
  pollMarginMs?: number
  /** How long a joined agent's calls must keep failing before the customer is told the connection is lost (LOST_NOTICE_MS). */
  lostNoticeMs?: number
}

/**
 * A joined agent tells the customer the connection is lost only once its calls have failed for
 * this long: a blip (one poll reset while a load balancer moves it to another instance, a server
 * restarted behind it, a Wi-Fi hand-over) is retried within a second or two and should not alarm
 * someone who cannot tell it from a real outage. The first contact is told at once (the customer
 * is waiting for it). Those who are told also hear when it is back.
 */
export const LOST_NOTICE_MS = 4_000

/** Held polls failing this many rounds in a row while quick ones pass: the retries hold too (and back off). */
const MAX_HELD_FAILURES = 3

/** Ends the agent with a message and an exit code. */
export class AgentExit extends Error {
  constructor(
    readonly code: number,
    readonly key: MessageKey | undefined,
    readonly values: Record<string, string | number> = {},
  ) {
    super(key ?? `exit ${code}`)
  }
}

/** `rebooting`: the agent restarts the computer (or, simulated, exits as if it did) and rejoins from its saved state afterwards. */
export const EXIT = { ok: 0, usage: 2, incompatible: 3, sessionGone: 4, tooMany: 5, notLetIn: 6, rebooting: 10 } as const

/** The longest one call may take: a poll is held at most 60 s (and has its own, shorter limit), a file is at most 1 MiB. */
const REQUEST_TIMEOUT_MS = 90_000
/**
 * A poll is answered by the end of the server's hold; one still unanswered this long after it is
 * on a dead connection (the laptop changed networks, a NAT forgot it) and is given up and sent
 * again on a new one. The margin covers a loaded server or balancer answering a few seconds late.
 */
export const POLL_MARGIN_MS = 15_000
/** The first contact answers at once when it answers at all: a connection that hangs is told to the customer as unreachable (and retried) after this long, not after REQUEST_TIMEOUT_MS. */
const HEALTH_TIMEOUT_MS = 10_000

type Feed = Schemas['AgentFeed']
type Joined = Schemas['AgentJoined']

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause
  if (cause?.code) return cause.code
  if (err instanceof ApiError) return `${err.status} ${err.code}`
  if ((err as { name?: string })?.name === 'TimeoutError') return 'TimeoutError'
  return err instanceof Error ? err.message : String(err)
}

/** The chunk the server wants next after 409 OUTPUT_SEQUENCE_GAP; undefined for any other error. */
function gapAt(err: unknown): number | undefined {
  if (!(err instanceof ApiError) || err.code !== 'OUTPUT_SEQUENCE_GAP') return undefined
  const expected = Number(err.errors.expectedSequence)
  return Number.isSafeInteger(expected) && expected >= 0 ? expected : undefined
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string })?.name === 'AbortError'
}

/**
 * One run of the agent: check the server, join (or rejoin), then long-poll until the session
 * ends or the customer leaves. Consent prompts, commands and chat arrive through the poll.
 */
export class Agent {
  private readonly api: HelplineClient
  private state: AgentState | undefined
  private readonly stopping = new AbortController()
  private readonly consents = new Map<string, { title: string; cancel?: () => void; answered: boolean }>()
  private readonly seenCommands = new Set<string>()
  private readonly runners = new Map<string, Runner>()
  private work: Promise<void> = Promise.resolve()
  private csrName = ''
  /** How long the server holds a poll (told at join; 25 s for an agent resumed from its saved state). */
  private pollWait = 25
  private customerName = ''
  private readonly journal: RunJournal
  /** One per command handed to a runner: aborted when the server says it was cancelled. */
  private readonly cancels = new Map<string, AbortController>()
  private readonly runsApi: RunsApi
  /** Who scripts and system information run as: the customer's own user, or one a CSR logged on as. */
  private readonly identity = new Identity()
  /** Set when the computer is being restarted: the poll loop ends and the agent exits with EXIT.rebooting. */
  private restarting: 'restarting' | 'simulated' | undefined
  /** When the server stopped answering; cleared by the next answer. */
  private lostAt: number | undefined
  /** Poll rounds in a row whose held poll failed (MAX_HELD_FAILURES: retries stop asking for a quick answer). */
  private heldFailures = 0
  /** Whether the customer was told of the outage that began at lostAt (then they hear when it ends). */
  private told = false
  /** Tells the customer of a joined agent's outage once it has lasted LOST_NOTICE_MS. */
  private lostNotice: NodeJS.Timeout | undefined
  /** Calls whose last attempt failed and that are still retrying: while any is, the outage is not over. */
  private failing = 0

  constructor(private readonly options: AgentOptions) {
    this.api = createClient({ baseUrl: options.server, token: () => this.state?.agentToken, fetch: fetchWithTimeout(REQUEST_TIMEOUT_MS) })
    const { t, platform } = options
    this.journal = new RunJournal(options.store.dir)
    this.runsApi = this.createRunsApi()
    this.addRunner(
      new ScriptsRunner({
        api: this.runsApi,
        journal: this.journal,
        signalFor: (commandId) => (this.cancels.get(commandId) ?? new AbortController()).signal,
        spillDir: options.store.dir,
        runAs: () => this.identity.runAs(),
        signingKey: () => this.state?.signingKey,
        messages: {
          starting: (name, n, count, username) => (username ? t('scriptStartingAs', { name, n, count, username }) : t('scriptStarting', { name, n, count })),
          finished: (name, status) => t('scriptFinished', { name, status: t(`status_${status}` as MessageKey) }),
          refused: (reason) => t('scriptsRefused', { reason }),
          unverified: (problem) => t('scriptsNotVerified', { reason: wordProblem(problem, t) }),
        },
      }),
    )
    this.addRunner(
      new SystemInfoRunner({
        collect: () => platform.collectSystemInfo(this.identity.runAs()),
        upload: async (commandId, body) => {
          await this.retry('poll', () => this.api.POST('/api/v1/agent/commands/{id}/system-info', { params: { path: { id: commandId } }, body })).catch(
            (err: unknown) => {
              // Cancelled or finished meanwhile (the session ended): nothing left to do.
              if (!(err instanceof ApiError && err.status === 409)) throw err
            },
          )
        },
        messages: {
          collecting: () => t('collecting', { csr: this.csrName }),
          collected: (count) => t('collected', { count }),
          failed: (reason) => t('collectFailed', { reason }),
        },
      }),
    )
    this.addRunner(
      new LogonRunner({
        privateKey: () => options.store.privateKey(),
        logon: (credentials) => platform.logon(credentials),
        identity: this.identity,
        messages: {
          loggedOn: (username, note) =>
            note === 'windows'
              ? t('loggedOnWindows', { csr: this.csrName, username })
              : [t('loggedOnAs', { csr: this.csrName, username }), ...(note === 'simulated' ? [t('loggedOnSimulated')] : [])].join('\n'),
          failed: (reason, username, message) => {
            if (reason === 'bad_credentials') return t('logonBadCredentials', { username })
            if (reason === 'not_permitted') return t('logonNotPermitted')
            if (reason === 'decrypt_failed') return t('logonDecryptFailed')
            if (reason === 'credentials_gone') return t('logonCredentialsGone')
            return t('logonUnavailable', { username, reason: message.replace(/^Logon failed: /, '') })
          },
        },
      }),
    )
    this.addRunner(
      new LogoffRunner({
        identity: this.identity,
        ownUsername: () => platform.ownUsername(),
        messages: { loggedOff: (username, own) => (username ? t('loggedOff', { username, own }) : t('loggedOffAlready', { own })) },
      }),
    )
    this.addRunner(
      new RebootRunner({
        journal: this.journal,
        saveState: () => {
          if (this.state) options.store.save(this.state)
        },
        ensureAutostart: () => platform.ensureAutostart(options.store.dir),
        reboot: () => platform.reboot(),
        onRestarting: (how) => {
          this.restarting = how
          this.stop()
        },
        onFailed: async (reason) => {
          await this.api.POST('/api/v1/agent/chat', { body: { body: t('rebootFailedChat', { reason }).slice(0, 4000) } })
        },
        messages: {
          restarting: (autostart) =>
            autostart.ok ? t('rebootAutostart', { csr: this.csrName, how: autostart.detail }) : t('rebootNoAutostart', { csr: this.csrName, why: autostart.detail }),
          alreadyDone: () => t('rebootAlreadyDone'),
          failed: (reason) => t('rebootFailed', { reason }),
        },
      }),
    )
  }

  /** Back to the customer's own user (the session ended, the customer left, the agent stops), saying so. */
  private backToOwnUser(key: 'loggedOffSessionEnded' | 'loggedOffLeaving' | 'loggedOffRejoined' | 'loggedOffStopped') {
    const was = this.identity.reset()
    if (was) this.say(key, { username: was })
  }

  /** The script-run calls, each retried until the server answers; a 409 means the server closed the run (or wants output resent). */
  private createRunsApi(): RunsApi {
    const path = (id: string) => ({ params: { path: { id } } })
    const closed = (err: unknown) => err instanceof ApiError && err.status === 409
    return {
      download: async (runId, name) => {
        const { data } = await this.retry('poll', () =>
          this.api.GET('/api/v1/agent/script-runs/{id}/files/{name}', { params: { path: { id: runId, name } }, parseAs: 'arrayBuffer' }),
        )
        return new Uint8Array(data as unknown as ArrayBuffer)
      },
      start: async (runId, startId) => {
        try {
          await this.retry('poll', () => this.api.POST('/api/v1/agent/script-runs/{id}/start', { ...path(runId), body: { startId } }))
          return 'started'
        } catch (err) {
          if (closed(err)) return 'refused'
          throw err
        }
      },
      output: async (runId, chunks) => {
        try {
          const { data } = await this.retry('poll', () => this.api.POST('/api/v1/agent/script-runs/{id}/output', { ...path(runId), body: { chunks } }))
          return { kind: 'stored', status: data!.status }
        } catch (err) {
          const expected = gapAt(err)
          if (expected !== undefined) return { kind: 'gap', expected }
          if (closed(err) || (err instanceof ApiError && err.status === 404)) return { kind: 'closed' }
          throw err
        }
      },
      finish: async (runId, body) => {
        try {
          await this.retry('poll', () => this.api.POST('/api/v1/agent/script-runs/{id}/finish', { ...path(runId), body }))
        } catch (err) {
          const expected = gapAt(err)
          if (expected !== undefined) return { gap: expected }
          if (!closed(err) && !(err instanceof ApiError && err.status === 404)) throw err
        }
        return 'done'
      },
    }
  }

  /** Forgets the session: the saved state and the run journal. */
  private forget() {
    this.options.store.clear()
    this.journal.clear()
  }

  addRunner(runner: Runner) {
    this.runners.set(runner.kind, runner)
  }

  private say(key: MessageKey, values?: Record<string, string | number>) {
    this.options.terminal.say(this.options.t(key, values))
  }

  /**
   * Calls the server until it answers: network failures, every 5xx and 429 are retried, forever,
   * with backoff and full jitter (capped at 30 s) or after the server's Retry-After; other errors
   * are the caller's. The customer hears once that the connection was lost and once that it is
   * back, however many calls retry meanwhile. Stops when the agent stops.
   */
  private async retry<T>(what: 'connect' | 'poll', call: () => Promise<T>, transient: (err: unknown) => boolean = isTransient): Promise<T> {
    // Whether this call's last attempt failed (it counts in `failing` until it ends either way).
    let failing = false
    const settle = () => {
      if (failing) this.failing--
      failing = false
    }
    try {
      for (let attempt = 0; ; attempt++) {
        const started = performance.now()
        try {
          const result = await call()
          settle()
          this.answered(started)
          return result
        } catch (err) {
          if (this.stopping.signal.aborted || isAbort(err)) throw err
          if (!transient(err)) {
            settle()
            if (err instanceof ApiError && !isTransient(err)) this.answered(started)
            throw err
          }
          if (!failing) this.failing++
          failing = true
          this.unanswered(what, err)
          await sleep(retryDelay(err, attempt, this.options.retryMs ?? 1000, this.options.maxRetryMs ?? 30_000), undefined, { signal: this.stopping.signal }).catch(
            () => undefined,
          )
          if (this.stopping.signal.aborted) throw err
        }
      }
    } finally {
      settle()
    }
  }

  /**
   * An outage is told once: at its first failure before the agent has joined, after LOST_NOTICE_MS
   * of failing once it has (with the latest failure's reason); a shorter one says nothing at all.
   */
  private unanswered(what: 'connect' | 'poll', err: unknown) {
    this.lastFailure = err
    if (this.lostAt !== undefined) return
    this.lostAt = performance.now()
    // What the customer was doing when it began says which words fit (a rejoin failing later in
    // a joined agent's outage does not turn "lost" into "cannot reach").
    this.lostWhat = what
    if (what === 'connect') return this.tellLost()
    this.lostNotice = setTimeout(() => this.tellLost(), this.options.lostNoticeMs ?? LOST_NOTICE_MS)
    this.lostNotice.unref()
  }

  /** The latest failure, whose reason the outage notice gives. */
  private lastFailure: unknown
  /** The kind of call whose failure began the outage. */
  private lostWhat: 'connect' | 'poll' = 'poll'

  private tellLost() {
    if (this.lostAt === undefined || this.told || this.stopping.signal.aborted) return
    this.told = true
    this.options.terminal.status({ phase: 'reconnecting' })
    this.say(this.lostWhat === 'connect' ? 'unreachable' : 'connectionLost', { server: this.options.server, reason: describe(this.lastFailure) })
  }

  /**
   * An answer to a call made after the connection was lost ends the outage, once — unless another
   * call is still failing: a server whose database is down may answer a poll from memory while it
   * refuses the script's output, and the customer must not read "lost … back … lost" each time.
   * An answer to an older call (a long-poll held from before) says nothing about now.
   */
  private answered(startedAt: number) {
    if (this.lostAt === undefined || startedAt < this.lostAt || this.failing > 0) return
    this.lostAt = undefined
    clearTimeout(this.lostNotice)
    if (!this.told) return
    this.told = false
    if (this.state) this.options.terminal.status({ phase: 'joined' })
    this.say('reconnected')
  }

  async checkServer() {
    this.say('connecting', { server: this.options.server })
    let health: { version?: string } | undefined
    try {
      // A 503 is an answer here: a Helpline whose database is down still says its version.
      health = (await this.retry('connect', () => this.api.GET('/health', { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) }), (err) => isTransient(err) && !(err instanceof ApiError && err.status === 503))).data
    } catch (err) {
      if (err instanceof ApiError && err.status === 503) {
        health = (err.body as unknown as { version?: string }).version ? (err.body as unknown as { version: string }) : undefined
      }
      if (!health) throw new AgentExit(EXIT.incompatible, 'notHelpline', { server: this.options.server, reason: describe(err) })
    }
    if (!health?.version) throw new AgentExit(EXIT.incompatible, 'notHelpline', { server: this.options.server, reason: 'no version' })
    if (!compatible(health.version)) {
      throw new AgentExit(EXIT.incompatible, 'incompatible', { server: this.options.server, serverVersion: health.version, agentVersion })
    }
  }

  private async platformBody() {
    const details = await this.options.platform.details()
    return { ...details, hostname: details.hostname.slice(0, 255), osVersion: details.osVersion.slice(0, 200) }
  }

  private joinError(err: unknown, number: string): never {
    if (err instanceof ApiError) {
      if (err.status === 404 && err.code === 'SESSION_NOT_FOUND') throw new AgentExit(EXIT.usage, 'wrongNumber', { number })
      if (err.status === 404 || err.code === 'UNSUPPORTED_PROTOCOL') {
        throw new AgentExit(EXIT.incompatible, 'incompatible', { server: this.options.server, serverVersion: '?', agentVersion })
      }
      if (err.status === 429) throw new AgentExit(EXIT.tooMany, 'tooManyAttempts', { seconds: /(\d+) s/.exec(err.message)?.[1] ?? 60 })
    }
    throw err
  }

  private adopt(joined: Joined) {
    this.csrName = joined.session.csrName
    this.pollWait = Math.min(60, Math.max(1, joined.pollWaitSeconds))
    this.state = {
      server: this.options.server,
      sessionId: joined.session.id,
      sessionNumber: joined.session.number,
      agentId: joined.agentId,
      agentToken: joined.agentToken,
      rejoinToken: joined.rejoinToken,
      cursor: this.state?.sessionId === joined.session.id ? this.state.cursor : 0,
      csrName: joined.session.csrName,
      savedAt: '',
      signingKey: joined.signingKey,
    }
    this.options.store.save(this.state)
    this.customerName = joined.session.customerName
    this.options.terminal.status({
      phase: 'joined',
      server: this.options.server,
      number: joined.session.number,
      csr: joined.session.csrName,
      ...(this.options.org ? { org: this.options.org } : {}),
    })
  }

  async join(number: string) {
    const saved = this.options.store.load()
    // Same session as the saved state (the agent was restarted): rejoin keeps its identity.
    if (saved && saved.server === this.options.server && saved.sessionNumber.replace(/\D/g, '') === number.replace(/\D/g, '')) {
      this.state = saved
      if (await this.tryRejoin(true)) return
      this.state = undefined
    }
    const body = { number, protocol: AGENT_PROTOCOL, agentVersion, platform: await this.platformBody(), publicKey: await this.options.store.publicKey() }
    // Too many join attempts (429) ends the agent with a message instead (joinError), unless it is already waiting to be let in.
    const joinTransient = (err: unknown) => isTransient(err) && !(err instanceof ApiError && err.status === 429)
    const joined = await this.joinOnceLetIn(number, () => this.retry('connect', () => this.api.POST('/api/v1/agent/join', { body }), joinTransient))
    this.adopt(joined)
    this.say('joined', { number: joined.session.number, csr: joined.session.csrName })
  }

  /**
   * A session that already had a computer refuses the number (409 SESSION_IN_USE) until its CSR
   * lets a new one in, and shows them the attempt. So the customer is told to ask for that, and
   * the join is tried again every 10 s for up to 10 minutes; Ctrl-C stops the wait.
   */
  private async joinOnceLetIn(number: string, join: () => Promise<{ data?: Joined }>): Promise<Joined> {
    const every = this.options.admissionRetryMs ?? 10_000
    const wait = this.options.admissionWaitMs ?? 10 * 60_000
    const minutes = Math.round(wait / 60_000)
    const deadline = Date.now() + wait
    let told = false
    for (;;) {
      try {
        return (await join()).data!
      } catch (err) {
        const inUse = err instanceof ApiError && err.status === 409 && err.code === 'SESSION_IN_USE'
        // Once waiting, a busy number (429: others trying it too) is one more reason to wait, not to give up.
        const busy = told && err instanceof ApiError && err.status === 429
        if (!inUse && !busy) this.joinError(err, number)
        if (Date.now() + every > deadline) throw new AgentExit(EXIT.notLetIn, 'notLetIn', { number, minutes })
        if (!told) this.say('sessionInUse', { number, seconds: Math.round(every / 1000), minutes })
        told = true
        await sleep(every, undefined, { signal: this.stopping.signal }).catch(() => undefined)
        // Stopped while waiting (Ctrl-C, SIGTERM): nothing joined, nothing to report.
        if (this.stopping.signal.aborted) throw new AgentExit(EXIT.ok, undefined)
      }
    }
  }

  /** Rejoins with the saved token; false (or an exit) when the token no longer works. */
  async tryRejoin(quiet = false): Promise<boolean> {
    const state = this.state ?? this.options.store.load()
    if (!state) throw new AgentExit(EXIT.usage, 'noSavedSession', { dir: this.options.store.dir })
    this.state = state
    try {
      const { data } = await this.retry('connect', () =>
        this.api.POST('/api/v1/agent/rejoin', { body: { rejoinToken: state.rejoinToken, protocol: AGENT_PROTOCOL, agentVersion } }),
      )
      this.adopt(data!)
      this.say('rejoined', { number: data!.session.number, csr: data!.session.csrName })
      // After a restart (or a crash) the customer window opens on this news.
      this.options.terminal.status({ notice: this.options.t('win_back', { csr: data!.session.csrName }) })
      // The server logs a rejoined agent off: so does the agent.
      this.backToOwnUser('loggedOffRejoined')
      return true
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 422)) {
        this.forget()
        if (quiet) return false
        throw new AgentExit(EXIT.sessionGone, 'rejoinFailed', { reason: err.message })
      }
      throw err
    }
  }

  /** The poll loop, until the session ends or the agent is stopped; AgentExit(EXIT.rebooting) when it stopped to restart the computer. */
  async serve(): Promise<void> {
    await this.pollLoop()
    if (this.restarting) {
      throw new AgentExit(EXIT.rebooting, this.restarting === 'simulated' ? 'rebootSimulatedExit' : 'rebootExit')
    }
  }

  private async pollLoop(): Promise<void> {
    const { terminal, approve } = this.options
    if (approve === 'all') this.say('approveAll')
    if (approve === 'none') this.say('approveNone')
    this.say('howTo')
    terminal.chat((text) => void this.sendChat(text))
    if (this.options.interactive === false && approve === 'ask') {
      // Requests would wait for an answer nobody can give: the CSR must know why.
      await this.sendChat(this.options.t('nobodyToAsk'), false)
    }
    await this.recover()
    while (!this.stopping.signal.aborted) {
      let feed: Feed
      try {
        let attempt = 0
        const { data } = await this.retry('poll', async () => {
          // After a failed attempt the poll asks for an answer at once: a held one would tell that
          // the server is back only at the end of its hold, past LOST_NOTICE_MS. The next poll holds
          // again. Unless held polls keep failing while quick ones pass (a proxy that cuts long
          // requests): then every attempt holds, and backs off as any failing call does.
          const quick = attempt++ > 0 && this.heldFailures < MAX_HELD_FAILURES
          const wait = quick ? 0 : this.pollWait
          // A TimeoutError is transient: retried at once (with jitter), not the end of the agent.
          // (timeoutSignal, not AbortSignal.timeout inside AbortSignal.any: see there.)
          const timeout = timeoutSignal(wait * 1000 + (this.options.pollMarginMs ?? POLL_MARGIN_MS), this.stopping.signal)
          try {
            const answer = await this.api.GET('/api/v1/agent/poll', { params: { query: { cursor: this.state!.cursor, wait } }, signal: timeout.signal })
            if (!quick) this.heldFailures = 0
            return answer
          } catch (err) {
            if (!quick && isTransient(err) && !this.stopping.signal.aborted) this.heldFailures++
            throw err
          } finally {
            timeout.clear()
          }
        })
        feed = data!
      } catch (err) {
        if (this.stopping.signal.aborted || isAbort(err)) return
        if (err instanceof ApiError && err.status === 401) {
          // Replaced, left elsewhere, or the token was lost server-side: one rejoin attempt.
          if (await this.tryRejoin(true)) continue
          throw new AgentExit(EXIT.sessionGone, 'sessionGone')
        }
        if (err instanceof ApiError && err.status === 409 && err.code === 'CURSOR_AHEAD') {
          // The server's changes are behind ours (its database was restored): everything again, deduplicated by id.
          this.state!.cursor = 0
          this.options.store.save(this.state!)
          continue
        }
        throw err
      }
      this.handle(feed)
      if (feed.session.status === 'ended') {
        await this.work
        this.backToOwnUser('loggedOffSessionEnded')
        this.forget()
        this.say('sessionEnded')
        terminal.status({ phase: 'ended', running: null })
        return
      }
      if (feed.cursor !== this.state!.cursor) {
        this.state!.cursor = feed.cursor
        this.options.store.save(this.state!)
      }
    }
  }

  /** After a crash: report interrupted scripts (never run again) and remove their folders. */
  private async recover() {
    const count = await recoverInterrupted(this.journal, this.runsApi).catch(() => 0)
    if (count > 0) this.say('scriptsRecovered', { count })
    await removeLeftoverRunDirs().catch(() => [])
    removeLeftoverSpills(this.options.store.dir)
  }

  private handle(feed: Feed) {
    this.csrName = feed.session.csrName
    this.customerName = feed.session.customerName
    for (const id of feed.cancelledCommands ?? []) this.cancels.get(id)?.abort()
    for (const m of feed.chat) {
      // Continuation lines indented: a message cannot start a line that looks like the agent's own.
      const line = this.options.t('chatFrom', { name: m.authorName, text: m.body.replace(/\n/g, '\n    ') })
      this.options.terminal.message('csr', m.authorName, m.body, line)
    }
    for (const c of feed.consents) this.consent(c)
    for (const c of feed.commands) {
      if (this.seenCommands.has(c.id)) continue
      this.seenCommands.add(c.id)
      this.cancels.set(c.id, new AbortController())
      // One command at a time, in order; the poll goes on meanwhile (chat, prompts, the end).
      this.work = this.work.then(() => this.runCommand(c))
    }
  }

  /** What a command does, in the customer's words (a command without a consent of its own: its kind). */
  private commandTitle(kind: string): string {
    const key = `kind_${kind === 'collect_system_info' ? 'view_system_info' : kind}`
    return isMessageKey(key) ? this.options.t(key) : kind
  }

  private title(kind: string): string {
    const key = `kind_${kind}` as MessageKey
    return this.options.t(key)
  }

  private consent(c: Schemas['AgentConsent']) {
    const known = this.consents.get(c.id)
    const title = this.title(c.kind)
    if (c.status !== 'pending') {
      if (known && !known.answered) {
        known.answered = true
        known.cancel?.()
        this.options.terminal.settle(c.id, c.status === 'cancelled' ? 'cancelled' : 'expired', null)
        this.say(c.status === 'cancelled' ? 'consentCancelled' : 'consentExpired', { title })
      }
      return
    }
    if (known) return
    const entry: { title: string; cancel?: () => void; answered: boolean } = { title, answered: false }
    this.consents.set(c.id, entry)
    void this.ask(c, entry)
  }

  private async ask(c: Schemas['AgentConsent'], entry: { title: string; cancel?: () => void; answered: boolean }) {
    const { t, approve, terminal } = this.options
    if (c.kind === 'run_scripts') {
      // Before the customer (or --approve) is asked: what cannot be verified is never offered.
      const problem = verifyScripts(((c.details as { scripts?: ApprovedScript[] }).scripts ?? []) as ApprovedScript[], this.state?.signingKey)
      if (problem) return this.refuseUnverified(c, entry, problem)
    }
    let approved: boolean | undefined
    if (approve === 'all' || approve === 'none') {
      approved = approve === 'all'
      this.say(approved ? 'consentAutoApproved' : 'consentAutoDenied', { title: entry.title, csr: c.requestedBy })
    } else {
      const lines = ['', '─'.repeat(60), t('consentHeader', { csr: c.requestedBy }), t('consentWhat', { title: entry.title })]
      const effect = `effect_${c.kind}` as MessageKey
      lines.push(t('consentEffect', { effect: t(effect) }))
      if (c.kind === 'run_scripts') lines.push(...this.describeScripts(c.details))
      const categories = (c.details as { categories?: unknown }).categories
      if (Array.isArray(categories)) {
        lines.push(t('consentCategories', { categories: categories.map((id) => t(`category_${String(id)}` as MessageKey)).join(', ') }))
      }
      lines.push(t('consentExpires', { time: new Date(c.expiresAt).toLocaleTimeString() }), t('consentQuestion'))
      const prompt = terminal.ask(lines, t('consentAgain'), { id: c.id, title: entry.title, expiresAt: c.expiresAt })
      entry.cancel = prompt.cancel
      approved = await prompt.answer
      if (approved === undefined) return
    }
    if (entry.answered) return
    entry.answered = true
    // What the customer approved is journaled before the server hears it: the runner checks the
    // command and every downloaded file against this record, not against what the server says.
    if (approved && c.kind === 'run_scripts') this.journal.approve(c.id, ((c.details as { scripts?: ApprovedScript[] }).scripts ?? []) as ApprovedScript[])
    try {
      await this.retry('poll', () => this.api.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: c.id } }, body: { approved: approved! } }))
      if (approve === 'ask') this.say(approved ? 'consentApproved' : 'consentDenied', { title: entry.title })
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) this.say('consentTooLate', { reason: err.message })
      else if (!this.stopping.signal.aborted) this.say('error', { reason: describe(err) })
    }
  }

  /** A run_scripts request that does not verify: denied without asking, and the customer and the CSR told why. */
  private async refuseUnverified(c: Schemas['AgentConsent'], entry: { answered: boolean }, problem: VerifyProblem) {
    const { t } = this.options
    entry.answered = true
    this.say('scriptsAutoDenied', { reason: wordProblem(problem, t) })
    try {
      await this.retry('poll', () => this.api.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: c.id } }, body: { approved: false } }))
      await this.sendChat(t('scriptsAutoDeniedChat', { reason: describeProblem(problem) }), false)
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) this.say('consentTooLate', { reason: err.message })
      else if (!this.stopping.signal.aborted) this.say('error', { reason: describe(err) })
    }
  }

  private describeScripts(details: Record<string, unknown>): string[] {
    const { t } = this.options
    const scripts = (details.scripts ?? []) as (ApprovedScript & { size: number; digest: string; timeoutSeconds: number })[]
    const lines: string[] = []
    for (const [i, s] of scripts.entries()) {
      lines.push(t('consentScript', { n: i + 1, name: s.name, version: s.version, size: s.size, digest: s.digest, timeout: s.timeoutSeconds }))
      for (const f of s.files) lines.push(t('consentScriptFile', { role: t(`role_${f.role}` as MessageKey), file: f.name, size: f.size, sha256: f.sha256 }))
      if (s.args.length > 0) lines.push(t('consentScriptArgs', { args: s.args.map((a) => JSON.stringify(a)).join(' ') }))
    }
    if (details.stopOnFailure === true) lines.push(t('consentStopOnFailure'))
    return lines
  }

  private async runCommand(command: AgentCommand) {
    const runner = this.runners.get(command.kind)
    const ui = this.options.terminal
    ui.status({ running: this.commandTitle(command.kind) })
    const context: RunContext = {
      say: (line) => {
        ui.say(line)
        ui.status({ running: line })
      },
      report: async (sequence, report) => {
        await this.retry('poll', () => this.api.POST('/api/v1/agent/commands/{id}/reports', { params: { path: { id: command.id } }, body: { sequence, ...report } })).catch(
          (err: unknown) => {
            if (!(err instanceof ApiError && err.status === 409)) throw err
          },
        )
      },
    }
    try {
      if (!runner) {
        this.say('unsupportedCommand', { kind: command.kind })
        await context.report(0, { status: 'failed', message: `This agent (${agentVersion}) cannot run ${command.kind} commands` })
        return
      }
      await runner.run(command, context)
    } catch (err) {
      if (!this.stopping.signal.aborted) this.say(command.kind === 'collect_system_info' ? 'collectFailed' : 'error', { reason: describe(err) })
    } finally {
      this.cancels.delete(command.id)
      ui.status({ running: null })
    }
  }

  /** Sends the customer's words (or, `fromCustomer` false, the agent's own note) to the CSR's chat. */
  private async sendChat(text: string, fromCustomer = true) {
    try {
      await this.api.POST('/api/v1/agent/chat', { body: { body: text.slice(0, 4000) } })
      this.options.terminal.message(fromCustomer ? 'customer' : 'agent', fromCustomer ? this.customerName : 'Helpline', text, text)
    } catch (err) {
      this.say('chatFailed', { reason: err instanceof ApiError ? err.message : describe(err) })
    }
  }

  /** Ctrl-C: tell the server the customer left, forget the session. */
  async leave() {
    clearTimeout(this.lostNotice)
    this.stopping.abort()
    for (const cancel of this.cancels.values()) cancel.abort()
    this.say('leaving')
    this.backToOwnUser('loggedOffLeaving')
    if (this.state) {
      await Promise.race([this.api.POST('/api/v1/agent/leave').catch(() => undefined), sleep(5000)])
    }
    this.forget()
    this.say('left')
    this.options.terminal.status({ phase: 'left', running: null })
  }

  /** SIGTERM (shutdown, service stop): stop polling but keep the state to rejoin later. */
  stop() {
    clearTimeout(this.lostNotice)
    this.options.terminal.status({ phase: this.restarting ? 'restarting' : 'stopped', running: null })
    this.backToOwnUser('loggedOffStopped')
    this.stopping.abort()
    for (const cancel of this.cancels.values()) cancel.abort()
  }
}
