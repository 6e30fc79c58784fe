import { createHash, type Hash } from 'node:crypto'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

/** One file `npm run build` made for customers (agent/scripts/build.ts writes the manifest). */
export const ManifestArtifact = Type.Object({
  platform: Type.Enum(['linux', 'windows', 'macos', 'any']),
  arch: Type.Enum(['x64', 'arm64', 'any']),
  kind: Type.Enum(['executable', 'node-script']),
  fileName: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$' }),
  size: Type.Integer({ minimum: 0 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  version: Type.String(),
})
export type ManifestArtifact = Static<typeof ManifestArtifact>
const Manifest = Type.Object({ version: Type.String(), artifacts: Type.Array(ManifestArtifact) })

export const BUILD_COMMAND = 'npm run build'

/** A file to send: its bytes as a stream, with the size and sha256 of exactly those bytes. */
export interface Download {
  artifact: ManifestArtifact
  size: number
  sha256: string
  stream(): Readable
}

/**
 * The one-file agents this server offers (GET /api/v1/agent-downloads and the join page). The
 * manifest is read once; each file's sha256 is checked against it the first time it is needed
 * (hashing ~100 MB of executable at every start would slow the start for nothing). A download
 * through the join page carries a join ticket appended to the file (sdk join-ticket.ts): its
 * sha256 comes from a copy of the file's hash state, so it costs the ticket's bytes, not the file's.
 */
export class AgentDownloads {
  readonly artifacts: ManifestArtifact[]
  /** Why nothing is offered: not built, or built for another version. */
  readonly problem: string | undefined
  private readonly hashed = new Map<string, Promise<Hash>>()

  constructor(
    private readonly dir: string,
    serverVersion: string,
  ) {
    const manifestPath = join(dir, 'manifest.json')
    if (!existsSync(manifestPath)) {
      this.artifacts = []
      this.problem = `The customer's agent has not been built (no ${manifestPath}); run ${BUILD_COMMAND}`
      return
    }
    let manifest: Static<typeof Manifest> | undefined
    try {
      const parsed: unknown = JSON.parse(readFileSync(manifestPath, 'utf8'))
      if (Value.Check(Manifest, parsed)) manifest = parsed
    } catch {
      manifest = undefined
    }
    if (!manifest) {
      this.artifacts = []
      this.problem = `${manifestPath} is not a manifest of agent downloads; run ${BUILD_COMMAND}`
    } else if (manifest.version !== serverVersion) {
      // An agent of another version may speak another protocol: offer none rather than a wrong one.
      this.artifacts = []
      this.problem = `The agent downloads were built for version ${manifest.version}, this server is ${serverVersion}; run ${BUILD_COMMAND}`
    } else {
      this.artifacts = manifest.artifacts.filter((a) => existsSync(this.pathOf(a)))
      const missing = manifest.artifacts.length - this.artifacts.length
      this.problem = missing > 0 ? `${missing} agent download(s) listed in the manifest are missing; run ${BUILD_COMMAND}` : undefined
    }
  }

  static fromDir(dir: string, serverVersion: string) {
    return new AgentDownloads(resolve(dir), serverVersion)
  }

  private pathOf(artifact: ManifestArtifact) {
    return join(this.dir, artifact.fileName)
  }

  find(fileName: string): ManifestArtifact | undefined {
    return this.artifacts.find((a) => a.fileName === fileName)
  }

  /** The file's hash state after all its bytes; rejects when the file no longer matches the manifest. */
  private hashOf(artifact: ManifestArtifact): Promise<Hash> {
    let hashed = this.hashed.get(artifact.fileName)
    if (!hashed) {
      hashed = new Promise<Hash>((resolvePromise, reject) => {
        const hash = createHash('sha256')
        createReadStream(this.pathOf(artifact))
          .on('data', (chunk) => hash.update(chunk))
          .on('error', reject)
          .on('end', () => {
            const actual = hash.copy().digest('hex')
            if (actual === artifact.sha256) resolvePromise(hash)
            else reject(new Error(`${artifact.fileName} has sha256 ${actual}, the manifest says ${artifact.sha256}; run ${BUILD_COMMAND}`))
          })
      })
      // A failure is not cached: the next request reads the file again (it may have been rebuilt).
      hashed.catch(() => this.hashed.delete(artifact.fileName))
      this.hashed.set(artifact.fileName, hashed)
    }
    return hashed
  }

  /** The file as built, or with `trailer` (a join ticket line) appended. */
  async open(artifact: ManifestArtifact, trailer = ''): Promise<Download> {
    const hash = await this.hashOf(artifact)
    const extra = Buffer.from(trailer, 'utf8')
    const sha256 = extra.length ? hash.copy().update(extra).digest('hex') : artifact.sha256
    return {
      artifact,
      size: artifact.size + extra.length,
      sha256,
      stream: () => {
        const file = createReadStream(this.pathOf(artifact))
        if (!extra.length) return file
        const out = new PassThrough()
        file.on('error', (err) => out.destroy(err))
        file.on('end', () => out.end(extra))
        file.pipe(out, { end: false })
        return out
      },
    }
  }
}
