/** A command as the agent receives it from its poll. */
export interface AgentCommand {
  id: string
  kind: string
  consentId: string | null
  payload: Record<string, unknown>
  createdAt: string
}

/** What a runner may do besides its own work: report back, tell the customer. */
export interface RunContext {
  /** Posts a report for the command; retried on network errors, idempotent by sequence. */
  report(sequence: number, report: { status?: 'running' | 'succeeded' | 'failed'; message?: string; data?: Record<string, unknown> }): Promise<void>
  say(line: string): void
}

/** Runs one kind of command. The agent keeps one per kind: system information, scripts, logon, log off, reboot. */
export interface Runner {
  readonly kind: string
  run(command: AgentCommand, context: RunContext): Promise<void>
}
