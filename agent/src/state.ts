import { generateKeyPair } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
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
}
