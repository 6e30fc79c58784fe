import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from './built-server.ts'

/**
 * The load balancer configurations exactly as docs/deployment.md gives them, adapted only where
 * a test must differ from a production machine (loopback ports, the test's instances, its own
 * certificate, quicker health checks). Each adaptation names the line it replaces and fails when
 * that line is gone, so the document cannot drift away from what the tests run.
 */
export const deploymentDoc = join(root, 'docs', 'deployment.md')

/** The one fenced block of `language` in docs/deployment.md (```nginx, ```haproxy). */
export function deploymentBlock(language: string): string {
  const text = readFileSync(deploymentDoc, 'utf8')
  const blocks = [...text.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]!)
  if (blocks.length !== 1) throw new Error(`docs/deployment.md has ${blocks.length} \`\`\`${language} blocks, the tests expect exactly one`)
  return blocks[0]!
}

/** Replaces every line matching `pattern` (at least one must) by `replace(line)`: a string, lines, or nothing. */
function replaceLines(config: string, pattern: RegExp, replace: (line: string) => string | string[]): string {
  let found = 0
  const lines = config.split('\n').flatMap((line) => {
    if (!pattern.test(line)) return [line]
    found += 1
    return replace(line)
  })
  if (found === 0) throw new Error(`docs/deployment.md changed: no line of its configuration matches ${pattern}; adapt api/test/helpers/deployment-doc.ts`)
  return lines.join('\n')
}

/** Plain `host:port` of an instance's base URL. */
const hostPort = (url: string) => new URL(url).host

/**
 * The HAProxy configuration of docs/deployment.md §3 on `127.0.0.1:port` in front of `backends`
 * (base URLs). Left out: the TLS listener and its redirect (the HAProxy test speaks plain HTTP;
 * TLS termination is tested through nginx). Health checks every 500 ms instead of 2 s. `maxconn`
 * 4096: the doc's 20000 needs about 40 000 file descriptors, above some test machines' hard limit.
 */
export function haproxyFromDoc(port: number, backends: string[]): string {
  let config = deploymentBlock('haproxy')
  config = replaceLines(config, /^\s*maxconn \d+/, (line) => line.replace(/maxconn \d+/, 'maxconn 4096'))
  config = replaceLines(config, /^\s*bind :80\b/, (line) => line.replace(':80', `127.0.0.1:${port}`))
  config = replaceLines(config, /^\s*bind :443 ssl\b/, () => [])
  config = replaceLines(config, /\bssl_fc\b/, () => [])
  config = replaceLines(config, /^\s*default-server check inter 2s\b/, (line) => line.replace('inter 2s', 'inter 500ms'))
  config = replaceLines(config, /^\s*server app\d+ /, () => [])
  config = replaceLines(config, /^\s*default-server /, (line) => [line, ...backends.map((url, i) => `  server app${i + 1} ${hostPort(url)}`)])
  return `${config}\n`
}

export interface NginxTestSetup {
  /** The test's working folder: pid, logs, temporary files. */
  dir: string
  /** Plain HTTP listener (the doc's TLS listener, without TLS). */
  port: number
  /** The doc's TLS listener, with the test's certificate and key; omitted when there is no certificate. */
  tls?: { port: number; certificate: string; key: string }
  backends: string[]
}

/**
 * The nginx configuration of docs/deployment.md §4 (an `http`-level snippet, as in
 * /etc/nginx/conf.d/) inside the minimal main configuration nginx needs to run as the test's
 * child process: its pid, logs and temporary files in `dir`. The doc's `listen 443 ssl http2`
 * becomes a plain listener on `port` and, with `tls`, the TLS one on `tls.port` with the test's
 * certificate; the upstream's servers become `backends`, with the doc's parameters.
 */
export function nginxFromDoc({ dir, port, tls, backends }: NginxTestSetup): string {
  let site = deploymentBlock('nginx')
  site = replaceLines(site, /^\s*listen 443 ssl\b/, (line) => [
    line.replace(/listen 443 ssl( http2)?/, `listen 127.0.0.1:${port}`),
    ...(tls ? [line.replace('listen 443', `listen 127.0.0.1:${tls.port}`)] : []),
  ])
  site = replaceLines(site, /^\s*ssl_certificate\s/, (line) => (tls ? line.replace(/\S+;/, `${tls.certificate};`) : []))
  site = replaceLines(site, /^\s*ssl_certificate_key\s/, (line) => (tls ? line.replace(/\S+;/, `${tls.key};`) : []))
  let first = true
  site = replaceLines(site, /^\s*server \d+\.\d+\.\d+\.\d+:\d+/, (line) => {
    if (!first) return []
    first = false
    return backends.map((url) => line.replace(/\d+\.\d+\.\d+\.\d+:\d+/, hostPort(url)))
  })
  const root = process.getuid?.() === 0
  return [
    // As root, nginx's workers would otherwise switch to `nobody`, who cannot use the test's folder.
    ...(root ? ['user root;'] : []),
    'worker_processes 1;',
    `error_log ${join(dir, 'error.log')} info;`,
    'events { worker_connections 1024; }',
    'http {',
    `  access_log ${join(dir, 'access.log')};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${join(dir, `${kind}-temp`)};`),
    site,
    '}',
    '',
  ].join('\n')
}

/**
 * One agent's polls through a balancer at `base` (plain fetch, no retries: a cut poll shows as
 * its status): each answer's status, cursor and how long it was held.
 */
export function agentPoller(base: string, agentToken: string) {
  const poll = async (cursor: number, wait: number) => {
    const begun = Date.now()
    const res = await fetch(`${base}/api/v1/agent/poll?cursor=${cursor}&wait=${wait}`, { headers: { authorization: `Bearer ${agentToken}` } })
    const feed = res.ok ? ((await res.json()) as { cursor: number }) : undefined
    return { status: res.status, cursor: feed?.cursor ?? cursor, heldMs: Date.now() - begun }
  }
  /** The cursor after what the join left in the feed, so that the next poll has nothing to answer at once. */
  const caughtUp = async (wait: number) => {
    let cursor = 0
    for (let i = 0; i < 5; i++) {
      const answer = await poll(cursor, wait)
      if (answer.cursor === cursor) break
      cursor = answer.cursor
    }
    return cursor
  }
  return { poll, caughtUp }
}
