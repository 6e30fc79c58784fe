/**
 * What makes a script version verifiable, in one place for the server, the agent and
 * integrators: the text whose sha256 is a version's digest, and the statement the server signs
 * for each version. Pure text (no hashing here), so it runs in Node and in browsers alike.
 */

/** One file of a version as the digest sees it. */
export interface DigestFile {
  name: string
  role: 'executable' | 'input'
  size: number
  sha256: string
}

const utf8 = new TextEncoder()

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/**
 * The version digest is the sha256 (hex) of this text: one line per file,
 * `<role> <size> <sha256> <name>\n`, sorted by the names' UTF-8 bytes. File names cannot contain
 * line breaks, so the text is unambiguous, and anyone holding the files can recompute it.
 */
export function versionDigestText(files: readonly DigestFile[]): string {
  const sorted = [...files].sort((a, b) => compareBytes(utf8.encode(a.name), utf8.encode(b.name)))
  return sorted.map((f) => `${f.role} ${f.size} ${f.sha256} ${f.name}\n`).join('')
}

/** The first line of every version statement; a new format gets a new line. */
export const VERSION_STATEMENT_HEADER = 'helpline-script-version/v1'

/** What the server's signing key vouches for: this version of this script has this digest. */
export interface VersionClaim {
  scriptId: string
  versionId: string
  /** The version number (1, 2, …). */
  number: number
  /** sha256 hex of versionDigestText(files). */
  digest: string
}

/**
 * The exact text the server signs (Ed25519, over its UTF-8 bytes) when a version is uploaded.
 * The agent rebuilds it from the digest it computed itself and checks the signature with the
 * public key it received at join.
 */
export function versionStatement(claim: VersionClaim): string {
  return `${VERSION_STATEMENT_HEADER}\nscript ${claim.scriptId}\nversion ${claim.versionId}\nnumber ${claim.number}\ndigest ${claim.digest}\n`
}
