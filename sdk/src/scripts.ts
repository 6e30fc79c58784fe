import { createClient, type ClientOptions, type HelplineClient } from './index.js'
import type { components, operations } from './schema.js'

export type Script = components['schemas']['Script']

/** A file's bytes: a Blob (or File), raw bytes, or text (sent as UTF-8). */
export type FileContent = Blob | Uint8Array | ArrayBuffer | string

export interface ScriptFileInput {
  /** A plain file name (no path), unique within the script. */
  name: string
  content: FileContent
  /** The media type to send; the server decides what it serves by name and content anyway. */
  type?: string
}

type CreateFields = operations['createScript']['requestBody']['content']['multipart/form-data']

export interface UploadScriptInput {
  name: CreateFields['name']
  categoryId: CreateFields['categoryId']
  description?: CreateFields['description']
  published?: CreateFields['published']
  defaultTimeoutSeconds?: CreateFields['defaultTimeoutSeconds']
  /** The file that runs: .sh .bash .py .js .mjs .ps1 .bat .cmd, or any file starting with `#!`. */
  executable: ScriptFileInput
  /** Files the executable needs, in the folder it runs in. */
  inputs?: ScriptFileInput[]
}

export interface UploadScriptVersionInput {
  /** A new executable; leave it out to keep the current one (and name it in `keep`). */
  executable?: ScriptFileInput
  /** New or replaced input files. */
  inputs?: ScriptFileInput[]
  /** Names of current files that the new version keeps unchanged. */
  keep?: string[]
}

function isClient(target: HelplineClient | ClientOptions): target is HelplineClient {
  return typeof (target as HelplineClient).POST === 'function'
}

function toBlob(file: ScriptFileInput): Blob {
  const { content, type } = file
  const options = type ? { type } : { type: 'application/octet-stream' }
  if (content instanceof Blob) return type ? new Blob([content], options) : content
  // From a view (a Buffer may sit in a larger pool) this copies exactly its bytes; an
  // ArrayBuffer is wrapped whole. Blob copies again, so the caller's bytes are never shared.
  const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : new Uint8Array(content)
  return new Blob([bytes], options)
}

function appendFile(form: FormData, field: string, file: ScriptFileInput) {
  form.append(field, toBlob(file), file.name)
}

function appendFiles(form: FormData, input: { executable?: ScriptFileInput | undefined; inputs?: ScriptFileInput[] | undefined }) {
  if (input.executable) appendFile(form, 'executable', input.executable)
  for (const file of input.inputs ?? []) appendFile(form, 'inputs', file)
}

/** The form for POST /api/v1/scripts, for callers who send it themselves. */
export function scriptForm(input: UploadScriptInput): FormData {
  const form = new FormData()
  form.append('name', input.name)
  form.append('categoryId', input.categoryId)
  if (input.description !== undefined) form.append('description', input.description)
  if (input.published !== undefined) form.append('published', String(input.published))
  if (input.defaultTimeoutSeconds !== undefined) form.append('defaultTimeoutSeconds', String(input.defaultTimeoutSeconds))
  appendFiles(form, input)
  return form
}

/** The form for POST /api/v1/scripts/{id}/versions. */
export function scriptVersionForm(input: UploadScriptVersionInput): FormData {
  const form = new FormData()
  for (const name of input.keep ?? []) form.append('keep', name)
  appendFiles(form, input)
  return form
}

// openapi-typescript types a multipart body as its fields; what goes on the wire is the
// FormData, which openapi-fetch sends untouched (and lets fetch set the boundary).
const asIs = <T>(form: FormData) => form as unknown as T

/**
 * Uploads a new script (version 1). Throws ApiError on refusal, e.g. 413 SCRIPT_TOO_LARGE,
 * 409 NAME_TAKEN, 422 UNSUPPORTED_EXECUTABLE, 400 INVALID_FILE_NAME.
 */
export async function uploadScript(target: HelplineClient | ClientOptions, input: UploadScriptInput): Promise<Script> {
  const client = isClient(target) ? target : createClient(target)
  const { data } = await client.POST('/api/v1/scripts', { body: asIs<CreateFields>(scriptForm(input)) })
  return data!
}

/** Uploads a new version of a script's files; the previous versions stay readable. */
export async function uploadScriptVersion(
  target: HelplineClient | ClientOptions,
  scriptId: string,
  input: UploadScriptVersionInput,
): Promise<Script> {
  const client = isClient(target) ? target : createClient(target)
  type VersionFields = operations['createScriptVersion']['requestBody']['content']['multipart/form-data']
  const { data } = await client.POST('/api/v1/scripts/{id}/versions', {
    params: { path: { id: scriptId } },
    body: asIs<VersionFields>(scriptVersionForm(input)),
  })
  return data!
}
