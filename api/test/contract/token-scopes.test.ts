import t from 'tap'
import { operations, type OperationRef } from '../helpers/contract.ts'
import { setupApp } from '../helpers/app.ts'

/**
 * For every operation in openapi.yaml that takes a user's bearer token: an API token with each
 * scope is let through exactly when the operation's security requirement names that scope
 * (otherwise 403 SCOPE_REQUIRED naming it), and operations that require a console sign-in refuse
 * every API token (403 SIGN_IN_REQUIRED), even one with all three scopes, while a sign-in passes.
 * The tokens belong to a site admin, so the role never decides here: only the scope does.
 */
const h = await setupApp(t)
const scopes = ['read', 'sessions', 'admin'] as const
type Scope = (typeof scopes)[number]
const someId = '00000000-0000-4000-8000-000000000000'

async function tokenWith(name: string, chosen: Scope[]): Promise<string> {
  const { data } = await h.admin.client.POST('/api/v1/tokens', { body: { name, scopes: chosen } })
  return data!.token
}
const single = Object.fromEntries(await Promise.all(scopes.map(async (s) => [s, await tokenWith(s, [s])]))) as Record<Scope, string>
const everything = await tokenWith('all scopes', [...scopes])

const url = (op: OperationRef) => op.path.replace(/\{[^}]+\}/g, someId)
const hasJsonBody = (op: OperationRef) => Boolean(op.operation.requestBody?.content['application/json'])

const userOps = operations.filter((op) => op.operation.security?.[0]?.bearerAuth)
t.ok(userOps.length > 40, 'the walk sees the user operations')

for (const op of userOps) {
  const requirement = op.operation.security![0]!.bearerAuth!
  const needed = requirement.find((r) => r.startsWith('scope:'))?.slice('scope:'.length)
  const signIn = requirement.includes('sign-in')
  const method = op.method.toUpperCase() as 'GET'

  t.test(`${op.operation.operationId} (${method} ${op.path}) needs ${signIn ? 'a console sign-in' : needed ? `scope ${needed}` : 'any credential'}`, async (t) => {
    t.ok(signIn || needed || requirement.length === 0, 'the requirement names a scope, a sign-in, or nothing')
    const send = (token: string) => h.inject({ method, url: url(op), token, payload: hasJsonBody(op) ? {} : undefined })
    for (const scope of scopes) {
      // Signing out ends the token that asks: give it a fresh one each time.
      const token = needed || signIn ? single[scope] : await tokenWith(`fresh ${scope}`, [scope])
      const res = await send(token)
      const code = res.statusCode >= 400 ? (res.json() as { code: string }).code : undefined
      if (signIn) {
        t.equal(res.statusCode, 403, `a ${scope} token gets 403`)
        t.equal(code, 'SIGN_IN_REQUIRED', `a ${scope} token is not a console sign-in`)
      } else if (!needed || needed === scope) {
        t.not(res.statusCode, 401, `a ${scope} token is authenticated`)
        t.not(res.statusCode, 403, `a ${scope} token is allowed (got ${res.statusCode} ${code ?? ''})`)
      } else {
        t.equal(res.statusCode, 403, `a ${scope} token gets 403`)
        t.equal(code, 'SCOPE_REQUIRED', `a ${scope} token lacks the scope`)
        t.match(res.json().message, `"${needed}"`, 'the message names the scope')
      }
    }
    if (signIn) {
      const res = await send(everything)
      t.equal(res.json().code, 'SIGN_IN_REQUIRED', 'even a token with every scope is refused')
      const console = await h.inject({ method, url: url(op), token: h.admin.token, payload: hasJsonBody(op) ? {} : undefined })
      t.not(console.statusCode, 403, `a console sign-in passes (got ${console.statusCode})`)
    }
  })
}
