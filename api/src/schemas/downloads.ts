import { Type, type Static } from 'typebox'
import { DateTime, ref } from './common.ts'

const NumberPattern = '^[0-9]{3}-?[0-9]{3}-?[0-9]{3}$'
const FileName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$', maxLength: 101 })

export const AgentDownload = Type.Object(
  {
    platform: Type.Enum(['linux', 'windows', 'macos', 'any'], { description: 'any: the bundled JavaScript agent, for any computer with Node.js 20 or later' }),
    arch: Type.Enum(['x64', 'arm64', 'any']),
    kind: Type.Enum(['executable', 'node-script'], { description: 'executable: runs by itself; node-script: `node <file>`' }),
    fileName: Type.String(),
    size: Type.Integer({ minimum: 0, description: 'Bytes' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Of exactly the bytes `url` serves' }),
    version: Type.String({ description: 'The agent’s version; always the server’s' }),
    url: Type.String({ description: 'Absolute URL of the file' }),
  },
  { $id: 'AgentDownload', additionalProperties: false },
)
export type AgentDownload = Static<typeof AgentDownload>

export const AgentDownloadList = Type.Object(
  {
    version: Type.String({ description: 'The server’s version' }),
    artifacts: Type.Array(ref(AgentDownload)),
    problem: Type.Union([Type.String(), Type.Null()], { description: 'Why some or all agents are not offered (not built, built for another version)' }),
    buildCommand: Type.String({ description: 'The command that builds the agents on the server' }),
  },
  { $id: 'AgentDownloadList', additionalProperties: false },
)

export const JoinDownload = Type.Object(
  {
    ...AgentDownload.properties,
    command: Type.String({ description: 'One line for a terminal that downloads and runs it' }),
  },
  { $id: 'JoinDownload', additionalProperties: false },
)

export const JoinInfo = Type.Object(
  {
    number: Type.String({ description: '123-456-789' }),
    csrName: Type.String({ description: 'Who will help: the CSR’s display name (nothing else about the session is shown)' }),
    orgName: Type.String(),
    server: Type.String({ description: 'The address the agent connects to' }),
    downloads: Type.Array(ref(JoinDownload), {
      description: 'Each carries this session’s join ticket (the server and the number), so it joins without typing anything; sha256 is of the ticketed file',
    }),
    problem: Type.Union([Type.String(), Type.Null()]),
    buildCommand: Type.String(),
    checkedAt: DateTime,
  },
  { $id: 'JoinInfo', additionalProperties: false },
)

export const JoinNumberParams = Type.Object({ number: Type.String({ pattern: NumberPattern, maxLength: 11 }) }, { additionalProperties: false })
export const DownloadParams = Type.Object({ fileName: FileName }, { additionalProperties: false })
export const JoinDownloadParams = Type.Object(
  { number: Type.String({ pattern: NumberPattern, maxLength: 11 }), fileName: FileName },
  { additionalProperties: false },
)

export const downloadSchemas = [AgentDownload, AgentDownloadList, JoinDownload, JoinInfo]
