// The whole database schema, one module per domain. drizzle-kit reads this file to generate
// migrations/; the app passes it to drizzle for typed queries.
export * from './accounts.ts'
export * from './scripts.ts'
export * from './sessions.ts'
export * from './runs.ts'
export * from './audit.ts'
export * from './webhooks.ts'
export * from './oidc.ts'
