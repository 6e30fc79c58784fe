import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { get as httpsGet } from 'node:https'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { testPlatform, testPublicKey } from '../helpers/agent.ts'
import { balancedAdmin, balancerScratch, freePort, instancesBehindBalancer } from '../helpers/built-server.ts'
import { testDatabaseUrl } from '../helpers/db.ts'
import { agentPoller, nginxFromDoc } from '../helpers/deployment-doc.ts'
import { openStream } from '../helpers/sse.ts'

/**
 * docs/deployment.md §4, "nginx instead", as written: two built instances on one PostgreSQL
 * behind Debian's nginx, run by the test with the doc's configuration (read from the doc:
 * api/test/helpers/deployment-doc.ts; only the listeners, the upstream's addresses and the
 * certificate differ). Through it: TLS termination, a poll held for the default hold (50 s), a live
 * stream's events arriving unbuffered, X-Forwarded-For reaching the app (TRUST_PROXY) so rate
 * limits count each client, a 1 MiB script upload (client_max_body_size), and one instance
 * killed without the requests noticing.
 */
const nginx = ['nginx', '/usr/sbin/nginx'].find((bin) => spawnSync(bin, ['-v']).status === 0)
const openssl = spawnSync('openssl', ['version']).status === 0
const skip = !testDatabaseUrl
  ? 'needs PostgreSQL: set TEST_DATABASE_URL (several instances share one database)'
  : !nginx
    ? 'nginx is not installed (Debian: apt-get install -y nginx)'
    : false

/** The instances' hold (AGENT_POLL_WAIT_SECONDS' default: they do not set it), which nginx's proxy_read_timeout must outlast. */
const DEFAULT_POLL_WAIT_SECONDS = loadConfig({}).AGENT_POLL_WAIT_SECONDS
const LOGIN_LIMIT_PER_CLIENT = 3
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A wrong sign-in sent from `localAddress` (a loopback address of the client's own), with no X-Forwarded-For of its own: the status. */
function wrongSignIn(port: number, localAddress: string): Promise<number> {
  const body = JSON.stringify({ email: `someone@${localAddress}.example.com`, password: 'not the password' })
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, localAddress, method: 'POST', path: '/api/v1/auth/login', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('two instances behind nginx configured as docs/deployment.md says', { skip }, async (t) => {
  const { db, dir } = await balancerScratch(t, 'nginx')

  // The balancer runs on this machine: the app believes X-Forwarded-For from it only.
  const instances = await instancesBehindBalancer(2, db.url!, dir, { TRUST_PROXY: '127.0.0.1', LOGIN_MAX_ATTEMPTS_PER_IP: String(LOGIN_LIMIT_PER_CLIENT) })
  t.teardown(() => instances.forEach((i) => i.child.kill('SIGKILL')))
  const backends = await Promise.all(instances.map((i) => i.url))

  // A certificate for help.example.com, as the doc's ssl_certificate lines expect.
  const tls = openssl ? { port: await freePort(), certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } : undefined
  if (tls) {
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=help.example.com', '-addext', 'subjectAltName=DNS:help.example.com', '-keyout', tls.key, '-out', tls.certificate])
    if (made.status !== 0) throw new Error(`openssl: ${made.stderr.toString()}`)
  }
  const port = await freePort()
  const config = join(dir, 'nginx.conf')
  writeFileSync(config, nginxFromDoc({ dir, port, tls, backends }))
  const balancer = spawn(nginx!, ['-p', dir, '-c', config, '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], { stdio: ['ignore', 'ignore', 'pipe'] })
  let balancerLog = ''
  balancer.stderr.on('data', (chunk: Buffer) => (balancerLog += chunk.toString()))
  const balancerExited = new Promise<void>((resolve) => balancer.on('exit', () => resolve()))
  t.teardown(async () => {
    balancer.kill('SIGTERM')
    await balancerExited
  })
  const base = `http://127.0.0.1:${port}`
  let healthy = false
  for (let i = 0; i < 100 && !healthy; i++) {
    healthy = await fetch(`${base}/health`).then((r) => r.ok, () => false)
    if (!healthy) await sleep(100)
  }
  t.ok(healthy, 'GET /health through nginx')
  if (!healthy) return void t.comment(balancerLog, readFileSync(join(dir, 'error.log'), 'utf8'))

  const api = async (method: string, path: string, opts: { token?: string; body?: unknown } = {}) => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(opts.body ? { body: JSON.stringify(opts.body) } : {}),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const login = await api('POST', '/auth/login', { body: balancedAdmin })
  t.equal(login.status, 200, 'the admin signs in through nginx')
  const token = login.body.token as string
  const newSession = async (name: string) => (await api('POST', '/sessions', { token, body: { customerName: name } })).body as { id: string; number: string }

  // An agent, joined through nginx, whose next poll is held for the whole default hold while the rest goes on.
  const polled = await newSession('Polling customer')
  const joined = await api('POST', '/agent/join', { body: { number: polled.number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey } })
  t.equal(joined.status, 201, 'an agent joins through nginx')
  const agentToken = joined.body.agentToken as string
  const { poll: agentPoll, caughtUp } = agentPoller(base, agentToken)
  // Catch up with what the join left in the feed, then hold.
  const cursor = await caughtUp(1)
  const held = agentPoll(cursor, DEFAULT_POLL_WAIT_SECONDS)

  await t.test('TLS ends at nginx (the doc’s listen … ssl http2 with its certificate)', { skip: tls ? false : 'openssl is not installed: no certificate to test with' }, async (t) => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsGet({ host: '127.0.0.1', port: tls!.port, path: '/health', servername: 'help.example.com', ca: readFileSync(tls!.certificate) }, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
    })
    t.equal(answer.status, 200, 'https://help.example.com/health answers through nginx')
  })

  await t.test('X-Forwarded-For reaches the app: each client has its own sign-in budget', async (t) => {
    // Two clients with addresses of their own (127.0.0.2, 127.0.0.3): nginx names each in X-Forwarded-For.
    const wrong = (client: string) => wrongSignIn(port, client)
    // Per instance: two instances allow up to twice the limit before both refuse.
    const statuses: number[] = []
    for (let i = 0; i < 2 * LOGIN_LIMIT_PER_CLIENT + 2 && statuses.at(-1) !== 429; i++) statuses.push(await wrong('127.0.0.2'))
    t.equal(statuses.at(-1), 429, `one client is limited after its wrong sign-ins (${statuses.join(' ')})`)
    t.equal(await wrong('127.0.0.3'), 401, 'another client behind the same nginx is not')
  })

  await t.test('a 1 MiB script upload passes (client_max_body_size)', async (t) => {
    const category = await api('POST', '/script-categories', { token, body: { name: 'Through nginx' } })
    t.equal(category.status, 201)
    const header = '#!/bin/sh\necho big\n'
    const content = header + '#'.repeat(1024 * 1024 - header.length - 1) + '\n'
    const form = new FormData()
    form.append('name', 'One mebibyte')
    form.append('categoryId', category.body.id as string)
    form.append('executable', new Blob([content]), 'big.sh')
    const res = await fetch(`${base}/api/v1/scripts`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
    const body = (await res.json().catch(() => ({}))) as { id?: string }
    t.equal(res.status, 201, `the ${content.length}-byte executable is stored`)
    t.ok(body.id, 'as a new script')
  })

  await t.test('a live stream is not buffered: an event arrives at once', async (t) => {
    const watched = await newSession('Watched customer')
    const stream = await openStream(`${base}/api/v1/sessions/${watched.id}/stream`, { authorization: `Bearer ${token}` })
    t.teardown(() => stream.close())
    t.equal(stream.status, 200)
    const sent = Date.now()
    t.equal((await api('POST', `/sessions/${watched.id}/chat`, { token, body: { body: 'through nginx' } })).status, 201)
    const events = await stream.until((es) => es.some((e) => e.event === 'chat' && e.data.body === 'through nginx')).catch(() => undefined)
    t.ok(events, 'the chat message arrives on the stream')
    const ms = Date.now() - sent
    t.ok(ms < 3000, `within ${ms} ms of being sent`)
  })

  const poll = await held
  t.equal(poll.status, 200, `a poll held for ${poll.heldMs} ms is answered, not cut by nginx (proxy_read_timeout)`)
  t.ok(poll.heldMs >= (DEFAULT_POLL_WAIT_SECONDS - 1) * 1000, `it was held for the default ${DEFAULT_POLL_WAIT_SECONDS} s (nothing new to answer earlier)`)

  await t.test('one instance killed: requests go to the other', async (t) => {
    instances[0]!.child.kill('SIGKILL')
    await instances[0]!.exited
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await api('GET', '/sessions', { token })).status)
    t.same(statuses, [200, 200, 200, 200, 200, 200], 'every request is answered (max_fails, proxy_next_upstream)')
    t.equal((await agentPoll(cursor, 1)).status, 200, 'the agent polls on')
    t.equal((await api('POST', '/auth/login', { body: balancedAdmin })).status, 200, 'a sign-in (POST) is answered too')
  })
})
