import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { joinTicketLine } from '@helpline/sdk'
import { notFound, tooManyRequests } from '../../errors.ts'
import { contentDisposition } from '../../lib/script-files.ts'
import { errors, ref } from '../../schemas/common.ts'
import { AgentDownloadList, DownloadParams, JoinDownloadParams, JoinInfo, JoinNumberParams, type AgentDownload } from '../../schemas/downloads.ts'
import { BUILD_COMMAND, type Download, type ManifestArtifact } from '../../services/downloads.service.ts'
import { formatNumber, normalizeNumber } from '../../services/sessions.service.ts'
import { version } from '../../version.ts'

const artifactNotFound = () => notFound('Agent download', 'ARTIFACT_NOT_FOUND')

/** The one line a customer who prefers a terminal pastes (the URL is ours: no quotes in it). */
export function terminalCommand(artifact: ManifestArtifact, url: string): string {
  if (artifact.kind === 'node-script') return `curl -fLo ${artifact.fileName} '${url}' && node ${artifact.fileName}`
  if (artifact.platform === 'windows') {
    return `powershell -NoProfile -Command "Invoke-WebRequest -Uri '${url}' -OutFile ${artifact.fileName}; .\\${artifact.fileName}"`
  }
  return `curl -fLo ${artifact.fileName} '${url}' && chmod +x ${artifact.fileName} && ./${artifact.fileName}`
}

const fileResponse = {
  200: {
    description: 'The file',
    headers: {
      ETag: Type.String({ description: 'The sha256 of exactly these bytes (hex), quoted: a strong validator' }),
      'Repr-Digest': Type.String({ description: 'sha-256=:<base64>: (RFC 9530)' }),
      'Content-Disposition': Type.String({ description: 'attachment with the file’s name' }),
    },
    content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } },
  },
  304: Type.Null({ description: 'Not modified: If-None-Match named this file’s ETag' }),
}

/**
 * What customers download: the list of one-file agents, each file (as built), and the join
 * page's data and downloads, which carry the session's join ticket. All public: a customer has
 * no account. The join routes are rate-limited like joins, and a wrong or ended number answers the
 * same 404 as the join route.
 */
export default async function downloadRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { downloads, sessions } = app.services
  const c = app.config
  const tags = ['downloads']
  const baseUrl = (request: FastifyRequest) => (c.PUBLIC_URL ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '')

  const window = c.JOIN_WINDOW_SECONDS * 1000
  const perAddress = app.createRateLimit({ max: c.JOIN_MAX_ATTEMPTS_PER_IP, timeWindow: window, keyGenerator: (r: FastifyRequest) => `join-page-ip:${r.ip}` })
  const perNumber = app.createRateLimit({
    max: c.JOIN_MAX_ATTEMPTS_PER_NUMBER,
    timeWindow: window,
    keyGenerator: (r: FastifyRequest) => `join-page-number:${normalizeNumber(String((r.params as { number?: unknown }).number ?? ''))}`,
  })
  const limitJoinPage = async (request: FastifyRequest) => {
    for (const limit of [perAddress, perNumber]) {
      const result = await limit(request)
      if (!result.isAllowed && result.isExceeded) {
        throw tooManyRequests(`Too many attempts; try again in ${result.ttlInSeconds} s`, result.ttlInSeconds)
      }
    }
  }

  const send = (request: FastifyRequest, reply: FastifyReply, download: Download) => {
    const etag = `"${download.sha256}"`
    const base64 = Buffer.from(download.sha256, 'hex').toString('base64')
    void reply.headers({ etag, 'repr-digest': `sha-256=:${base64}:`, 'cache-control': 'no-cache' })
    const match = request.headers['if-none-match']
    if (match && match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return reply.code(304).send(null)
    // The type provider reads the binary schema as a string; fastify sends a stream as it is.
    const body = download.stream() as unknown as string
    return reply
      .header('content-disposition', contentDisposition(download.artifact.fileName))
      .header('content-length', String(download.size))
      .type('application/octet-stream')
      .send(body)
  }

  const describe = (artifact: ManifestArtifact, url: string, sha256 = artifact.sha256, size = artifact.size): AgentDownload => ({
    platform: artifact.platform,
    arch: artifact.arch,
    kind: artifact.kind,
    fileName: artifact.fileName,
    size,
    sha256,
    version: artifact.version,
    url,
  })

  app.get(
    '/agent-downloads',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'listAgentDownloads',
        tags,
        summary: 'The one-file agents this server offers, with their sizes and sha256',
        description: `Built by \`${BUILD_COMMAND}\` for this server's version; \`problem\` says why none (or not all) are offered.`,
        response: { 200: ref(AgentDownloadList) },
      },
    },
    async (request) => {
      const base = baseUrl(request)
      return {
        version,
        artifacts: downloads.artifacts.map((a) => describe(a, `${base}/api/v1/agent-downloads/${a.fileName}`)),
        problem: downloads.problem ?? null,
        buildCommand: BUILD_COMMAND,
      }
    },
  )

  app.get(
    '/agent-downloads/:fileName',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'downloadAgent',
        tags,
        summary: 'Download a one-file agent as built (no session in it: it asks for the number)',
        params: DownloadParams,
        response: { ...fileResponse, ...errors(404) },
      },
    },
    async (request, reply) => {
      const artifact = downloads.find(request.params.fileName)
      if (!artifact) throw artifactNotFound()
      return send(request, reply, await downloads.open(artifact))
    },
  )

  /** The session behind a number, with the join ticket its downloads carry. */
  const joinable = async (request: FastifyRequest, number: string) => {
    const session = await sessions.findJoinable(number)
    const csrName = await sessions.csrName(session.csrId)
    const server = baseUrl(request)
    const formatted = formatNumber(session.number)
    const ticket = joinTicketLine({ server, number: formatted, org: c.ORG_NAME, csr: csrName })
    return { session, csrName, server, formatted, ticket }
  }

  app.get(
    '/join/:number',
    {
      config: { auth: 'public', rateLimited: true },
      preHandler: limitJoinPage,
      schema: {
        operationId: 'getJoinInfo',
        tags,
        summary: 'What the join page shows for a session number: who helps, and the downloads that join it',
        description:
          'A wrong, ended or expired number answers 404 SESSION_NOT_FOUND, like the agent’s join; nothing about a session but its CSR’s display name is shown. Rate-limited per address and per number (429).',
        params: JoinNumberParams,
        response: { 200: ref(JoinInfo), ...errors(404) },
      },
    },
    async (request) => {
      const { csrName, server, formatted, ticket } = await joinable(request, request.params.number)
      const offered = await Promise.all(
        downloads.artifacts.map(async (artifact) => {
          const download = await downloads.open(artifact, ticket).catch((err: unknown) => {
            request.log.error({ err, fileName: artifact.fileName }, 'agent download unusable')
            return undefined
          })
          if (!download) return undefined
          const url = `${server}/api/v1/join/${formatted}/downloads/${artifact.fileName}`
          return { ...describe(artifact, url, download.sha256, download.size), command: terminalCommand(artifact, url) }
        }),
      )
      return {
        number: formatted,
        csrName,
        orgName: c.ORG_NAME,
        server,
        downloads: offered.filter((d) => d !== undefined),
        problem: downloads.problem ?? null,
        buildCommand: BUILD_COMMAND,
        checkedAt: new Date().toISOString(),
      }
    },
  )

  app.get(
    '/join/:number/downloads/:fileName',
    {
      config: { auth: 'public', rateLimited: true },
      preHandler: limitJoinPage,
      schema: {
        operationId: 'downloadJoinAgent',
        tags,
        summary: 'Download a one-file agent that joins this session when run',
        description:
          'The file as built with the session’s join ticket appended (the server’s address and the number; see docs/agent.md). Its sha256 is the one getJoinInfo lists. 404 SESSION_NOT_FOUND for a wrong or ended number, ARTIFACT_NOT_FOUND for an unknown file.',
        params: JoinDownloadParams,
        response: { ...fileResponse, ...errors(404) },
      },
    },
    async (request, reply) => {
      const { ticket } = await joinable(request, request.params.number)
      const artifact = downloads.find(request.params.fileName)
      if (!artifact) throw artifactNotFound()
      return send(request, reply, await downloads.open(artifact, ticket))
    },
  )
}
