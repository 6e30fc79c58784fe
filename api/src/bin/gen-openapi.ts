import { writeFile } from 'node:fs/promises'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import { openDatabase } from '../db/client.ts'
import { renderSpec } from '../lib/spec.ts'
import { committedSpecPath } from '../plugins/external/openapi.ts'

// Writes openapi.yaml from the routes. `npm run gen` runs this, then openapi-typescript for the SDK.
const database = await openDatabase({ dataDir: 'memory://' })
const app = await buildApp({ config: loadConfig({}, { CONSOLE_DIR: '/nonexistent' }), database, logger: false })
await app.ready()
await writeFile(committedSpecPath, renderSpec(app))
await app.close()
await database.close()
console.log(`wrote ${committedSpecPath}`)
