/**
 * The agent the customer runs, as a child process of a browser test (`--approve all`, so every
 * consent request is approved at once); its terminal output is collected to wait on.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const agentBin = join(repoRoot, 'agent', 'bin', 'helpline-agent.js')

export class AgentProcess {
  readonly child: ChildProcessWithoutNullStreams
  output = ''
  readonly exited: Promise<number | null>

  /**
   * `helpline-agent join <number> --server … --state-dir …` plus `extraArgs` (e.g. `--platform
   * simulated`); given an argument list instead of a number, exactly that command (see `rejoin`).
   */
  constructor(number: string | readonly string[], server = '', stateDir = '', env: Record<string, string> = {}, extraArgs: readonly string[] = []) {
    const args = typeof number === 'string' ? ['join', number, '--server', server, '--approve', 'all', '--state-dir', stateDir, '--lang', 'en', ...extraArgs] : [...number]
    this.child = spawn(process.execPath, [agentBin, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: 'pipe' })
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk))
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk))
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
  }

  /** `helpline-agent rejoin`: the agent started again from its saved state (after a restart), no number needed. */
  static rejoin(stateDir: string, env: Record<string, string> = {}, extraArgs: readonly string[] = []): AgentProcess {
    return new AgentProcess(['rejoin', '--state-dir', stateDir, '--approve', 'all', '--lang', 'en', ...extraArgs], '', '', env)
  }

  /** Waits until the agent's terminal shows `text`. */
  async waitFor(text: string, ms = 60_000) {
    const deadline = Date.now() + ms
    while (!this.output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`the agent did not print ${JSON.stringify(text)}; it printed:\n${this.output}`)
      if (this.child.exitCode !== null) throw new Error(`the agent exited (${this.child.exitCode}); it printed:\n${this.output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** What the customer types in the agent's terminal. */
  type(line: string) {
    this.child.stdin.write(`${line}\n`)
  }

  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGTERM')
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await this.exited
    clearTimeout(killer)
  }
}
