/**
 * The entry point of the bundled agents (helpline-agent.mjs and the single executable); a clone
 * of the repository uses bin/helpline-agent.js instead. Not imported by anything else.
 */
import { main } from './main.ts'
import { print } from './terminal.ts'

// A single executable sees itself as argv[0] and again as argv[1]; a script run by Node sees Node, then itself.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // Open handles (a dropped keep-alive socket) must not keep a finished agent alive.
    setTimeout(() => process.exit(code), 200).unref()
  },
  (err: unknown) => {
    print(err instanceof Error ? (err.stack ?? err.message) : String(err), 'stderr')
    process.exit(1)
  },
)
