import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import { loadConfig, type Config } from './config.ts'
import type { Database } from './db/client.ts'
import { loadKeyring, type Keyring } from './lib/keyring.ts'
import { requestId } from './lib/crypto.ts'
import auth from './plugins/app/auth.ts'
import contract from './plugins/app/contract.ts'
import errors from './plugins/app/errors.ts'
import services from './plugins/app/services.ts'
import consolePlugin from './plugins/external/console.ts'
import database from './plugins/external/database.ts'
import metrics from './plugins/external/metrics.ts'
import notifier from './plugins/external/notifier.ts'
import openapi from './plugins/external/openapi.ts'
import security from './plugins/external/security.ts'
import healthRoutes from './routes/health.ts'
import joinPageRoutes from './routes/join-page.ts'
import v1 from './routes/v1/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** The secrets kept outside the database (lib/keyring.ts). */
    keyring: Keyring
  }
}

export interface AppOptions {
  config?: Config
  /** An open database to use instead of opening one from config (tests). */
  database?: Database
  /** Keys to use instead of loading them from config (tests). */
  keyring?: Keyring
  logger?: FastifyServerOptions['logger']
}

/** Where secrets could appear in a log line; pino replaces them before anything is written. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.agentToken',
  '*.rejoinToken',
  '*.ciphertext',
  '*.totp',
  '*.code',
  '*.secret',
  '*.recoveryCode',
  '*.recoveryCodes',
]

/**
 * Fastify's response serializers (fast-json-stringify), each distinct one compiled once. Fastify
 * compiles one per route, status and content type: 1,059 per app here, of 86 distinct schemas
 * (every route documents the same error responses), ~4.4 s of CPU at every start and in every
 * test that builds the app. A serializer depends only on its schema and the shared schemas it was
 * built with, so the cache lives per call of the factory (one per set of shared schemas).
 */
function serializerOncePerSchema(): SerializerFactory {
  const select = SerializerSelector()
  return (externalSchemas, options) => {
    const compile = select(externalSchemas, options)
    const compiled = new Map<string, ReturnType<typeof compile>>()
    return (route) => {
      const key = JSON.stringify(route.schema)
      let serializer = compiled.get(key)
      if (!serializer) compiled.set(key, (serializer = compile(route)))
      return serializer
    }
  }
}

/**
 * Builds the application for the server and the tests alike: external plugins (database,
 * notifier, metrics, security, OpenAPI) → app plugins (contract, errors, services, auth) → routes.
 */
export async function buildApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const config = options.config ?? loadConfig()
  const app = Fastify({
    logger: options.logger ?? { level: config.LOG_LEVEL, redact: { paths: redactPaths, censor: '[redacted]' } },
    genReqId: requestId,
    ...(config.TRUST_PROXY ? { trustProxy: config.TRUST_PROXY } : {}),
    // Route-level limits are tighter; this bounds anything a route did not declare.
    bodyLimit: 1024 * 1024,
    // A script file's name (up to 255 bytes, percent-encoded up to 765 characters) is a path segment.
    routerOptions: { maxParamLength: 1024 },
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: { buildSerializer: serializerOncePerSchema() } },
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.decorate('config', config)
  app.decorate('keyring', options.keyring ?? loadKeyring({ dir: config.KEY_DIR, signingKeyPem: config.SIGNING_KEY, serverSecretHex: config.SERVER_SECRET }))
  // The API speaks JSON (and multipart where a route registers it); anything else is a 415.
  app.removeContentTypeParser('text/plain')
  // Once the server is closing, every answer (held polls answered at once included) closes its
  // connection: a kept-alive idle socket (a load balancer's) would otherwise hold the close up
  // until its keep-alive timeout, and the next request belongs on another instance anyway.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id)
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })

  await app.register(contract)
  await app.register(errors)
  await app.register(database, { database: options.database })
  await app.register(notifier)
  await app.register(metrics)
  await app.register(security)
  await app.register(openapi)
  await app.register(services)
  await app.register(auth)

  await app.register(healthRoutes)
  await app.register(joinPageRoutes)
  await app.register(v1, { prefix: '/api/v1' })
  await app.register(consolePlugin)
  return app
}
