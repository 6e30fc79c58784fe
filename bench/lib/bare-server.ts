/**
 * The baselines: a bare Fastify server (no plugins) in its own process, with
 * - GET /poll answering a fixed JSON body (the same bytes the API answers an empty poll with);
 * - POST /upload taking any body up to 2 MiB raw (a Buffer, not parsed) and answering its size.
 * Prints its port.
 *
 *   node bench/lib/bare-server.ts BODY_JSON
 */
import Fastify from 'fastify'

const body = process.argv[2] ?? '{}'
const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, payload, done) => done(null, payload))
app.get('/poll', async (_request, reply) => reply.type('application/json').send(body))
app.post('/upload', async (request, reply) => reply.code(201).send({ size: (request.body as Buffer).length }))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`)
