import { accountSchemas } from './accounts.ts'
import { agentSchemas } from './agent.ts'
import { sessionSchemas } from './sessions.ts'

/** Every shared (named) schema, registered once with fastify. */
export const sharedSchemas = [...accountSchemas, ...sessionSchemas, ...agentSchemas]
