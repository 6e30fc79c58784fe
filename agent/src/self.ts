import { fileURLToPath } from 'node:url'

/**
 * How this agent is packaged, and so how it starts itself again (the system-information reader
 * as another user, the systemd unit, the desktop autostart entry). Three shapes, one code:
 * - `sea`: the single executable (Node's single-executable application): the file is the agent;
 * - `mjs`: the bundled helpline-agent.mjs run by any Node 20+;
 * - `source`: this repository's TypeScript through bin/helpline-agent.js (tsx).
 * The bundler replaces HELPLINE_BUILD with 'sea' or 'mjs' (agent/scripts/build.ts).
 */
declare const HELPLINE_BUILD: 'sea' | 'mjs' | undefined

export type AgentBuild = 'sea' | 'mjs' | 'source'

export const agentBuild: AgentBuild = typeof HELPLINE_BUILD === 'undefined' ? 'source' : HELPLINE_BUILD

/** The file that is this agent: the executable, the bundle, or bin/helpline-agent.js. */
export function selfFile(): string {
  if (agentBuild === 'sea') return process.execPath
  if (agentBuild === 'mjs') return fileURLToPath(import.meta.url)
  return fileURLToPath(new URL('../bin/helpline-agent.js', import.meta.url))
}

/** The command line that runs this agent with `args`. */
export function selfCommand(args: string[]): { command: string; args: string[] } {
  if (agentBuild === 'sea') return { command: process.execPath, args }
  return { command: process.execPath, args: [selfFile(), ...args] }
}
