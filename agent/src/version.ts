import pkg from '../package.json' with { type: 'json' }

/** This agent's version, from its package (the bundler inlines it). Compared with the server's at start. */
export const agentVersion: string = pkg.version

/** The agent protocol this agent speaks (the server's AGENT_PROTOCOL). */
export const AGENT_PROTOCOL = 1

/** Same major version; while the major is 0, the same minor too (0.x releases may break). */
export function compatible(serverVersion: string, ours = agentVersion): boolean {
  const parse = (v: string) => /^(\d+)\.(\d+)/.exec(v)?.slice(1).map(Number)
  const a = parse(serverVersion)
  const b = parse(ours)
  if (!a || !b) return false
  return a[0] === b[0] && (a[0] !== 0 || a[1] === b[1])
}
