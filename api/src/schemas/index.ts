import { accessSchemas } from './access.ts'
import { accountSchemas } from './accounts.ts'
import { agentSchemas } from './agent.ts'
import { auditSchemas } from './audit.ts'
import { runSchemas } from './runs.ts'
import { scriptSchemas } from './scripts.ts'
import { sessionSchemas } from './sessions.ts'
import { downloadSchemas } from './downloads.ts'
import { webhookSchemas } from './webhooks.ts'

/** Every shared (named) schema, registered once with fastify. */
export const sharedSchemas = [...accountSchemas, ...scriptSchemas, ...sessionSchemas, ...agentSchemas, ...runSchemas, ...accessSchemas, ...downloadSchemas, ...auditSchemas, ...webhookSchemas]
