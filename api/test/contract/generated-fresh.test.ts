import { readFile } from 'node:fs/promises'
import t from 'tap'
import openapiTS, { astToString } from 'openapi-typescript'
import { renderSpec } from '../../src/lib/spec.ts'
import { specPath } from '../helpers/contract.ts'
import { setupApp } from '../helpers/app.ts'

const h = await setupApp(t)
const committed = await readFile(specPath, 'utf8')

t.test('openapi.yaml is what the routes generate (run `npm run gen`)', async (t) => {
  t.equal(renderSpec(h.app), committed)
})

t.test('the SDK types are generated from openapi.yaml (run `npm run gen`)', async (t) => {
  const generated = `${astToString(await openapiTS(committed))}`
  const onDisk = await readFile(new URL('../../../sdk/src/schema.ts', import.meta.url), 'utf8')
  // openapi-typescript's CLI adds a banner; compare the types themselves.
  t.ok(onDisk.includes(generated.trim()), 'sdk/src/schema.ts matches openapi.yaml')
})

t.test('/openapi.json and /openapi.yaml serve the committed contract', async (t) => {
  const yaml = await h.app.inject({ url: '/openapi.yaml' })
  t.equal(yaml.statusCode, 200)
  t.equal(yaml.body, committed)
  const json = await h.app.inject({ url: '/openapi.json' })
  t.equal(json.json().openapi, '3.1.0')
  const docs = await h.app.inject({ url: '/docs/' })
  t.equal(docs.statusCode, 200, 'Swagger UI is served at /docs')
})
