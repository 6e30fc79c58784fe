import { uploadScript, uploadScriptVersion, type operations, type Schemas, type ScriptFileInput } from '@helpline/sdk'
import { isOneOf, type ListQuery, type ResourceAdapter } from '../data-provider.ts'
import { call } from '../errors.ts'
import { dataOf, type HelplineClient } from '../client.ts'

export type Script = Schemas['Script']
export type ScriptVersion = Schemas['ScriptVersion']
export type ScriptLimits = Schemas['ScriptLimits']
type ScriptQuery = NonNullable<operations['listScripts']['parameters']['query']>
type ScriptPatch = NonNullable<operations['updateScript']['requestBody']>['content']['application/json']

/**
 * A file in the script form: one already stored (with its sha256) or one just chosen (with the
 * File to upload). The form edits `executable` and `inputs`; the adapter turns them into an
 * upload, or into a new version that keeps the stored files still listed.
 */
export interface FormFile {
  name: string
  size: number
  sha256?: string
  file?: File
}

/** A script as the console's forms see it: the API's Script plus its files split by role. */
export interface ScriptRecord extends Script {
  executable: FormFile | null
  inputs: FormFile[]
}

export const scriptSorts = [
  'name',
  'categoryName',
  'ownerName',
  'size',
  'version',
  'published',
  'updatedAt',
  'createdAt',
] as const satisfies readonly NonNullable<ScriptQuery['sort']>[]

const metadata = ['name', 'categoryId', 'description', 'published', 'defaultTimeoutSeconds'] as const satisfies readonly (keyof ScriptPatch)[]

export function toScriptRecord(script: Script): ScriptRecord {
  const stored = (f: Script['files'][number]): FormFile => ({ name: f.name, size: f.size, sha256: f.sha256 })
  const executable = script.files.find((f) => f.role === 'executable')
  return {
    ...script,
    executable: executable ? stored(executable) : null,
    inputs: script.files.filter((f) => f.role === 'input').map(stored),
  }
}

/** react-admin's filters arrive untyped: keep only those the endpoint knows, in its types. */
function toScriptQuery(query: ListQuery): ScriptQuery {
  const out: ScriptQuery = {
    page: query.page,
    perPage: query.perPage,
    sort: isOneOf(scriptSorts, query.sort) ? query.sort : 'name',
    order: query.order ?? 'asc',
  }
  if (typeof query.q === 'string') out.q = query.q
  if (typeof query.categoryId === 'string') out.categoryId = query.categoryId
  if (typeof query.ownerId === 'string') out.ownerId = query.ownerId
  if (typeof query.published === 'boolean') out.published = query.published
  return out
}

const upload = (f: FormFile & { file: File }): ScriptFileInput => ({ name: f.name, content: f.file })
const isNew = (f: FormFile | null | undefined): f is FormFile & { file: File } => Boolean(f?.file)

/** Text inputs hand back '' for empty and numbers as numbers or text: send what the API takes. */
function metadataOf(data: Partial<ScriptRecord>): Partial<ScriptPatch> {
  const out: Partial<ScriptPatch> = {}
  if (typeof data.name === 'string') out.name = data.name
  if (typeof data.categoryId === 'string' && data.categoryId) out.categoryId = data.categoryId
  if (data.description !== undefined) out.description = data.description ?? ''
  if (typeof data.published === 'boolean') out.published = data.published
  const timeout = Number(data.defaultTimeoutSeconds)
  if (data.defaultTimeoutSeconds !== undefined && data.defaultTimeoutSeconds !== null && Number.isFinite(timeout)) {
    out.defaultTimeoutSeconds = timeout
  }
  return out
}

/** Whether the form's files differ from the stored version's. */
export function filesChanged(data: Partial<ScriptRecord>, previous: ScriptRecord | undefined): boolean {
  const now = [data.executable, ...(data.inputs ?? [])].filter((f): f is FormFile => Boolean(f))
  if (now.some(isNew)) return true
  const before = previous ? [previous.executable, ...previous.inputs].filter((f): f is FormFile => Boolean(f)) : []
  return now.map((f) => f.name).sort().join('\n') !== before.map((f) => f.name).sort().join('\n')
}

export function scriptsAdapter(client: HelplineClient): ResourceAdapter<ScriptRecord> {
  const path = (id: unknown) => ({ path: { id: String(id) } })
  return {
    async getList(query) {
      const { data, total } = dataOf(await client.GET('/api/v1/scripts', { params: { query: toScriptQuery(query) } }))
      return { data: data.map(toScriptRecord), total }
    },
    async getOne(id) {
      return toScriptRecord(dataOf(await client.GET('/api/v1/scripts/{id}', { params: path(id) })))
    },
    async create(data) {
      const fields = metadataOf(data)
      const executable = data.executable
      if (!fields.name || !fields.categoryId || !isNew(executable)) throw new Error('name, category and executable are required')
      const script = await uploadScript(client, {
        ...fields,
        name: fields.name,
        categoryId: fields.categoryId,
        executable: upload(executable),
        inputs: (data.inputs ?? []).filter(isNew).map(upload),
      })
      return toScriptRecord(script)
    },
    /**
     * Metadata first (a taken name is the likeliest refusal), then a new version when the files
     * changed: the version keeps every stored file still in the form.
     */
    async update(id, data, previous) {
      const before = previous as ScriptRecord | undefined
      const fields = metadataOf(data)
      const changes = Object.fromEntries(
        metadata.filter((k) => fields[k] !== undefined && fields[k] !== before?.[k]).map((k) => [k, fields[k]]),
      ) as Partial<ScriptPatch>
      let script: Script | undefined
      if (Object.keys(changes).length > 0) {
        script = dataOf(await client.PATCH('/api/v1/scripts/{id}', { params: path(id), body: changes }))
      }
      if (filesChanged(data, before)) {
        const inputs = data.inputs ?? []
        const keep = [data.executable, ...inputs].filter((f): f is FormFile => Boolean(f) && !isNew(f)).map((f) => f.name)
        script = await uploadScriptVersion(client, String(id), {
          ...(isNew(data.executable) ? { executable: upload(data.executable) } : {}),
          inputs: inputs.filter(isNew).map(upload),
          keep,
        })
      }
      script ??= dataOf(await client.GET('/api/v1/scripts/{id}', { params: path(id) }))
      return toScriptRecord(script)
    },
    async delete(id) {
      await client.DELETE('/api/v1/scripts/{id}', { params: path(id) })
    },
  }
}

/** Script calls that are not CRUD; exposed on the data provider. */
export function scriptActions(client: HelplineClient) {
  return {
    /** A site admin's one change to someone else's script: take it out of the library (the owner may publish it again). */
    unpublishScript: (id: string): Promise<ScriptRecord> =>
      call(async () => toScriptRecord(dataOf(await client.PATCH('/api/v1/scripts/{id}', { params: { path: { id } }, body: { published: false } })))),
    /** Site admins: the new owner edits, versions and deletes it from then on. */
    transferScriptOwner: (id: string, ownerId: string): Promise<ScriptRecord> =>
      call(async () => toScriptRecord(dataOf(await client.POST('/api/v1/scripts/{id}/owner', { params: { path: { id } }, body: { ownerId } })))),
    scriptLimits: (): Promise<ScriptLimits> => call(async () => dataOf(await client.GET('/api/v1/script-limits', {}))),
    scriptVersions: (id: string): Promise<ScriptVersion[]> =>
      call(async () => {
        const query = { perPage: 100, order: 'desc' as const }
        return dataOf(await client.GET('/api/v1/scripts/{id}/versions', { params: { path: { id }, query } })).data
      }),
    /** A stored file's bytes; the console has no cookie, so downloads go through the SDK too. */
    scriptFile: (id: string, version: number, name: string): Promise<Blob> =>
      call(async () => {
        const result = await client.GET('/api/v1/scripts/{id}/versions/{version}/files/{name}', {
          params: { path: { id, version, name } },
          parseAs: 'blob',
        })
        return dataOf(result)
      }),
  }
}
