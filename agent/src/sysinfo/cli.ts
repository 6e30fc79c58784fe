/**
 * Reads the system information and prints it as JSON on stdout: the agent runs this file in a
 * child process as the user a CSR logged on as, so the snapshot shows what that user sees (their
 * environment, "Agent runs as" that user). Not a command for people; see platform/linux.ts.
 */
import { execProgram } from '../platform/exec.ts'
import { collectSystemInfo } from './collect.ts'

const categories = await collectSystemInfo({ exec: execProgram, env: process.env })
process.stdout.write(`${JSON.stringify(categories)}\n`)
// systeminformation may leave timers behind; the answer is out, so is this process.
process.exit(0)
