/**
 * The hidden `__sysinfo` command: reads the system information and prints it as JSON on stdout.
 * The agent runs itself this way in a child process as the user a CSR logged on as
 * (platform/linux.ts), so the snapshot shows what that user sees. Its output goes to the agent,
 * not to the customer, so it bypasses the terminal's sanitiser (JSON escapes control characters).
 */
import { execProgram } from '../platform/exec.ts'
import { collectSystemInfo } from './collect.ts'

export async function printSystemInfo(): Promise<number> {
  const categories = await collectSystemInfo({ exec: execProgram, env: process.env })
  await new Promise<void>((resolveWrite) => process.stdout.write(`${JSON.stringify(categories)}\n`, () => resolveWrite()))
  return 0
}
