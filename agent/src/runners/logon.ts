import { constants, privateDecrypt } from 'node:crypto'
import type { Credentials, LogonFailure, LogonOutcome, RunAs, UserAccount } from '../platform/index.ts'
import type { AgentCommand, RunContext, Runner } from './index.ts'

/** The one algorithm the console and the SDK encrypt credentials with (WebCrypto's RSA-OAEP, SHA-256). */
export const CREDENTIALS_ALGORITHM = 'RSA-OAEP-256'
export const DECRYPT_FAILED = 'The credentials were not encrypted for this agent'
export const CREDENTIALS_GONE = 'The credentials were removed before this agent received them (sent once, dropped after 2 minutes); ask the customer again'

/**
 * Who the agent works as: the customer's own user (nothing set), or the user a CSR logged on as.
 * Scripts and the system-information reader ask it each time they start something.
 */
export class Identity {
  private current: { account: UserAccount; runAs: RunAs | undefined } | undefined

  /** The user a CSR logged on as; undefined while the agent works as the customer's own user. */
  get username(): string | undefined {
    return this.current?.account.username
  }

  /** What to start programs as; undefined for the agent's own user (or a platform that does not switch). */
  runAs(): RunAs | undefined {
    return this.current?.runAs
  }

  switchTo(account: UserAccount, runAs: RunAs | undefined) {
    this.current?.runAs?.windows?.secret.drop()
    this.current = { account, runAs }
  }

  /** Back to the customer's own user; returns whom the agent worked as, if anyone. Drops a kept Windows password. */
  reset(): string | undefined {
    const was = this.current?.account.username
    this.current?.runAs?.windows?.secret.drop()
    this.current = undefined
    return was
  }
}

/**
 * Opens credentials encrypted for this agent's key: RSA-OAEP with SHA-256 over the UTF-8 JSON
 * {username, password, domain?}. Undefined for anything else (another key, a cut or altered
 * ciphertext, another shape), never an error that could carry what was decrypted.
 */
export function decryptCredentials(privateKeyPem: string, ciphertext: string): Credentials | undefined {
  let plain: Buffer | undefined
  try {
    plain = privateDecrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(ciphertext, 'base64'))
    const parsed = JSON.parse(plain.toString('utf8')) as Record<string, unknown>
    const { username, password, domain } = parsed
    if (typeof username !== 'string' || typeof password !== 'string' || username.length === 0 || username.length > 256 || password.length > 1024) return undefined
    if (domain !== undefined && typeof domain !== 'string') return undefined
    return { username, password, ...(domain ? { domain } : {}) }
  } catch {
    return undefined
  } finally {
    // The decrypted bytes are the one copy we can wipe; JavaScript strings cannot be.
    plain?.fill(0)
  }
}

export interface LogonMessages {
  /** `note`: 'simulated' when nothing really switched; 'windows' for what Windows may do when the user changes. */
  loggedOn(username: string, note: 'simulated' | 'windows' | undefined): string
  failed(reason: LogonFailure | 'decrypt_failed' | 'credentials_gone', username: string, message: string): string
}

export interface LogonRunnerOptions {
  /** The agent's private key (PEM), from its state folder. */
  privateKey(): string | undefined
  logon(credentials: Credentials): Promise<LogonOutcome>
  identity: Identity
  messages: LogonMessages
}

/**
 * logon_as_user: decrypt the credentials with this agent's key, let the OS check them, and from
 * then on run scripts and read system information as that user. The password is held only
 * while it is checked: never logged, reported, journaled or saved.
 */
export class LogonRunner implements Runner {
  readonly kind = 'logon_as_user'

  constructor(private readonly options: LogonRunnerOptions) {}

  async run(command: AgentCommand, context: RunContext) {
    const { messages, identity } = this.options
    const payload = command.payload
    const ciphertext = payload.ciphertext
    // Nothing of it stays on the command the agent keeps while it works.
    delete payload.ciphertext
    if (typeof ciphertext !== 'string' || ciphertext.length === 0) {
      context.say(messages.failed('credentials_gone', '', CREDENTIALS_GONE))
      await context.report(0, { status: 'failed', message: CREDENTIALS_GONE, data: { reason: 'credentials_gone' } })
      return
    }
    const key = this.options.privateKey()
    const credentials = payload.algorithm === CREDENTIALS_ALGORITHM && key ? decryptCredentials(key, ciphertext) : undefined
    if (!credentials) {
      context.say(messages.failed('decrypt_failed', '', DECRYPT_FAILED))
      await context.report(0, { status: 'failed', message: DECRYPT_FAILED, data: { reason: 'decrypt_failed' } })
      return
    }
    const { username } = credentials
    let outcome: LogonOutcome
    try {
      outcome = await this.options.logon(credentials)
    } catch (err) {
      outcome = { ok: false, reason: 'unavailable', message: `Logon failed: ${err instanceof Error ? err.message : String(err)}` }
    } finally {
      credentials.password = ''
    }
    if (!outcome.ok) {
      context.say(messages.failed(outcome.reason, username, outcome.message))
      await context.report(0, { status: 'failed', message: outcome.message, data: { reason: outcome.reason } })
      return
    }
    identity.switchTo(outcome.account, outcome.runAs)
    context.say(messages.loggedOn(outcome.account.username, outcome.notice ?? (outcome.runAs === undefined ? 'simulated' : undefined)))
    await context.report(0, { status: 'succeeded', data: { username: outcome.account.username } })
  }
}

export interface LogoffRunnerOptions {
  identity: Identity
  ownUsername(): string
  messages: { loggedOff(username: string | undefined, own: string): string }
}

/** logoff: back to the customer's own user (no consent: it gives them their user back). */
export class LogoffRunner implements Runner {
  readonly kind = 'logoff'

  constructor(private readonly options: LogoffRunnerOptions) {}

  async run(_command: AgentCommand, context: RunContext) {
    const was = this.options.identity.reset()
    const own = this.options.ownUsername()
    context.say(this.options.messages.loggedOff(was, own))
    await context.report(0, { status: 'succeeded', data: { username: own } })
  }
}
