import { accountSchemas } from './accounts.ts'
import { scriptSchemas } from './scripts.ts'

/** Every shared (named) schema, registered once with fastify. */
export const sharedSchemas = [...accountSchemas, ...scriptSchemas]
