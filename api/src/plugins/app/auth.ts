import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { forbidden, unauthorized } from '../../errors.ts'
import type { AgentPrincipal } from '../../services/agents.service.ts'
import { requireSignIn, type Principal } from '../../services/auth.service.ts'
import { routeScope } from './contract.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user behind the request; set for every 'user' and 'admin' route. */
    principal: Principal | null
    /** The agent behind the request; set for every 'agent' route. It reaches only its own session. */
    agent: AgentPrincipal | null
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)$/i.exec(header)
  return match?.[1]
}

/** The principal of a route whose policy guarantees one; a programming error otherwise. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`route ${request.routeOptions.url} used principalOf without an auth policy`)
  return request.principal
}

/** The agent of a route whose policy is 'agent'; a programming error otherwise. */
export function agentOf(request: FastifyRequest): AgentPrincipal {
  if (!request.agent) throw new Error(`route ${request.routeOptions.url} used agentOf without the agent policy`)
  return request.agent
}

/**
 * Authorisation is declared on each route (config.auth, and config.scope / signInOnly where the
 * default does not fit) and enforced here, once, before the body is even parsed: the user's role,
 * then a console sign-in where one is required, then the credential's scope, then (when the site
 * requires two-factor sign-in) that the user has set it up. The contract plugin
 * has already refused routes without a policy and documents the same requirement.
 */
export default fp(
  async function auth(app: FastifyInstance) {
    app.decorateRequest('principal', null)
    app.decorateRequest('agent', null)

    // Agent tokens (hla_…) and user tokens (hls_/hlp_…) are separate worlds: neither opens the other's routes.
    const agentHook = async (request: FastifyRequest) => {
      const token = bearerToken(request)
      if (!token) throw unauthorized('AUTH_REQUIRED', 'Send the agent token (Authorization: Bearer hla_…)')
      request.agent = await app.services.agents.authenticate(token)
    }

    app.addHook('onRoute', (route) => {
      const policy = route.config?.auth
      if (!policy || policy === 'public') return
      let hook = agentHook
      if (policy !== 'agent') {
        const scope = routeScope(route)
        const signInOnly = route.config?.signInOnly === true
        const beforeTwoFactor = route.config?.beforeTwoFactor === true
        hook = async (request: FastifyRequest) => {
          const token = bearerToken(request)
          if (!token) throw unauthorized('AUTH_REQUIRED', 'Sign in or send an API token (Authorization: Bearer …)')
          const principal: Principal = await app.services.auth.authenticate(token, request.ip)
          request.principal = principal
          if (policy === 'admin' && principal.accountRole !== 'admin') throw forbidden('FORBIDDEN', 'Your role does not allow this')
          if (signInOnly) requireSignIn(principal)
          if (scope && !principal.scopes.includes(scope)) {
            throw forbidden('SCOPE_REQUIRED', `This API token does not have the "${scope}" scope this operation requires`)
          }
          if (principal.mustEnrolTwoFactor && !beforeTwoFactor) {
            throw forbidden('TOTP_ENROLLMENT_REQUIRED', 'This site requires two-factor sign-in: set it up on your profile (POST /api/v1/me/two-factor) first')
          }
        }
      }
      route.onRequest = [hook, ...(route.onRequest ? [route.onRequest].flat() : [])]
    })
  },
  { name: 'auth', dependencies: ['services'] },
)
