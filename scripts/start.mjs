#!/usr/bin/env node
// `npm start`: builds when the build is missing or stale (a fresh clone; after a pull), then runs
// the built server in this same process with plain node. A service manager can skip this and run
// `node --enable-source-maps api/dist/server.js` itself (docs/deployment.md).
import { ensureBuilt } from './build-stamp.mjs'

ensureBuilt()
process.setSourceMapsEnabled(true)
await import('../api/dist/server.js')
