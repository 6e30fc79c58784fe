/**
 * The load generator, run as its own process (so it does not share the server's core budget
 * with the server's event loop): `connections` keep-alive connections each sending `url` one
 * request after another for `seconds`; prints `{ requests, errors, rps, statuses, cpuMs }` as JSON
 * (cpuMs: this process's own CPU during the load, start-up excluded).
 * A request counts when it is answered 2xx; anything else, or a failed connection, is an error.
 *
 *   node bench/lib/loadgen.ts URL CONNECTIONS SECONDS [AUTHORIZATION]
 *   LOADGEN_BODY=/path/file LOADGEN_CONTENT_TYPE=…   POST that file instead of GET; each
 *       occurrence of @@@@@@@@ in it becomes the request's number (8 digits), for unique names
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'

const [url, connections = '10', seconds = '5', authorization] = process.argv.slice(2)
if (!url) throw new Error('usage: loadgen URL CONNECTIONS SECONDS [AUTHORIZATION]')
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) })
const target = new URL(url)
const template = process.env.LOADGEN_BODY ? readFileSync(process.env.LOADGEN_BODY) : undefined
const marker = Buffer.from('@@@@@@@@')
const slots: number[] = []
for (let at = template?.indexOf(marker) ?? -1; at >= 0; at = template!.indexOf(marker, at + 1)) slots.push(at)
const headers: Record<string, string | number> = {
  ...(authorization ? { authorization } : {}),
  ...(template ? { 'content-type': process.env.LOADGEN_CONTENT_TYPE ?? 'application/octet-stream', 'content-length': template.length } : {}),
}
const statuses: Record<string, number> = {}
let sent = 0

function body(): Buffer | undefined {
  if (!template || slots.length === 0) return template
  const copy = Buffer.from(template)
  const n = Buffer.from(String(sent % 1e8).padStart(8, '0'))
  for (const at of slots) n.copy(copy, at)
  return copy
}

function once(): Promise<number> {
  sent++
  return new Promise((resolve) => {
    const req = http.request(
      { agent, method: template ? 'POST' : 'GET', host: target.hostname, port: target.port, path: target.pathname + target.search, headers },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', () => resolve(0))
    req.end(body())
  })
}

const until = Date.now() + Number(seconds) * 1000
let requests = 0
let errors = 0
const started = performance.now()
const cpuBefore = process.cpuUsage()
await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    while (Date.now() < until) {
      const status = await once()
      statuses[status] = (statuses[status] ?? 0) + 1
      if (status >= 200 && status < 300) requests++
      else errors++
    }
  }),
)
const rps = requests / ((performance.now() - started) / 1000)
const used = process.cpuUsage(cpuBefore)
const cpuMs = (used.user + used.system) / 1000
agent.destroy()
process.stdout.write(JSON.stringify({ requests, errors, rps, statuses, cpuMs }))
