/**
 * The load generator, run as its own process (so it does not share the server's core budget
 * with the server's event loop): `connections` keep-alive connections each sending GET `url`
 * one after another for `seconds`; prints `{ requests, errors, rps }` as JSON on stdout.
 *
 *   node bench/lib/loadgen.ts URL CONNECTIONS SECONDS [AUTHORIZATION]
 */
import http from 'node:http'

const [url, connections = '10', seconds = '5', authorization] = process.argv.slice(2)
if (!url) throw new Error('usage: loadgen URL CONNECTIONS SECONDS [AUTHORIZATION]')
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) })
const target = new URL(url)
const headers: Record<string, string> = authorization ? { authorization } : {}

function once(): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ agent, host: target.hostname, port: target.port, path: target.pathname + target.search, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(0))
  })
}

const until = Date.now() + Number(seconds) * 1000
let requests = 0
let errors = 0
const started = performance.now()
await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    while (Date.now() < until) {
      const status = await once()
      if (status === 200) requests++
      else errors++
    }
  }),
)
const rps = requests / ((performance.now() - started) / 1000)
agent.destroy()
process.stdout.write(JSON.stringify({ requests, errors, rps }))
