import { createHash } from 'node:crypto'
import { versionDigestText, type DigestFile } from '@helpline/sdk'

/** The interpreters the agent knows by extension (DESIGN: running scripts). */
export const executableExtensions = ['.sh', '.bash', '.py', '.js', '.mjs', '.ps1', '.bat', '.cmd'] as const

export const MAX_FILE_NAME_BYTES = 255

export function sha256Hex(content: Uint8Array | string): string {
  return createHash('sha256').update(content).digest('hex')
}

/**
 * Why a file name is refused, or undefined when it is fine. Names are metadata the agent uses
 * to write the file into a fresh folder, so anything that could leave that folder, hide in a
 * terminal, or not exist on a file system is refused.
 */
export function fileNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty'
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return `must be at most ${MAX_FILE_NAME_BYTES} bytes`
  if (name.includes('/') || name.includes('\\')) return 'must be a plain file name, without / or \\'
  if (name === '.' || name.includes('..')) return 'must not be . or contain ..'
  // C0 and C1 controls, NUL included; also lone surrogates, which no file system can store.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'must not contain control characters'
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) return 'must be valid Unicode'
  return undefined
}

/** By extension (ignoring case), or any file that starts with a `#!` line. */
export function isExecutable(name: string, content: Uint8Array): boolean {
  const lower = name.toLowerCase()
  if (executableExtensions.some((ext) => lower.endsWith(ext) && lower.length > ext.length)) return true
  return content.length >= 2 && content[0] === 0x23 && content[1] === 0x21
}

export type DigestEntry = DigestFile

/** The version digest: sha256 of versionDigestText (one line per file, sorted; see @helpline/sdk). */
export function versionDigest(files: readonly DigestEntry[]): string {
  return sha256Hex(versionDigestText(files))
}

/** Script types by extension; any other file is text or binary by its bytes. */
const scriptTypes: Record<string, string> = {
  '.sh': 'text/x-shellscript',
  '.bash': 'text/x-shellscript',
  '.py': 'text/x-python',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
}

/** Every type a download can have: the contract lists them. */
export const downloadTypes = ['text/x-shellscript', 'text/x-python', 'text/javascript', 'text/plain', 'application/octet-stream'] as const

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function isText(content: Uint8Array): boolean {
  if (content.includes(0)) return false
  try {
    utf8.decode(content)
    return true
  } catch {
    return false
  }
}

/**
 * The Content-Type of a stored file. Text is served as text (with its charset) so it reads
 * well in a browser; nothing is ever served as HTML.
 */
export function contentTypeOf(name: string, content: Uint8Array): string {
  const dot = name.lastIndexOf('.')
  const known = dot > 0 ? scriptTypes[name.slice(dot).toLowerCase()] : undefined
  const text = isText(content)
  if (known) return text ? `${known}; charset=utf-8` : known
  return text ? 'text/plain; charset=utf-8' : 'application/octet-stream'
}

/** `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 8187). */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`
}
