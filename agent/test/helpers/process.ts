import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HelplineClient } from '@helpline/sdk'

/** The agent as the customer runs it: a real child process of bin/helpline-agent.js. */
export const agentBin = fileURLToPath(new URL('../../bin/helpline-agent.js', import.meta.url))

export interface Running {
  child: ChildProcessWithoutNullStreams
  output: () => string
  /** Exactly the bytes the agent wrote to stdout, as a terminal would receive them. */
  stdoutBytes: () => Buffer
  waitFor: (pattern: RegExp, ms?: number) => Promise<void>
  type: (line: string) => void
  exited: Promise<number | null>
}

/** Starts the agent; it is killed when the test ends if it is still running. */
export function startAgent(t: { teardown(fn: () => unknown): void }, args: string[], env: Record<string, string> = {}): Running {
  return startProgram(t, process.execPath, [agentBin, ...args], { ...process.env, LC_ALL: '', LC_MESSAGES: '', LANG: 'en_US.UTF-8', ...env })
}

/** Starts any program as the agent is started (a built one-file agent), with exactly `env`. */
export function startProgram(t: { teardown(fn: () => unknown): void }, command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Running {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) })
  let out = ''
  const stdout: Buffer[] = []
  child.stdout.on('data', (d: Buffer) => {
    stdout.push(d)
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    output: () => out,
    stdoutBytes: () => Buffer.concat(stdout),
    exited,
    type: (line) => child.stdin.write(`${line}\n`),
    waitFor: async (pattern, ms = 60_000) => {
      const deadline = Date.now() + ms
      while (!pattern.test(out)) {
        if (Date.now() > deadline) throw new Error(`agent never printed ${pattern}; it printed:\n${out}`)
        if (child.exitCode !== null && !pattern.test(out)) throw new Error(`agent exited (${child.exitCode}) before printing ${pattern}:\n${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

export const stateDir = () => mkdtempSync(join(tmpdir(), 'helpline-agent-test-'))
export const at = (id: string) => ({ params: { path: { id } } })

/** Reads until the value is what the test waits for, or fails saying what it last saw. */
export async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (ok(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export async function newSession(client: HelplineClient, customerName: string) {
  const { data } = await client.POST('/api/v1/sessions', { body: { customerName } })
  return data!
}
