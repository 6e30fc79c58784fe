import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { AuditEventList, AuditEventListQuery, ChainReport } from '../../schemas/audit.ts'
import { errors, paging, ref } from '../../schemas/common.ts'
import { SessionParams } from '../../schemas/sessions.ts'

const chainDescription =
  'Recomputes the chain event by event with the server secret (kept outside the database): `ok` is false and `firstBroken` names the first event at fault when an event was edited, removed, inserted or reordered, ' +
  'for example by someone with write access to the database who disabled its append-only trigger. `npm run audit:verify` checks every chain the same way.'

/** The audit trails, for site admins: the site-wide list, and checking any chain. */
export default async function auditRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { audit } = app.services
  const tags = ['audit']
  const admin = { auth: 'admin' as const }

  app.get(
    '/sessions/:id/events/verify',
    {
      config: admin,
      schema: {
        operationId: 'verifySessionEvents',
        tags,
        summary: 'Check that a session’s audit trail is intact (site admins)',
        description: chainDescription,
        params: SessionParams,
        response: { 200: ref(ChainReport), ...errors(404) },
      },
    },
    async (request) => audit.verifySession(request.params.id),
  )

  app.get(
    '/audit-events',
    {
      config: admin,
      schema: {
        operationId: 'listAuditEvents',
        tags,
        summary: 'The site-wide audit trail: what admins and the server did outside any one session (site admins)',
        description:
          'Append-only and hash-chained like the sessions’ trails: script ownership transfers and unpublishing by admins, and what other features record site-wide. Filters: type, actorId, targetType, targetId, from, to.',
        querystring: AuditEventListQuery,
        response: { 200: ref(AuditEventList) },
      },
    },
    async (request) => {
      const q = request.query
      return audit.list({ ...paging(q, 'id'), type: q.type, actorId: q.actorId, targetType: q.targetType, targetId: q.targetId, from: q.from, to: q.to })
    },
  )

  app.get(
    '/audit-events/verify',
    {
      config: admin,
      schema: {
        operationId: 'verifyAuditEvents',
        tags,
        summary: 'Check that the site-wide audit trail is intact (site admins)',
        description: chainDescription,
        response: { 200: ref(ChainReport) },
      },
    },
    async () => audit.verifySite(),
  )
}
