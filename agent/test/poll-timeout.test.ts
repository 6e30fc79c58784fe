import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { Agent } from '../src/agent.ts'
import { translator } from '../src/i18n/index.ts'
import { selectPlatform } from '../src/platform/index.ts'
import { StateStore } from '../src/state.ts'
import { Terminal } from '../src/terminal.ts'
import { UiHub } from '../src/ui/hub.ts'
import { at, newSession, stateDir, until } from './helpers/process.ts'

/**
 * A poll on a connection that died without a word (the laptop changed networks, a NAT or a
 * balancer forgot it: no FIN, no RST, packets simply go nowhere) is given up by the agent once the
 * server's hold plus a margin has passed, and sent again on a new connection: the CSR's next
 * message reaches the customer then, not after the agent's 90 s limit for any request.
 */
const HOLD_SECONDS = 1
const MARGIN_MS = 1_000
const server = await startTestServer(t, { AGENT_POLL_WAIT_SECONDS: HOLD_SECONDS })
const csr = await server.h.createUser('csr', { name: 'Carla CSR' })

/**
 * A TCP relay to the server whose current connections can be made black holes: they stay open,
 * and whatever either side sends is dropped. Connections opened afterwards are relayed as usual.
 */
async function relay() {
  const target = new URL(server.url)
  const live = new Set<{ client: Socket; upstream: Socket; dead: boolean }>()
  let opened = 0
  const proxy = createServer((client) => {
    opened++
    const upstream = connect(Number(target.port), target.hostname)
    const pair = { client, upstream, dead: false }
    live.add(pair)
    client.on('data', (d) => void (pair.dead || upstream.write(d)))
    upstream.on('data', (d) => void (pair.dead || client.write(d)))
    const close = () => {
      live.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', close).on('error', close)
    upstream.on('close', () => void (pair.dead || close())).on('error', () => void (pair.dead || close()))
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const { client, upstream } of live) client.destroy(), upstream.destroy()
    proxy.close()
  })
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    opened: () => opened,
    /** Every connection open now goes silent; returns how many. */
    blackHole: () => {
      for (const pair of live) pair.dead = true
      return live.size
    },
  }
}

t.test('a poll on a silently dead connection is sent again after the hold plus the margin', async (t) => {
  const net = await relay()
  const session = await newSession(csr.client, 'Lena')
  const out = new PassThrough()
  let said = ''
  out.on('data', (d: Buffer) => (said += d.toString()))
  const agent = new Agent({
    server: net.url,
    number: session.number,
    approve: 'none',
    t: translator('en'),
    platform: selectPlatform('simulated'),
    terminal: new UiHub(new Terminal(new PassThrough(), out), { answeredInWindow: () => '' }),
    store: new StateStore(stateDir()),
    pollMarginMs: MARGIN_MS,
  })
  t.teardown(() => agent.stop())
  await agent.join(session.number)
  const serving = agent.serve().catch((err: unknown) => err)
  // Held polls going through: the agent's connection is the one that will die.
  await until('the agent polling', () => csr.client.GET('/api/v1/sessions/{id}', at(session.id)).then((r) => r.data!), (s) => s.agent?.status === 'online')
  await new Promise((r) => setTimeout(r, HOLD_SECONDS * 1000 + 200))

  const dead = net.blackHole()
  t.ok(dead >= 1, `${dead} connection(s) went silent`)
  const before = net.opened()
  const sent = Date.now()
  await csr.client.POST('/api/v1/sessions/{id}/chat', { ...at(session.id), body: { body: 'Are you still there?' } })
  // One hold and one margin per silent pooled connection the agent may try first, and slack for a loaded machine.
  await until('the message on the customer’s screen', async () => said, (text) => text.includes('Are you still there?'), (dead * (HOLD_SECONDS * 1000 + MARGIN_MS)) + 15_000).catch(() => undefined)
  const ms = Date.now() - sent
  t.match(said, /Are you still there\?/, `the CSR’s message arrived ${ms} ms after it was sent, through a new connection`)
  t.ok(net.opened() > before, 'the agent opened a new connection')
  agent.stop()
  await serving
})
