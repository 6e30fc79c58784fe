import { accountSchemas } from './accounts.ts'

/** Every shared (named) schema, registered once with fastify. */
export const sharedSchemas = [...accountSchemas]
