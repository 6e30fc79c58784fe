import { spawnSync } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Config, loadConfig } from '../../src/config.ts'
import { Keyring } from '../../src/lib/keyring.ts'
import { root } from '../helpers/built-server.ts'
import { deploymentBlock } from '../helpers/deployment-doc.ts'

/**
 * docs/deployment.md's `/etc/helpline.env`, read the way systemd's EnvironmentFile= reads it:
 * `#` starts a comment only at the start of a line, a double-quoted value may span lines, and
 * nothing else is special (so `PORT=3000 # note` would be the value `3000 # note`).
 */
function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const end = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i)
    const line = text.slice(i, end)
    if (/^\s*(#|;|$)/.test(line)) {
      i = end + 1
      continue
    }
    const eq = line.indexOf('=')
    if (eq < 0) throw new Error(`not KEY=value: ${line}`)
    const key = line.slice(0, eq).trim()
    const start = i + eq + 1
    if (text[start] === '"') {
      const close = text.indexOf('"', start + 1)
      if (close < 0) throw new Error(`unterminated quote in ${key}`)
      env[key] = text.slice(start + 1, close)
      i = text.indexOf('\n', close) < 0 ? text.length : text.indexOf('\n', close) + 1
    } else {
      env[key] = text.slice(start, end).trim()
      i = end + 1
    }
  }
  return env
}

/** The doc's own commands for the two shared secrets, when openssl is here. */
function secrets(): { secret: string; signingKey: string } {
  const hex = spawnSync('openssl', ['rand', '-hex', '32'], { encoding: 'utf8' })
  const pem = spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519'], { encoding: 'utf8' })
  if (hex.status === 0 && pem.status === 0) return { secret: hex.stdout.trim(), signingKey: pem.stdout.trim() }
  return { secret: randomBytes(32).toString('hex'), signingKey: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim() }
}

t.test('the environment file of docs/deployment.md is a configuration the server accepts', async (t) => {
  const env = parseEnvironmentFile(deploymentBlock('env'))
  const { secret, signingKey } = secrets()
  // What the operator fills in where the doc writes `…`.
  const filled = {
    ...env,
    DATABASE_URL: env.DATABASE_URL!.replace('…', 'app-password'),
    DATABASE_OWNER_URL: env.DATABASE_OWNER_URL!.replace('…', 'owner-password'),
    SERVER_SECRET: secret,
    SIGNING_KEY: signingKey,
    ADMIN_PASSWORD: 'a long admin password',
  }
  t.same(Object.entries(filled).filter(([, v]) => v.includes('…')), [], 'every … is something the operator fills in')
  t.match(env.SIGNING_KEY, /^-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----$/, 'the quoted key spans lines')

  const config = loadConfig(filled)
  t.equal(config.HOST, '0.0.0.0')
  t.equal(config.PORT, 3000)
  t.equal(config.PUBLIC_URL, 'https://help.example.com')
  t.equal(config.TRUST_PROXY, '10.0.0.2')
  t.equal(config.METRICS_PORT, 9464)
  t.equal(config.METRICS_HOST, '10.0.0.11')
  t.equal(config.SHUTDOWN_TIMEOUT_SECONDS, 10)
  t.equal(config.ADMIN_EMAIL, 'admin@example.com')
  t.equal(new URL(config.DATABASE_URL!).searchParams.get('sslmode'), 'require', 'the database connection is encrypted, as pg_hba.conf’s hostssl requires')
  t.equal(new Keyring(config.SIGNING_KEY!, Buffer.from(config.SERVER_SECRET!, 'hex')).signingKeyId.length > 0, true, 'the doc’s openssl commands make keys the server takes')
})

t.test('a comment after a value is part of the value for systemd, and the server refuses it', async (t) => {
  const env = parseEnvironmentFile('PORT=3000 # the API\nHOST=0.0.0.0\n')
  t.equal(env.PORT, '3000 # the API')
  t.throws(() => loadConfig(env), /PORT/)
})

t.test('the systemd unit of docs/deployment.md runs the built server and waits out its shutdown', async (t) => {
  const unit = Object.fromEntries(
    deploymentBlock('ini')
      .split('\n')
      .filter((line) => /^\w+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )
  const [node, ...args] = unit.ExecStart!.split(' ')
  t.equal(node, '/usr/bin/node', 'plain node, no npm or tsx')
  t.equal(args.at(-1), `${unit.WorkingDirectory}/api/dist/server.js`, 'the file `npm run build` writes (and the process tests run)')
  t.equal(unit.KillSignal, 'SIGTERM', 'the signal the server shuts down gracefully on')
  const env = parseEnvironmentFile(deploymentBlock('env'))
  t.ok(Number(unit.TimeoutStopSec) > Number(env.SHUTDOWN_TIMEOUT_SECONDS), 'systemd waits longer than the server takes to stop')
  t.ok(Number(unit.LimitNOFILE) >= 65536, 'room for tens of thousands of held polls')
})

t.test('the held poll fits the proxies: the default inside common 60 s defaults, the doc’s timeouts above any hold', async (t) => {
  const hold = loadConfig({}).AGENT_POLL_WAIT_SECONDS
  // The schema's own bound (typebox keeps it on the schema object; its type does not name it).
  const longest = (Config.properties.AGENT_POLL_WAIT_SECONDS as { maximum?: number }).maximum!
  // nginx's proxy_read_timeout and an AWS ALB's idle timeout are 60 s unless configured: a
  // balancer nobody tuned must still answer a held poll, with room for a slow answer.
  t.ok(hold + 10 <= 60, `the default hold (${hold} s) ends at least 10 s before 60 s`)
  const seconds = (block: string, pattern: RegExp) => {
    const m = pattern.exec(deploymentBlock(block))
    if (!m) throw new Error(`docs/deployment.md: no ${pattern} in the ${block} block`)
    return Number(m[1])
  }
  // Held polls go through nginx's `location /` (its first proxy_read_timeout; the second is the streams').
  const timeouts = {
    'HAProxy timeout client': seconds('haproxy', /^\s*timeout client (\d+)s\b/m),
    'HAProxy timeout server': seconds('haproxy', /^\s*timeout server (\d+)s\b/m),
    'nginx proxy_read_timeout': seconds('nginx', /^\s*proxy_read_timeout (\d+)s;/m),
  }
  for (const [name, s] of Object.entries(timeouts)) {
    t.ok(s >= longest + 10, `${name} (${s} s) outlasts the longest hold allowed (${longest} s) by 10 s or more`)
  }
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  t.equal(Number(/^\| `AGENT_POLL_WAIT_SECONDS` \| `(\d+)` \|/m.exec(readme)?.[1]), hold, 'README’s configuration table gives the default the server uses')
})
