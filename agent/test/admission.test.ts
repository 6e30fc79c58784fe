import { PassThrough } from 'node:stream'
import t from 'tap'
import { startTestServer } from '../../api/test/helpers/server.ts'
import { joinAgent } from '../../api/test/helpers/agent.ts'
import { Agent, AgentExit, EXIT } from '../src/agent.ts'
import { translator } from '../src/i18n/index.ts'
import { selectPlatform } from '../src/platform/index.ts'
import { StateStore } from '../src/state.ts'
import { Terminal } from '../src/terminal.ts'
import { UiHub } from '../src/ui/hub.ts'
import { at, newSession, startAgent, stateDir, until } from './helpers/process.ts'

/**
 * A session that already had a computer refuses a join with its number until the CSR lets a new
 * computer in (409 SESSION_IN_USE). The agent tells the customer to ask for that and keeps
 * trying (every 10 s, for up to 10 minutes), joins once let in, and otherwise gives up with
 * its own exit code and a clear line.
 */
const server = await startTestServer(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 10_000 })
const csr = await server.h.createUser('csr', { name: 'Carla CSR' })
const api = csr.client

/** A session whose first computer already joined (the one the new agent would replace). */
async function takenSession(name: string) {
  const s = await newSession(api, name)
  await joinAgent(server.h, s.number)
  return s
}

/** The agent in this process, with the wait shortened; what it says is collected. */
function inProcessAgent(number: string, timings: { admissionRetryMs: number; admissionWaitMs: number }, url = server.url) {
  const out = new PassThrough()
  let said = ''
  out.on('data', (d: Buffer) => (said += d.toString()))
  const agent = new Agent({
    server: url,
    number,
    approve: 'none',
    t: translator('en'),
    platform: selectPlatform('simulated'),
    terminal: new UiHub(new Terminal(new PassThrough(), out), { answeredInWindow: () => '' }),
    store: new StateStore(stateDir()),
    ...timings,
  })
  return { agent, said: () => said }
}

t.test('not let in: told once what to ask for, retried, then a clear exit (code 6)', async (t) => {
  const s = await takenSession('Alice')
  const { agent, said } = inProcessAgent(s.number, { admissionRetryMs: 50, admissionWaitMs: 400 })
  const error = await agent.join(s.number).then(
    () => undefined,
    (err: unknown) => err,
  )
  t.ok(error instanceof AgentExit)
  t.equal((error as AgentExit).code, EXIT.notLetIn)
  t.equal(translator('en')((error as AgentExit).key!, (error as AgentExit).values), `This computer was not let in to session ${s.number} within 0 minutes. Ask your support representative to let it in, then run the same command again.`)
  t.equal(said().match(/Ask your support representative to let this computer in/g)?.length, 1, 'the customer is told once, not on every try')
  const { data: session } = await api.GET('/api/v1/sessions/{id}', at(s.id))
  t.ok(session!.joinAttempt!.attempts >= 2, `it tried again (${session!.joinAttempt!.attempts})`)
  const { data: chat } = await api.GET('/api/v1/sessions/{id}/chat', at(s.id))
  t.equal(chat!.data.filter((m) => m.systemEvent?.type === 'agent.join_refused').length, 1, 'and the CSR saw one line about it')
})

t.test('while waiting, a busy number (429) is waited out too, not a reason to give up', async (t) => {
  const busy = await startTestServer(t, { JOIN_MAX_ATTEMPTS_PER_IP: 10_000, JOIN_MAX_ATTEMPTS_PER_NUMBER: 3 })
  const { data: s } = await busy.h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Eve' } })
  await joinAgent(busy.h, s!.number)
  const { agent, said } = inProcessAgent(s!.number, { admissionRetryMs: 50, admissionWaitMs: 600 }, busy.url)
  const error = await agent.join(s!.number).catch((err: unknown) => err)
  t.match(error, { code: EXIT.notLetIn }, 'it waited the whole time and then gave up as not let in')
  t.notMatch(said(), /Too many attempts/, 'the 429s did not end it')
})

t.test('let in while waiting: joins and replaces the earlier computer', async (t) => {
  const s = await takenSession('Bea')
  const { agent, said } = inProcessAgent(s.number, { admissionRetryMs: 50, admissionWaitMs: 60_000 })
  const joining = agent.join(s.number)
  await until('the refused attempt', () => api.GET('/api/v1/sessions/{id}', at(s.id)).then((r) => r.data!), (d) => d.joinAttempt !== null)
  await api.POST('/api/v1/sessions/{id}/admit-agent', at(s.id))
  await joining
  t.match(said(), new RegExp(`You joined support session ${s.number} with Carla CSR\\.`))
  const { data: session } = await api.GET('/api/v1/sessions/{id}', at(s.id))
  t.equal(session!.agent?.platform.hostname, 'simulated-pc', 'the simulated computer is now the session’s agent')
  agent.stop()
})

t.test('Ctrl-C while waiting stops at once', async (t) => {
  const s = await takenSession('Cleo')
  const { agent } = inProcessAgent(s.number, { admissionRetryMs: 60_000, admissionWaitMs: 600_000 })
  const joining = agent.join(s.number).catch((err: unknown) => err)
  await until('the refused attempt', () => api.GET('/api/v1/sessions/{id}', at(s.id)).then((r) => r.data!), (d) => d.joinAttempt !== null)
  const started = Date.now()
  await agent.leave()
  const error = await joining
  t.ok(Date.now() - started < 5_000, 'without waiting out the 60 s')
  t.match(error, { code: EXIT.ok }, 'a plain stop, not an error')
})

t.test('the real agent: Japanese wording, then joins within 10 s of being let in', async (t) => {
  const s = await takenSession('Dora')
  const agent = startAgent(t, ['join', s.number, '--server', server.url, '--state-dir', stateDir(), '--platform', 'simulated', '--lang', 'ja'])
  await agent.waitFor(/このコンピューターの参加を許可するよう、サポート担当者に依頼してください。10 秒ごとに最大 10 分間、再試行します/)
  await api.POST('/api/v1/sessions/{id}/admit-agent', at(s.id))
  await agent.waitFor(/サポートセッション \d{3}-\d{3}-\d{3} に参加しました。/, 20_000)
  agent.child.kill('SIGINT')
  t.equal(await agent.exited, 0)
})
