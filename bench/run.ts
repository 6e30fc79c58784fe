import { readdirSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * `npm run bench`: runs every bench/*.bench.ts in turn (each exports `run()`), or only those
 * whose file name contains one of the arguments: `npm run bench -- fleet`.
 */
const dir = fileURLToPath(new URL('.', import.meta.url))
const filters = process.argv.slice(2)
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
for (const file of files) {
  console.log(`\n=== ${file} ===`)
  const mod = (await import(pathToFileURL(`${dir}/${file}`).href)) as { run: () => Promise<void> }
  await mod.run()
}
