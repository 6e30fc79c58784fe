import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { readFile } from 'node:fs/promises'
import { committedSpecPath } from '../../paths.ts'
import { sharedSchemas } from '../../schemas/index.ts'
import { version } from '../../version.ts'

export { committedSpecPath }

/**
 * Generates the OpenAPI document from the routes' TypeBox schemas. Shared schemas are named by
 * their $id, so every component name in openapi.yaml is stable.
 */
export default fp(
  async function openapi(app: FastifyInstance) {
    for (const schema of sharedSchemas) app.addSchema(schema)
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Helpline API',
          version,
          description:
            'Remote support: accounts, script library, support sessions, consent, agents. ' +
            'Errors always have the ErrorResponse shape with a stable `code`.',
          license: { name: 'MIT', identifier: 'MIT' },
        },
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              description: [
                'A console sign-in token (hls_…) or a personal API token (hlp_…).',
                'Each operation’s requirement lists what it needs: `role:admin` (the user is a site admin; otherwise 403 FORBIDDEN),',
                '`scope:read` / `scope:sessions` / `scope:admin` (an API token must carry that scope; otherwise 403 SCOPE_REQUIRED; a console sign-in carries every scope its user’s role allows),',
                '`sign-in` (a console sign-in only; every API token gets 403 SIGN_IN_REQUIRED). An empty list: any credential of the user.',
                'An admin’s API token without the admin scope acts as a CSR everywhere (it sees only its owner’s sessions, batches and scripts).',
              ].join(' '),
            },
            agentToken: { type: 'http', scheme: 'bearer', description: 'An agent token (hla_…) issued when an agent joins a session' },
          },
        },
        tags: [
          { name: 'system', description: 'Health and the contract' },
          { name: 'auth', description: 'Signing in and out, your own account' },
          { name: 'users', description: 'User management (site admins)' },
          { name: 'tokens', description: 'Personal API tokens for integrations' },
          { name: 'settings', description: 'Site-wide settings (site admins)' },
          { name: 'scripts', description: 'The script library: versioned scripts with their input files' },
          { name: 'categories', description: 'Script categories (site admins manage them)' },
          { name: 'sessions', description: 'Support sessions: consent, system information, chat, live updates' },
          { name: 'script runs', description: 'Running library scripts on sessions: batches, per-session runs, output' },
          { name: 'audit', description: 'The audit trails (site admins): the site-wide trail, and checking that any trail is intact' },
          { name: 'agent', description: 'The customer’s agent: join, long-poll, answers and reports (see docs/agent-protocol.md)' },
        ],
      },
      // A route that streams its multipart body declares it in config.multipart (see the contract
      // plugin); the document shows it as the request body all the same.
      transform: ({ schema, url, route }) => {
        const multipart = route.config?.multipart
        return multipart ? { schema: { ...schema, body: multipart, consumes: ['multipart/form-data'] }, url } : { schema, url }
      },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`),
      },
    })
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })

    // The committed contract, exactly as reviewed; tests prove it equals what the routes generate.
    const committed = readFile(committedSpecPath, 'utf8').catch(() => undefined)
    app.get('/openapi.yaml', { schema: { hide: true } }, async (_request, reply) => {
      const text = await committed
      return text === undefined ? reply.callNotFound() : reply.type('application/yaml').send(text)
    })
    app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
      const text = await committed
      if (text === undefined) return reply.callNotFound()
      const { parse } = await import('yaml')
      return reply.type('application/json').send(JSON.stringify(parse(text)))
    })
  },
  { name: 'openapi' },
)
