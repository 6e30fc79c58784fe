import { Type, type Static } from 'typebox'
import { DateTime, ref, Uuid } from './common.ts'
import { AgentPlatform, ConsentKind, ConsentStatus, SessionStatus } from './sessions.ts'

/** The agent protocol's version; an agent sends it at join and the server refuses others. */
export const AGENT_PROTOCOL = 1

export const JoinRequest = Type.Object(
  {
    number: Type.String({
      pattern: '^[0-9]{3}[- ]?[0-9]{3}[- ]?[0-9]{3}$',
      maxLength: 11,
      description: 'The session number the CSR gave, 123-456-789 or 123456789',
    }),
    protocol: Type.Integer({ minimum: 1, maximum: 1000, description: `The agent protocol version; this server speaks ${AGENT_PROTOCOL}` }),
    agentVersion: Type.String({ minLength: 1, maxLength: 50 }),
    platform: AgentPlatform,
    publicKey: Type.String({
      minLength: 100,
      maxLength: 4096,
      description: 'The agent’s RSA public key (SPKI, PEM); credentials for it are encrypted with it',
    }),
  },
  { additionalProperties: false },
)

export const RejoinRequest = Type.Object(
  {
    rejoinToken: Type.String({ minLength: 1, maxLength: 200 }),
    protocol: Type.Integer({ minimum: 1, maximum: 1000 }),
    agentVersion: Type.String({ minLength: 1, maxLength: 50 }),
  },
  { additionalProperties: false },
)

export const AgentSessionInfo = Type.Object(
  {
    id: Uuid,
    number: Type.String(),
    status: ref(SessionStatus),
    customerName: Type.String(),
    csrName: Type.String({ description: 'Who the customer is talking to' }),
  },
  { $id: 'AgentSessionInfo', additionalProperties: false },
)

export const SigningKey = Type.Object(
  {
    algorithm: Type.Literal('ed25519'),
    keyId: Type.String({ description: 'First 16 hex digits of the sha256 of the public key’s SPKI DER; each signature names the key that made it' }),
    publicKey: Type.String({ description: 'The public key, SPKI DER in base64' }),
  },
  {
    $id: 'SigningKey',
    additionalProperties: false,
    description:
      'The key the server signs script versions with. The agent keeps it from join (and rejoin) and runs no script whose signature it does not verify with it.',
  },
)
export type SigningKey = Static<typeof SigningKey>

export const AgentJoined = Type.Object(
  {
    agentId: Uuid,
    agentToken: Type.String({ description: 'Bearer token (hla_…) for the agent routes of this session only' }),
    rejoinToken: Type.String({ description: 'Single-use (hlr_…): rejoin after a crash or reboot; every use returns a new one' }),
    session: ref(AgentSessionInfo),
    pollWaitSeconds: Type.Integer({ description: 'How long the server holds a poll; poll again at once after each answer' }),
    protocol: Type.Integer(),
    serverVersion: Type.String(),
    signingKey: ref(SigningKey),
  },
  { $id: 'AgentJoined', additionalProperties: false },
)
export type AgentJoined = Static<typeof AgentJoined>

export const PollQuery = Type.Object(
  {
    cursor: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'The cursor from the previous answer (0 at first)' })),
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 60, description: 'Seconds to hold when there is nothing (at most the pollWaitSeconds told at join); 0 answers at once' }),
    ),
  },
  { additionalProperties: false },
)

export const AgentConsent = Type.Object(
  {
    id: Uuid,
    kind: ref(ConsentKind),
    status: ref(ConsentStatus),
    requestedBy: Type.String({ description: 'The CSR’s name' }),
    details: Type.Record(Type.String(), Type.Unknown()),
    expiresAt: DateTime,
  },
  { $id: 'AgentConsent', additionalProperties: false },
)
export type AgentConsent = Static<typeof AgentConsent>

export const AgentCommand = Type.Object(
  {
    id: Uuid,
    kind: Type.String(),
    consentId: Type.Union([Uuid, Type.Null()]),
    payload: Type.Record(Type.String(), Type.Unknown()),
    createdAt: DateTime,
  },
  { $id: 'AgentCommand', additionalProperties: false },
)
export type AgentCommand = Static<typeof AgentCommand>

export const AgentChat = Type.Object(
  { id: Uuid, authorName: Type.String(), body: Type.String(), createdAt: DateTime },
  { $id: 'AgentChat', additionalProperties: false },
)
export type AgentChat = Static<typeof AgentChat>

export const AgentFeed = Type.Object(
  {
    cursor: Type.Integer({ description: 'Send it with the next poll' }),
    session: ref(AgentSessionInfo),
    consents: Type.Array(ref(AgentConsent), {
      description: 'Consent requests new or changed since the cursor: pending ones to ask, others to close a prompt',
    }),
    commands: Type.Array(ref(AgentCommand), { description: 'Commands released since the cursor and not finished' }),
    chat: Type.Array(ref(AgentChat), { description: 'Messages from the CSR since the cursor' }),
    cancelledCommands: Type.Array(Uuid, {
      description: 'Commands handed out earlier and cancelled since the cursor (the CSR cancelled, the session ended): stop working on them',
    }),
  },
  { $id: 'AgentFeed', additionalProperties: false },
)
export type AgentFeed = Static<typeof AgentFeed>

export const ConsentAnswer = Type.Object({ approved: Type.Boolean() }, { additionalProperties: false })

export const CommandReport = Type.Object(
  {
    sequence: Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Per command, from 0; a repeated sequence is ignored' }),
    status: Type.Optional(Type.Enum(['running', 'succeeded', 'failed'], { description: 'succeeded/failed finish the command' })),
    message: Type.Optional(Type.String({ maxLength: 4000 })),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
)
export const ReportAck = Type.Object(
  {
    duplicate: Type.Boolean({ description: 'true when this (command, sequence) was already stored; nothing changed' }),
    commandStatus: Type.String(),
  },
  { $id: 'ReportAck', additionalProperties: false },
)
export const SnapshotAck = Type.Object(
  { snapshotId: Uuid, duplicate: Type.Boolean({ description: 'true when this command’s snapshot was already stored' }) },
  { $id: 'SnapshotAck', additionalProperties: false },
)

export const AgentChatPost = Type.Object({ body: Type.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false })
export const AgentItemParams = Type.Object({ id: Uuid }, { additionalProperties: false })

export const agentSchemas = [AgentSessionInfo, SigningKey, AgentJoined, AgentConsent, AgentCommand, AgentChat, AgentFeed, ReportAck, SnapshotAck]
