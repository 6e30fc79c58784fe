import { Type, type Static } from 'typebox'
import { DateTime, listQuery, page, ref, Uuid } from './common.ts'

const CategoryName = Type.String({ minLength: 1, maxLength: 100 })

export const ScriptCategory = Type.Object(
  { id: Uuid, name: Type.String(), createdAt: DateTime, updatedAt: DateTime },
  { $id: 'ScriptCategory', additionalProperties: false },
)
export type ScriptCategory = Static<typeof ScriptCategory>
export const ScriptCategoryList = page(ScriptCategory, 'ScriptCategoryList')
export const ScriptCategoryWrite = Type.Object({ name: CategoryName }, { additionalProperties: false })
export const ScriptCategoryListQuery = listQuery(['name', 'createdAt'], {
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Text in the name' })),
})

export const ScriptFileRole = Type.Enum(['executable', 'input'], {
  $id: 'ScriptFileRole',
  description: 'executable: the file that runs; input: a file it reads',
})

export const ScriptFile = Type.Object(
  {
    name: Type.String({ description: 'A plain file name, never a path' }),
    role: ref(ScriptFileRole),
    size: Type.Integer({ minimum: 0, description: 'Bytes' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { $id: 'ScriptFile', additionalProperties: false },
)
export type ScriptFile = Static<typeof ScriptFile>

const Digest = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description: 'sha256 over the version’s files (docs/scripts.md says exactly how); equal digests mean equal files',
})

export const ScriptVersion = Type.Object(
  {
    id: Uuid,
    number: Type.Integer({ minimum: 1 }),
    digest: Digest,
    size: Type.Integer({ minimum: 0, description: 'Bytes of all files together' }),
    createdAt: DateTime,
    createdById: Uuid,
    createdByName: Type.String(),
    files: Type.Array(ref(ScriptFile), { description: 'The executable first, then the input files' }),
  },
  { $id: 'ScriptVersion', additionalProperties: false },
)
export type ScriptVersion = Static<typeof ScriptVersion>
export const ScriptVersionList = page(ScriptVersion, 'ScriptVersionList')

const Name = Type.String({ minLength: 1, maxLength: 100, description: 'Unique in the library, ignoring case; trimmed' })
const Description = Type.String({ maxLength: 4000 })
const publishedText = 'Published scripts are visible to and runnable by every CSR'
const timeoutText = 'Seconds a run may take unless the run says otherwise'
const Published = Type.Boolean({ description: publishedText })
const Timeout = Type.Integer({ minimum: 1, maximum: 3600, description: timeoutText })

export const Script = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    description: Type.String(),
    categoryId: Uuid,
    categoryName: Type.String(),
    ownerId: Uuid,
    ownerName: Type.String(),
    published: Type.Boolean(),
    defaultTimeoutSeconds: Type.Integer(),
    version: Type.Integer({ minimum: 1, description: 'The current version’s number' }),
    versionId: Uuid,
    digest: Digest,
    size: Type.Integer({ minimum: 0, description: 'Bytes of the current version’s files together' }),
    files: Type.Array(ref(ScriptFile), { description: 'The current version’s files' }),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'Script', additionalProperties: false },
)
export type Script = Static<typeof Script>
export const ScriptList = page(Script, 'ScriptList')

export const scriptSorts = ['name', 'categoryName', 'ownerName', 'size', 'version', 'published', 'updatedAt', 'createdAt'] as const
export const ScriptListQuery = listQuery([...scriptSorts], {
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Text in the name or description' })),
  categoryId: Type.Optional(Uuid),
  ownerId: Type.Optional(Uuid),
  published: Type.Optional(Type.Boolean()),
})

/** The text fields of a new script, as multipart form fields (numbers and booleans as text). */
export const ScriptFields = Type.Object(
  {
    name: Name,
    categoryId: Uuid,
    description: Type.Optional(Description),
    published: Type.Optional(Type.Boolean({ description: publishedText, default: false })),
    defaultTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: timeoutText, default: 600 })),
  },
  { additionalProperties: false },
)
export type ScriptFields = Static<typeof ScriptFields>

const upload = (description?: string) => Type.String({ format: 'binary', ...(description ? { description } : {}) })

/** POST /scripts: the fields and the files in one multipart/form-data body. */
export const ScriptUpload = Type.Object(
  {
    ...ScriptFields.properties,
    executable: upload('The file that runs: .sh .bash .py .js .mjs .ps1 .bat .cmd, or any file starting with #!'),
    inputs: Type.Optional(Type.Array(upload(), { maxItems: 100, description: 'Files the executable needs; repeat the field for each' })),
  },
  {
    additionalProperties: false,
    description: 'The executable and the input files together are at most SCRIPT_MAX_BYTES (1 MiB by default); file names are plain names, unique within the script.',
  },
)

/** The text fields of a new version: which files of the current version it keeps. */
export const ScriptVersionFields = Type.Object(
  {
    keep: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
        maxItems: 101,
        description: 'Names of current files to carry over unchanged; repeat the field for each',
      }),
    ),
  },
  { additionalProperties: false },
)

/** POST /scripts/{id}/versions: the new version's complete file set. */
export const ScriptVersionUpload = Type.Object(
  {
    executable: Type.Optional(upload('A new executable; omit it to keep the current one (name it in keep)')),
    inputs: Type.Optional(Type.Array(upload(), { maxItems: 100 })),
    ...ScriptVersionFields.properties,
  },
  {
    additionalProperties: false,
    description:
      'The new version has exactly the uploaded files plus those named in keep. The limits of a new script apply to the whole set.',
  },
)

export const ScriptUpdate = Type.Object(
  {
    name: Type.Optional(Name),
    categoryId: Type.Optional(Uuid),
    description: Type.Optional(Description),
    published: Type.Optional(Published),
    defaultTimeoutSeconds: Type.Optional(Timeout),
  },
  { additionalProperties: false, description: 'Metadata only: the version does not change' },
)
export type ScriptUpdate = Static<typeof ScriptUpdate>

export const ScriptOwnerChange = Type.Object(
  { ownerId: Type.String({ format: 'uuid', maxLength: 36, description: 'An existing user who is not disabled' }) },
  { additionalProperties: false },
)

export const ScriptVersionParams = Type.Object(
  { id: Uuid, version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) },
  { additionalProperties: false },
)
export const ScriptFileParams = Type.Object(
  { ...ScriptVersionParams.properties, name: Type.String({ minLength: 1, maxLength: 255 }) },
  { additionalProperties: false },
)
export const ScriptVersionListQuery = listQuery(['number'])

export const ScriptLimits = Type.Object(
  {
    maxBytes: Type.Integer({ description: 'SCRIPT_MAX_BYTES: the executable and input files together' }),
    maxInputFiles: Type.Integer(),
    maxFileNameBytes: Type.Integer(),
    executableExtensions: Type.Array(Type.String(), { description: 'Or any file that starts with #!' }),
  },
  { $id: 'ScriptLimits', additionalProperties: false },
)
export type ScriptLimits = Static<typeof ScriptLimits>

export const scriptSchemas = [
  ScriptLimits,
  ScriptCategory,
  ScriptCategoryList,
  ScriptFileRole,
  ScriptFile,
  ScriptVersion,
  ScriptVersionList,
  Script,
  ScriptList,
]
