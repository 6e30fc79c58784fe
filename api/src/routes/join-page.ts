import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { joinPageDir } from '../paths.ts'

const page = (name: string) => readFileSync(join(joinPageDir, name))

/**
 * The customer's join page: `/join` (type the number) and `/join/<number>` (from the CSR's link).
 * A static page (HTML, one script, one stylesheet; no inline script, so the strict CSP holds) that
 * talks to the public join API (routes/v1/downloads.ts). The page never contains session data.
 */
export default async function joinPageRoutes(app: FastifyInstance) {
  const files = {
    html: page('index.html'),
    js: page('join.js'),
    css: page('join.css'),
  }
  const hidden = { hide: true }
  const html = async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(files.html)
  app.get('/join', { config: { auth: 'public' }, schema: hidden }, html)
  app.get('/join/:number', { config: { auth: 'public' }, schema: hidden }, html)
  app.get('/join/assets/join.js', { config: { auth: 'public' }, schema: hidden }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(files.js),
  )
  app.get('/join/assets/join.css', { config: { auth: 'public' }, schema: hidden }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(files.css),
  )
}
