import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import multipart from '@fastify/multipart'
import { Type } from 'typebox'
import { contentDisposition, contentTypeOf, downloadTypes, executableExtensions, MAX_FILE_NAME_BYTES } from '../../lib/script-files.ts'
import { multipartOptions, readUpload } from '../../lib/upload.ts'
import { principalOf } from '../../plugins/app/auth.ts'
import { errors, IdParams, paging, ref } from '../../schemas/common.ts'
import {
  Script,
  ScriptFields,
  ScriptFileParams,
  ScriptLimits,
  ScriptList,
  ScriptListQuery,
  ScriptOwnerChange,
  ScriptUpdate,
  ScriptUpload,
  ScriptVersion,
  ScriptVersionFields,
  ScriptVersionList,
  ScriptVersionListQuery,
  ScriptVersionParams,
  ScriptVersionUpload,
} from '../../schemas/scripts.ts'
import { scriptTooLarge, type FileRole, type NewFile } from '../../services/scripts.service.ts'
import type { UploadedFile } from '../../lib/upload.ts'

const tags = ['scripts']
const MAX_INPUTS = 100
const roleOf: Record<string, FileRole> = { executable: 'executable', inputs: 'input' }
const asNewFiles = (files: UploadedFile[]): NewFile[] => files.map((f) => ({ ...f, role: roleOf[f.field]! }))

/** `"abc"`, `W/"abc"`, lists of them, or `*`. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '')
    return t === '*' || t === etag
  })
}

export default async function scriptRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { scripts } = app.services

  app.get(
    '/scripts',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'listScripts',
        tags,
        summary: 'List the script library',
        description: 'Published scripts and your own (site admins: all), with the current version’s files.',
        querystring: ScriptListQuery,
        response: { 200: ref(ScriptList) },
      },
    },
    async (request) => scripts.list(principalOf(request), { ...request.query, ...paging(request.query, 'name') }),
  )

  app.get(
    '/script-limits',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'getScriptLimits',
        tags,
        summary: 'What an upload may contain: size, number of files, names, executables',
        response: { 200: ref(ScriptLimits) },
      },
    },
    async () => ({
      maxBytes: scripts.maxBytes,
      maxInputFiles: MAX_INPUTS,
      maxFileNameBytes: MAX_FILE_NAME_BYTES,
      executableExtensions: [...executableExtensions],
    }),
  )

  app.get(
    '/scripts/:id',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'getScript',
        tags,
        summary: 'Get a script with its current files',
        description: 'Someone else’s unpublished script is 404, as if it did not exist.',
        params: IdParams,
        response: { 200: ref(Script), ...errors(404) },
      },
    },
    async (request) => scripts.get(principalOf(request), request.params.id),
  )

  app.patch(
    '/scripts/:id',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'updateScript',
        tags,
        summary: 'Change a script’s name, category, description, publication or default timeout',
        description:
          'Metadata only: the version stays. The owner only (403 NOT_OWNER); a site admin who is not the owner may send exactly `{"published": false}` to unpublish it (recorded in the site audit trail as script.unpublished), nothing else. 422 CONTROL_CHARACTERS: the name holds control or bidi override characters.',
        params: IdParams,
        body: ScriptUpdate,
        response: { 200: ref(Script), ...errors(403, 404, 409, 422) },
      },
    },
    async (request) => scripts.update(principalOf(request), request.params.id, request.body),
  )

  app.delete(
    '/scripts/:id',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'deleteScript',
        tags,
        summary: 'Delete a script',
        description: 'Its name is free again; its versions stay for the history of past runs. The owner only (403 NOT_OWNER, site admins included: they may unpublish it or transfer its ownership).',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(403, 404) },
      },
    },
    async (request, reply) => {
      await scripts.delete(principalOf(request), request.params.id)
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/scripts/:id/owner',
    {
      config: { auth: 'admin' },
      schema: {
        operationId: 'transferScriptOwner',
        tags,
        summary: 'Give a script to another owner (site admins)',
        description:
          'The new owner edits, versions and deletes it from then on. Recorded in the site audit trail (script.owner_transferred, GET /audit-events). 422 UNKNOWN_USER: no such user, or disabled.',
        params: IdParams,
        body: ScriptOwnerChange,
        response: { 200: ref(Script), ...errors(404, 422) },
      },
    },
    async (request) => scripts.transferOwner(principalOf(request), request.params.id, request.body.ownerId),
  )

  app.get(
    '/scripts/:id/versions',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'listScriptVersions',
        tags,
        summary: 'A script’s versions with their files',
        params: IdParams,
        querystring: ScriptVersionListQuery,
        response: { 200: ref(ScriptVersionList), ...errors(404) },
      },
    },
    async (request) => scripts.listVersions(principalOf(request), request.params.id, paging(request.query, 'number')),
  )

  app.get(
    '/scripts/:id/versions/:version',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'getScriptVersion',
        tags,
        summary: 'One version of a script, current or past',
        params: ScriptVersionParams,
        response: { 200: ref(ScriptVersion), ...errors(404) },
      },
    },
    async (request) => scripts.getVersion(principalOf(request), request.params.id, request.params.version),
  )

  const binary = { schema: Type.String({ format: 'binary' }) }
  app.get(
    '/scripts/:id/versions/:version/files/:name',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'downloadScriptFile',
        tags,
        summary: 'Download one file of a script version',
        description:
          'The stored bytes, as an attachment. `ETag` is the file’s sha256 in quotes and `Repr-Digest` (RFC 9530) its ' +
          'sha256 in base64; send `If-None-Match` to get 304 when you have it already.',
        params: ScriptFileParams,
        response: {
          200: {
            description: 'The file',
            headers: {
              ETag: Type.String({ description: 'The sha256 of the file (hex), quoted' }),
              'Repr-Digest': Type.String({ description: 'sha-256=:<base64>: (RFC 9530)' }),
              'Content-Disposition': Type.String({ description: 'attachment with the file’s name' }),
            },
            content: Object.fromEntries(downloadTypes.map((type) => [type, binary])),
          },
          304: Type.Null({ description: 'Not modified: If-None-Match named this file’s ETag' }),
          ...errors(404),
        },
      },
    },
    async (request, reply) => {
      const { id, version, name } = request.params
      const file = await scripts.readFile(principalOf(request), id, version, name)
      const etag = `"${file.sha256}"`
      const base64 = Buffer.from(file.sha256, 'hex').toString('base64')
      void reply.headers({
        etag,
        'repr-digest': `sha-256=:${base64}:`,
        // The older header (RFC 3230) for clients that predate Repr-Digest.
        digest: `SHA-256=${base64}`,
        // Visibility can change, so shared caches keep nothing and a browser revalidates.
        'cache-control': 'private, no-cache',
      })
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send(null)
      // The type provider reads the binary schema as a string; fastify sends a Buffer as it is.
      const body = file.content as unknown as string
      return reply
        .header('content-disposition', contentDisposition(file.name))
        .type(contentTypeOf(file.name, file.content))
        .send(body)
    },
  )

  await app.register(uploadRoutes)
}

/**
 * The two routes that take files. This context parses multipart/form-data only, streaming it
 * (fastify's body limit does not apply: readUpload counts every byte against SCRIPT_MAX_BYTES).
 */
async function uploadRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { scripts } = app.services
  const maxBytes = app.config.SCRIPT_MAX_BYTES
  const tooLarge = (received: number, atLeast: boolean) => scriptTooLarge(received, maxBytes, atLeast)
  app.removeAllContentTypeParsers()
  await app.register(multipart, multipartOptions(maxBytes, MAX_INPUTS + 1))

  app.post(
    '/scripts',
    {
      config: { auth: 'user', multipart: ScriptUpload },
      schema: {
        operationId: 'createScript',
        tags,
        summary: 'Upload a new script: its fields, the executable and its input files',
        description:
          'multipart/form-data. 413 SCRIPT_TOO_LARGE when the files together exceed SCRIPT_MAX_BYTES; ' +
          '400 INVALID_FILE_NAME (a path, `..`, control or bidi characters, over 255 bytes, a Windows device name such as CON or nul.txt, a trailing dot or space); ' +
          '409 NAME_TAKEN (ignoring case); 422 UNKNOWN_CATEGORY, EXECUTABLE_REQUIRED, UNSUPPORTED_EXECUTABLE, CONTROL_CHARACTERS (in the name). ' +
          'Nothing is stored unless everything is. Each version is signed with the server’s signing key as it is stored.',
        response: { 201: ref(Script), ...errors(409, 422) },
      },
    },
    async (request, reply) => {
      const { fields, files } = await readUpload(request, {
        fields: ScriptFields,
        files: { executable: 1, inputs: MAX_INPUTS },
        maxBytes,
        tooLarge,
      })
      return reply.code(201).send(await scripts.create(principalOf(request), fields, asNewFiles(files)))
    },
  )

  app.post(
    '/scripts/:id/versions',
    {
      config: { auth: 'user', multipart: ScriptVersionUpload },
      schema: {
        operationId: 'createScriptVersion',
        tags,
        summary: 'Upload a new version of a script’s files',
        description:
          'multipart/form-data. The new version holds the uploaded files plus the current files named in `keep`; ' +
          'older versions stay readable. The owner only (403 NOT_OWNER, site admins included).',
        params: IdParams,
        response: { 201: ref(Script), ...errors(403, 404, 422) },
      },
    },
    async (request, reply) => {
      await scripts.checkWritable(principalOf(request), request.params.id)
      const { fields, files } = await readUpload(request, {
        fields: ScriptVersionFields,
        files: { executable: 1, inputs: MAX_INPUTS },
        maxBytes,
        tooLarge,
      })
      const script = await scripts.addVersion(principalOf(request), request.params.id, asNewFiles(files), fields.keep ?? [])
      return reply.code(201).send(script)
    },
  )
}
