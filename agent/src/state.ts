import { generateKeyPair } from 'node:crypto'
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** What the agent keeps between runs so it can rejoin without the number (crash, reboot). */
export interface AgentState {
  server: string
  sessionId: string
  sessionNumber: string
  agentId: string
  agentToken: string
  rejoinToken: string
  cursor: number
  csrName: string
  savedAt: string
  /**
   * The server's script signing key, from the last join or rejoin. Scripts run only when their
   * signature verifies with it; an agent without one (saved by an older version) runs none.
   */
  signingKey?: SigningKey
}

/** As AgentJoined.signingKey carries it. */
export interface SigningKey {
  algorithm: 'ed25519'
  keyId: string
  /** SPKI DER, base64. */
  publicKey: string
}

export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'Helpline', 'agent')
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'helpline-agent')
}

/** Writes a file readable by its owner only (0600), atomically: a crash leaves the old or the new one. */
function writePrivate(path: string, data: string) {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, data, { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
}

/**
 * The state folder: state.json (server, session, tokens, cursor) and agent-key.pem (the private
 * key whose public half the server holds). Both secret, both 0600, in a 0700 folder.
 */
export class StateStore {
  readonly statePath: string
  readonly keyPath: string

  constructor(readonly dir: string) {
    this.statePath = join(dir, 'state.json')
    this.keyPath = join(dir, 'agent-key.pem')
  }

  private ensureDir() {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
  }

  load(): AgentState | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.statePath, 'utf8')) as Partial<AgentState>
      if (!parsed.server || !parsed.rejoinToken || !parsed.agentToken || !parsed.sessionNumber) return undefined
      return { cursor: 0, csrName: '', sessionId: '', agentId: '', savedAt: '', ...parsed } as AgentState
    } catch {
      return undefined
    }
  }

  save(state: AgentState) {
    this.ensureDir()
    writePrivate(this.statePath, `${JSON.stringify({ ...state, savedAt: new Date().toISOString() }, null, 2)}\n`)
  }

  clear() {
    rmSync(this.statePath, { force: true })
  }

  /** This installation's key pair: made once, the private key never leaves the state folder. */
  async publicKey(): Promise<string> {
    this.ensureDir()
    if (existsSync(this.keyPath)) {
      const { createPrivateKey, createPublicKey } = await import('node:crypto')
      return createPublicKey(createPrivateKey(readFileSync(this.keyPath, 'utf8'))).export({ type: 'spki', format: 'pem' }).toString()
    }
    const { publicKey, privateKey } = await new Promise<{ publicKey: string; privateKey: string }>((resolve, reject) =>
      generateKeyPair(
        'rsa',
        { modulusLength: 3072, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
        (err, pub, priv) => (err ? reject(err) : resolve({ publicKey: pub, privateKey: priv })),
      ),
    )
    writePrivate(this.keyPath, privateKey)
    return publicKey
  }

  /** The private key (PEM, pkcs8), to open what was encrypted for this agent; undefined when there is none yet. */
  privateKey(): string | undefined {
    try {
      return readFileSync(this.keyPath, 'utf8')
    } catch {
      return undefined
    }
  }

  /**
   * The open customer window's address (with its secret), for `helpline-agent window`: someone at
   * the computer who can read this folder (the agent's own user) can open it. 0600 like the rest.
   */
  saveWindow(url: string) {
    this.ensureDir()
    writePrivate(join(this.dir, 'window.json'), `${JSON.stringify({ url, pid: process.pid })}\n`)
  }

  loadWindow(): string | undefined {
    try {
      const parsed = JSON.parse(readFileSync(join(this.dir, 'window.json'), 'utf8')) as { url?: unknown; pid?: unknown }
      if (typeof parsed.url !== 'string' || typeof parsed.pid !== 'number') return undefined
      // A window of an agent that is gone is no window.
      process.kill(parsed.pid, 0)
      return parsed.url
    } catch {
      return undefined
    }
  }

  clearWindow() {
    rmSync(join(this.dir, 'window.json'), { force: true })
  }
}

/**
 * A script of a run_scripts request as the customer approved it (the consent's details). The
 * signature fields are absent in approvals journaled by agents before versions were signed;
 * those approvals run nothing.
 */
export interface ApprovedScript {
  position: number
  name: string
  version: number
  files: { name: string; role: string; size: number; sha256: string }[]
  args: string[]
  timeoutSeconds?: number
  scriptId?: string
  versionId?: string
  digest?: string
  signature?: string
  signatureKeyId?: string
}

type JournalEntry =
  | { t: 'approved'; consentId: string; scripts: ApprovedScript[] }
  | { t: 'starting'; runId: string; startId: string }
  | { t: 'spawned'; runId: string; pid: number }
  | { t: 'finished'; runId: string }
  | { t: 'reboot'; commandId: string }

/**
 * The run journal (journal.jsonl in the state folder, 0600): what the customer approved, and which
 * scripts were started and finished. Each line is written and flushed to disk before the agent
 * acts on it, so after a crash or a kill the agent knows a script may have run and never runs it
 * again; and it checks downloaded files against its own record of the approval, not the server's.
 * A restart of the computer is journaled the same way, so one approval restarts it at most once.
 */
export class RunJournal {
  readonly path: string
  private readonly approvals = new Map<string, ApprovedScript[]>()
  private readonly starts = new Map<string, { startId: string; pid?: number; finished: boolean }>()
  private readonly reboots = new Set<string>()

  constructor(readonly dir: string) {
    this.path = join(dir, 'journal.jsonl')
    let text = ''
    try {
      text = readFileSync(this.path, 'utf8')
    } catch {
      return
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue
      try {
        this.apply(JSON.parse(line) as JournalEntry)
      } catch {
        // A line cut off by a crash mid-write: the entries before it still count.
      }
    }
  }

  private apply(e: JournalEntry) {
    if (e.t === 'approved') this.approvals.set(e.consentId, e.scripts)
    else if (e.t === 'reboot') this.reboots.add(e.commandId)
    else if (e.t === 'starting') this.starts.set(e.runId, { startId: e.startId, finished: false })
    else if (e.t === 'spawned') {
      const s = this.starts.get(e.runId)
      if (s) s.pid = e.pid
    } else if (e.t === 'finished') {
      const s = this.starts.get(e.runId)
      if (s) s.finished = true
      else this.starts.set(e.runId, { startId: '', finished: true })
    }
  }

  private write(e: JournalEntry) {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const fd = openSync(this.path, 'a', 0o600)
    try {
      writeSync(fd, `${JSON.stringify(e)}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    chmodSync(this.path, 0o600)
    this.apply(e)
  }

  approve(consentId: string, scripts: ApprovedScript[]) {
    this.write({ t: 'approved', consentId, scripts })
  }

  approval(consentId: string | null): ApprovedScript[] | undefined {
    return consentId ? this.approvals.get(consentId) : undefined
  }

  starting(runId: string, startId: string) {
    this.write({ t: 'starting', runId, startId })
  }

  spawned(runId: string, pid: number) {
    this.write({ t: 'spawned', runId, pid })
  }

  finished(runId: string) {
    this.write({ t: 'finished', runId })
  }

  /** Written (and flushed) before the computer is restarted for this command. */
  rebooting(commandId: string) {
    this.write({ t: 'reboot', commandId })
  }

  /** Whether this command already restarted the computer (or was about to when the agent stopped). */
  rebooted(commandId: string): boolean {
    return this.reboots.has(commandId)
  }

  /** 'started' also for a start that was journaled but perhaps never reached the server. */
  state(runId: string): 'started' | 'finished' | undefined {
    const s = this.starts.get(runId)
    return s ? (s.finished ? 'finished' : 'started') : undefined
  }

  /** Scripts started and never finished: the agent died while they ran. */
  interrupted(): { runId: string; startId: string; pid?: number }[] {
    return [...this.starts].filter(([, s]) => !s.finished).map(([runId, s]) => ({ runId, startId: s.startId, ...(s.pid ? { pid: s.pid } : {}) }))
  }

  clear() {
    rmSync(this.path, { force: true })
    this.approvals.clear()
    this.starts.clear()
    this.reboots.clear()
  }
}
