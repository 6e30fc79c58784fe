import { Type } from 'typebox'
import { DateTime, listQuery, page, Uuid } from './common.ts'

export const ChainReport = Type.Object(
  {
    ok: Type.Boolean({ description: 'Every chained event verifies' }),
    events: Type.Integer({ minimum: 0, description: 'Events in the trail' }),
    verified: Type.Integer({ minimum: 0, description: 'Events whose link verified' }),
    unchained: Type.Integer({ minimum: 0, description: 'Events written before the chain existed (upgraded installations): not verifiable' }),
    firstBroken: Type.Union(
      [
        Type.Object(
          {
            id: Type.Integer({ description: 'The event id (session events and audit events have their own ids)' }),
            reason: Type.String({ description: 'What is wrong with it: changed content, a removed or inserted event, another key' }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'The first event at fault; everything after it is unverified' },
    ),
  },
  {
    $id: 'ChainReport',
    additionalProperties: false,
    description:
      'An audit trail checked link by link: each event holds the previous event’s hash and an HMAC (keyed with the server secret, kept outside the database) over it and its own content',
  },
)

export const AuditEvent = Type.Object(
  {
    id: Type.Integer(),
    type: Type.String({ description: 'e.g. script.unpublished, script.owner_transferred' }),
    actorType: Type.Enum(['user', 'agent', 'system']),
    actorId: Type.Union([Uuid, Type.Null()]),
    targetType: Type.Union([Type.String(), Type.Null()], { description: 'What it is about: script, user, token, settings, …' }),
    targetId: Type.Union([Type.String(), Type.Null()]),
    data: Type.Record(Type.String(), Type.Unknown()),
    createdAt: DateTime,
    prevHash: Type.String(),
    hash: Type.String(),
  },
  { $id: 'AuditEvent', additionalProperties: false, description: 'One event of the site-wide audit trail (append-only, hash-chained)' },
)
export const AuditEventList = page(AuditEvent, 'AuditEventList')

export const AuditEventListQuery = listQuery(['id'], {
  type: Type.Optional(Type.String({ maxLength: 100, description: 'Exactly this type' })),
  actorId: Type.Optional(Uuid),
  targetType: Type.Optional(Type.String({ maxLength: 50 })),
  targetId: Type.Optional(Type.String({ maxLength: 100 })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'At or after' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Before' })),
})

export const auditSchemas = [ChainReport, AuditEvent, AuditEventList]
