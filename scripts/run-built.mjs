#!/usr/bin/env node
// `npm run audit:verify` / `npm run keys:rotate`: runs a built one-shot command
// (api/dist/<name>.js) with plain node, building first when the build is missing or stale, as
// `npm start` does. Usage: node scripts/run-built.mjs audit-verify|keys-rotate
import { ensureBuilt } from './build-stamp.mjs'

const commands = ['audit-verify', 'keys-rotate']
const name = process.argv[2]
if (!commands.includes(name)) {
  console.error(`usage: node scripts/run-built.mjs ${commands.join('|')}`)
  process.exit(2)
}
// The build's own output would mix with the command's: it goes to stderr.
ensureBuilt({ log: console.error, stdio: ['ignore', 2, 2] })
process.setSourceMapsEnabled(true)
await import(`../api/dist/${name}.js`)
