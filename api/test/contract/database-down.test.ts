import t from 'tap'
import { joinAgent, testPlatform, testPublicKey } from '../helpers/agent.ts'
import { setupApp } from '../helpers/app.ts'
import { operations, type OperationRef } from '../helpers/contract.ts'

/**
 * For every operation in openapi.yaml, with the database gone (PGlite closed, the PostgreSQL
 * client ended): a 503 SERVICE_UNAVAILABLE ErrorResponse with Retry-After, within a couple of
 * seconds, for callers whose credentials must be checked against the database too (a sign-in
 * this instance has not seen yet: a token it has seen is answered from memory, below).
 * Never a 500, never a hang, never a 401 for a token that may well be valid. This is why the
 * contract-coverage meta-test need not see a 503 per operation elsewhere.
 */
const h = await setupApp(t)
const { data: session } = await h.admin.client.POST('/api/v1/sessions', { body: { customerName: 'Outage' } })
const agent = await joinAgent(h, session!.number)
// Signed in, never used: its first request must look it up.
const unseenToken = await h.login(h.admin.email, h.admin.password)
await h.db.database.close()

const someId = '00000000-0000-4000-8000-000000000000'
/** Path values where an id is not what the path takes (the join page's number and file). */
const pathValues: Record<string, string> = { number: session!.number, fileName: 'helpline-agent.mjs' }
const url = (op: OperationRef) => op.path.replace(/\{([^}]+)\}/g, (_whole, name: string) => pathValues[name] ?? someId)

/**
 * Operations that never touch the database: the customer can still download the agent; the
 * sign-in page still learns its methods. Single sign-on is not configured in this app, so its
 * steps answer 404 OIDC_NOT_CONFIGURED before any database work.
 */
const withoutDatabase = new Set(['listAgentDownloads', 'downloadAgent', 'getAuthMethods', 'startOidcSignIn', 'handleOidcCallback', 'exchangeOidcCode'])

/** Public operations reach the database only with a valid request; each gets one here. */
const publicRequests: Record<string, unknown> = {
  getHealth: undefined,
  getJoinInfo: undefined,
  listAgentDownloads: undefined,
  downloadAgent: undefined,
  downloadJoinAgent: undefined,
  login: { email: h.admin.email, password: h.admin.password },
  getAuthMethods: undefined,
  startOidcSignIn: undefined,
  handleOidcCallback: undefined,
  exchangeOidcCode: { code: 'hlo_aaaaaaaaaaaaaaaaaaaaaaaa' },
  joinSession: { number: session!.number, protocol: 1, agentVersion: '0.1.0', platform: testPlatform, publicKey: testPublicKey },
  rejoinSession: { rejoinToken: agent.joined.rejoinToken, protocol: 1, agentVersion: '0.1.0' },
}

for (const op of operations) {
  const { operationId } = op.operation
  t.test(`${operationId} (${op.method.toUpperCase()} ${op.path})`, async (t) => {
    const requirement = op.operation.security?.[0]
    const secured = requirement !== undefined
    if (!secured) t.ok(operationId in publicRequests, 'a public operation has a valid request in this test')
    const token = !secured ? undefined : requirement.agentToken ? agent.token : unseenToken
    const payload = secured ? undefined : publicRequests[operationId]
    const started = Date.now()
    const res = await h.inject({ method: op.method.toUpperCase() as 'GET', url: url(op), token, ...(payload === undefined ? {} : { payload: payload as object }) })
    const took = Date.now() - started
    if (withoutDatabase.has(operationId)) {
      t.not(res.statusCode, 503, 'needs no database: still answers')
      t.ok(res.statusCode < 500, `not a server error (${res.statusCode})`)
      return
    }
    t.equal(res.statusCode, 503, 'the database is down: 503')
    t.ok(took < 3000, `answered in ${took} ms`)
    t.match(res.headers['retry-after'], /^\d+$/, 'with Retry-After in seconds')
    const body = res.json() as { code?: string; database?: string }
    if (operationId === 'getHealth') t.equal(body.database, 'down', 'health says the database is down')
    else t.equal(body.code, 'SERVICE_UNAVAILABLE', 'the usual error body with a stable code (its shape checked against the contract)')
  })
}

t.test('a sign-in this instance already knows, with the database down: never a 500, a hang or a 401', async (t) => {
  // The admin's token was used before the outage, so it is answered from memory: requests that
  // need the database still get 503, the rest (an invalid body, a value from the configuration)
  // are answered as they would be with it.
  for (const op of operations) {
    if (op.operation.security?.[0] === undefined || op.operation.security[0].agentToken) continue
    const started = Date.now()
    const res = await h.inject({ method: op.method.toUpperCase() as 'GET', url: url(op), token: h.admin.token })
    t.ok(Date.now() - started < 3000, `${op.operation.operationId}: answered in ${Date.now() - started} ms`)
    t.ok(res.statusCode === 503 || res.statusCode < 500, `${op.operation.operationId}: ${res.statusCode} is a 503 or no server error`)
    t.not(res.statusCode, 401, `${op.operation.operationId}: the known token is not refused`)
  }
})

t.test('the log says the database is unavailable, without the queries and their parameters', async (t) => {
  const lines = h.logs.filter((l) => l.includes('database unavailable'))
  t.ok(lines.length > 0, 'each 503 is logged with its request id')
  t.notOk(lines.some((l) => /Failed query|params:/.test(l)), 'only the driver’s error: drizzle’s message would carry token hashes and other values')
})
