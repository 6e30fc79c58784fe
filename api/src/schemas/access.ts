import { Type, type Static } from 'typebox'
import { DateTime, ref, Uuid } from './common.ts'
import { ChatMessage, Command, Consent, SessionEvent, SnapshotSummary, Session } from './sessions.ts'
import { OutputChunk, ScriptRun } from './runs.ts'

// ── Log on as another user, log off, reboot ────────────────────────────────────────────────

/** How the console and the SDK encrypt credentials for an agent (WebCrypto's name for it). */
export const CREDENTIALS_ALGORITHM = 'RSA-OAEP-256' as const

export const LogonRequested = Type.Object(
  {
    consent: ref(Consent),
    publicKey: Type.String({ description: 'The agent’s RSA public key (SPKI, PEM): encrypt the credentials for it once the consent is approved' }),
    algorithm: Type.Literal(CREDENTIALS_ALGORITHM, { description: 'RSA-OAEP with SHA-256 over the UTF-8 JSON {"username","password","domain"?}' }),
  },
  { $id: 'LogonRequested', additionalProperties: false },
)

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

export const CommandQueued = Type.Object({ command: ref(Command) }, { $id: 'CommandQueued', additionalProperties: false })
export const RebootRequested = Type.Object({ command: ref(Command), consent: ref(Consent) }, { $id: 'RebootRequested', additionalProperties: false })

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

export const accessSchemas = [LogonRequested, CommandQueued, RebootRequested, ReportScriptRun, SessionReport]
