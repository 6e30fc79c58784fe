import t from 'tap'
import type { AddressInfo } from 'node:net'
import type { Schemas } from '@helpline/sdk'
import { databaseErrorKind } from '../../src/lib/metrics.ts'
import { joinAgent } from '../helpers/agent.ts'
import { setupApp, type TestApp } from '../helpers/app.ts'
import { createCategory, upload } from '../helpers/scripts.ts'

/**
 * GET /metrics: refused without its token, and its numbers move when work happens — agents
 * online, polls held, consents answered, commands, script runs and their output, request
 * durations by route and status, the notifier's round trip. Then the separate-port variant.
 */
const TOKEN = 'metrics-token-for-the-test-0123'
const h = await setupApp(t, { METRICS_TOKEN: TOKEN, JOIN_MAX_ATTEMPTS_PER_IP: 10_000 })
const csr = await h.createUser('csr')

async function scrape(app: TestApp = h): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
  if (res.statusCode !== 200) throw new Error(`scrape answered ${res.statusCode}: ${res.body}`)
  return res.body
}

/** The value of one series (`name{labels}`), or undefined when the series is absent. */
function value(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    if (line.slice(0, space) === series) return Number(line.slice(space + 1))
  }
  return undefined
}

t.test('without its token: 401, and nothing about the server', async (t) => {
  for (const authorization of [undefined, 'Bearer wrong-token-wrong-token', `Basic ${TOKEN}`, TOKEN]) {
    const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} })
    t.equal(res.statusCode, 401, `authorization: ${authorization ?? '(none)'}`)
    t.equal(res.json().code, 'METRICS_TOKEN_REQUIRED')
    t.equal(res.headers['www-authenticate'], 'Bearer realm="metrics"')
    t.notMatch(res.body, /helpline_/)
  }
})

t.test('the numbers move when work happens', async (t) => {
  const before = await scrape()
  t.equal(value(before, 'helpline_agents_online'), 0)
  t.equal(value(before, 'helpline_agent_polls_held'), 0)
  t.equal(value(before, 'helpline_database_up'), 1)
  t.ok(value(before, 'helpline_process_resident_memory_bytes')! > 0, 'process metrics too')

  const { data: session } = await csr.client.POST('/api/v1/sessions', { body: { customerName: 'Metrics' } })
  const agent = await joinAgent(h, session!.number)
  let text = await scrape()
  t.equal(value(text, 'helpline_agents_online'), 1, 'an agent joined: online')
  t.equal(value(text, 'helpline_http_request_duration_seconds_count{method="POST",route="/api/v1/agent/join",status="201"}'), 1, 'the join is timed by its route and status')

  // A poll with nothing to hand out is held; the scrape sees it, and the consent request ends it.
  const held = agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 20 } } })
  for (let i = 0; i < 100 && value(await scrape(), 'helpline_agent_polls_held') !== 1; i++) await new Promise((r) => setTimeout(r, 20))
  t.equal(value(await scrape(), 'helpline_agent_polls_held'), 1, 'one poll held')
  const { data: refresh } = await csr.client.POST('/api/v1/sessions/{id}/system-info/refresh', { params: { path: { id: session!.id } } })
  const { data: feed } = await held
  t.ok(feed!.consents.length > 0, 'the held poll answered with the consent request')
  t.equal(value(await scrape(), 'helpline_agent_polls_held'), 0, 'and is no longer held')

  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: refresh!.consent!.id } }, body: { approved: true } })
  text = await scrape()
  t.equal(value(text, 'helpline_consents{kind="view_system_info",status="approved"}'), 1, 'the customer’s answer is counted')
  t.ok(text.includes('helpline_commands{kind="collect_system_info"'), 'commands by kind and status')

  // A script run with output: runs by outcome and the bytes stored.
  const category = await createCategory(h, 'Metrics')
  const script = await upload(csr, category, { name: 'Metered', published: true, executable: { name: 'm.sh', content: '#!/bin/sh\necho hi\n' } })
  await csr.client.POST('/api/v1/script-batches', { body: { scripts: [{ scriptId: script.id }], sessionIds: [session!.id] } })
  const { data: prompt } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const consent = prompt!.consents.find((c) => c.kind === 'run_scripts' && c.status === 'pending')!
  await agent.client.POST('/api/v1/agent/consents/{id}/answer', { params: { path: { id: consent.id } }, body: { approved: true } })
  const { data: approved } = await agent.client.GET('/api/v1/agent/poll', { params: { query: { cursor: 0, wait: 0 } } })
  const run = (approved!.commands.find((c) => c.kind === 'run_scripts')!.payload as Schemas['RunScriptsPayload']).scripts[0]!
  const path = { params: { path: { id: run.runId } } }
  await agent.client.POST('/api/v1/agent/script-runs/{id}/start', { ...path, body: { startId: 'metrics-start-01' } })
  await agent.client.POST('/api/v1/agent/script-runs/{id}/output', { ...path, body: { chunks: [{ sequence: 0, stream: 'stdout', data: 'hello metrics\n' }] } })
  text = await scrape()
  t.equal(value(text, 'helpline_script_runs{status="running"}'), 1)
  t.equal(value(text, 'helpline_script_output_bytes'), 14, 'output bytes stored')
  await agent.client.POST('/api/v1/agent/script-runs/{id}/finish', { ...path, body: { status: 'succeeded', exitCode: 0, durationMs: 5 } })
  text = await scrape()
  t.equal(value(text, 'helpline_script_runs{status="succeeded"}'), 1, 'runs by outcome')
  t.equal(value(text, 'helpline_script_runs{status="running"}'), undefined, 'none running any more')

  await agent.client.POST('/api/v1/agent/leave')
  t.equal(value(await scrape(), 'helpline_agents_online'), 0, 'the agent left')

  const notFound = await h.app.inject({ method: 'GET', url: '/no/such/page' })
  t.equal(notFound.statusCode, 404)
  t.equal(value(await scrape(), 'helpline_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}'), 1, 'unknown URLs share one series')
  t.ok(value(text, 'helpline_notifier_lag_seconds')! >= 0, 'the notifier’s round trip is measured')
  t.ok(value(text, 'helpline_database_pool_max')! >= 1)
})

t.test('database errors are counted by kind', async (t) => {
  t.equal(databaseErrorKind(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'unavailable')
  const refused = Object.assign(new Error('duplicate key'), { severity: 'ERROR', code: '23505' })
  t.equal(databaseErrorKind(new Error('Failed query', { cause: refused })), 'sqlstate_23', 'through drizzle’s wrapper')
  t.equal(databaseErrorKind(new Error('a bug')), undefined)
  h.app.metrics!.noteError(refused)
  t.equal(value(await scrape(), 'helpline_database_errors_total{kind="sqlstate_23"}'), 1)
})

// Neither METRICS_TOKEN nor METRICS_PORT (every other test file): no metrics plugin at work at all.
t.test('METRICS_PORT: a listener of its own, and nothing on the API port', async (t) => {
  const other = await setupApp(t, { METRICS_PORT: 0 })
  const res = await other.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 404, 'not on the API port')
  const { port } = other.app.metricsServer!.address() as AddressInfo
  const scraped = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(scraped.status, 200)
  t.match(await scraped.text(), /helpline_agents_online 0/)
  t.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404)
})
