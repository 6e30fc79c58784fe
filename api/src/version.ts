import { readFileSync } from 'node:fs'
import { apiPackageJson } from './paths.ts'

/** The product version, from the api package. Agents compare major versions at join. */
export const version: string = (
  JSON.parse(readFileSync(apiPackageJson, 'utf8')) as { version: string }
).version
