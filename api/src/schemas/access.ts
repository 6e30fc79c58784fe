import { Type, type Static } from 'typebox'
import { DateTime, ref, Uuid } from './common.ts'
import { ChatMessage, Command, Consent, SessionEvent, SnapshotSummary, Session } from './sessions.ts'
import { OutputChunk, ScriptRun } from './runs.ts'

// ── Log on as another user, log off, reboot ────────────────────────────────────────────────

/** How the console and the SDK encrypt credentials for an agent (WebCrypto's name for it). */
export const CREDENTIALS_ALGORITHM = 'RSA-OAEP-256' as const

export const LogonCredentials = Type.Object(
  {
    consentId: Uuid,
    ciphertext: Type.String({
      minLength: 16,
      maxLength: 2048,
      pattern: '^[A-Za-z0-9+/]+={0,2}$',
      description: 'base64 of RSA-OAEP-256(agent public key, UTF-8 JSON {"username","password","domain"?}). The server relays it once to the agent and keeps none of it.',
    }),
  },
  { additionalProperties: false },
)

/**
 * The one answer (202) of every action request that queues work for the customer's computer:
 * log on, send the credentials, log off, restart, collect system information. What is queued,
 * and what the customer is asked first; a client reads every action the same way.
 */
export const ActionAccepted = Type.Object(
  {
    command: Type.Union([ref(Command), Type.Null()], {
      description: 'The queued command; null only for a logon request, whose command is queued when the credentials are sent',
    }),
    consent: Type.Union([ref(Consent), Type.Null()], {
      description: 'The consent request the command waits for; null when none is needed or the session’s consent was already approved',
    }),
    publicKey: Type.Optional(
      Type.String({ description: 'Logon request only: the agent’s RSA public key (SPKI, PEM); encrypt the credentials for it once the consent is approved' }),
    ),
    algorithm: Type.Optional(
      Type.Literal(CREDENTIALS_ALGORITHM, { description: 'Logon request only: RSA-OAEP with SHA-256 over the UTF-8 JSON {"username","password","domain"?}' }),
    ),
  },
  { $id: 'ActionAccepted', additionalProperties: false },
)
export type ActionAccepted = Static<typeof ActionAccepted>

// ── The session detail report ───────────────────────────────────────────────────────────────

export const ReportScriptRun = Type.Object(
  {
    run: ref(ScriptRun),
    output: Type.Array(ref(OutputChunk), { description: 'Everything the script wrote, in order (at most 1 MiB)' }),
  },
  { $id: 'ReportScriptRun', additionalProperties: false },
)

export const SessionReport = Type.Object(
  {
    generatedAt: DateTime,
    session: ref(Session),
    durationSeconds: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'From the first join to the end (or to now while open)' }),
    agentPlatform: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    timeline: Type.Array(ref(SessionEvent), { description: 'Every event of the session, oldest first' }),
    consents: Type.Array(ref(Consent)),
    snapshots: Type.Array(ref(SnapshotSummary), { description: 'System information collected; the full text: GET …/snapshots/{id}/text' }),
    scriptRuns: Type.Array(ref(ReportScriptRun)),
    chat: Type.Array(ref(ChatMessage)),
  },
  { $id: 'SessionReport', additionalProperties: false },
)
export type SessionReport = Static<typeof SessionReport>

export const accessSchemas = [ActionAccepted, ReportScriptRun, SessionReport]
