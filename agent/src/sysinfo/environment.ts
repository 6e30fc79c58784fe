/** Names that suggest a secret; such variables never leave the computer. */
const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASS/i

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name)
}

/** The environment without the variables whose names suggest secrets, sorted by name. */
export function redactEnvironment(env: Record<string, string | undefined>): { kept: [string, string][]; removed: number } {
  const kept: [string, string][] = []
  let removed = 0
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (isSecretName(name)) removed++
    else kept.push([name, value])
  }
  kept.sort(([a], [b]) => a.localeCompare(b))
  return { kept, removed }
}
