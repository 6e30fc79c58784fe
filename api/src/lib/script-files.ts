import { createHash } from 'node:crypto'
import { fileNameProblem as sharedFileNameProblem, MAX_FILE_NAME_BYTES, versionDigestText, type DigestFile } from '@helpline/sdk'

/** The interpreters the agent knows by extension (DESIGN: running scripts). */
export const executableExtensions = ['.sh', '.bash', '.py', '.js', '.mjs', '.ps1', '.bat', '.cmd'] as const

export { MAX_FILE_NAME_BYTES }

/** sha256 (hex) of bytes or text, or of bytes in pieces (hashed one after the other, not joined). */
export function sha256Hex(content: Uint8Array | string | readonly Uint8Array[]): string {
  const hash = createHash('sha256')
  if (typeof content === 'string' || content instanceof Uint8Array) hash.update(content)
  else for (const piece of content) hash.update(piece)
  return hash.digest('hex')
}

/**
 * Why a file name is refused, or undefined when it is fine: the rules the agent applies itself
 * (@helpline/sdk fileNameRules), so an upload is refused for the reason the agent would give.
 */
export function fileNameProblem(name: string): string | undefined {
  return sharedFileNameProblem(name)?.message
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
