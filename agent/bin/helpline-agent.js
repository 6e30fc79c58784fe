#!/usr/bin/env node
// Runs the agent from its TypeScript sources (tsx), so a fresh clone needs no build step for it.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/main.ts')
process.exitCode = await main(process.argv.slice(2))
// Open handles (a dropped keep-alive socket) must not keep a finished agent alive.
setTimeout(() => process.exit(process.exitCode), 200).unref()
