/**
 * The baseline: a bare Fastify server (no plugins) answering GET /poll with a fixed JSON body
 * (the same bytes the API answers an empty poll with), in its own process. Prints its port.
 *
 *   node bench/lib/bare-server.ts BODY_JSON
 */
import Fastify from 'fastify'

const body = process.argv[2] ?? '{}'
const app = Fastify({ logger: false })
app.get('/poll', async (_request, reply) => reply.type('application/json').send(body))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`)
