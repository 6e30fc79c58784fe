import { and, asc, eq, gt, isNull, ne, or } from 'drizzle-orm'
import { versionStatement } from '@helpline/sdk'
import type { Db } from '../db/client.ts'
import { scriptFiles, scripts, scriptVersions } from '../db/schema.ts'
import { unprocessable, type AppError } from '../errors.ts'
import { appendSiteEvent, type EventActor } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import { sha256Hex, versionDigest } from '../lib/script-files.ts'
import { quoteName } from '../lib/text.ts'

/** A version as the integrity check reads it: the row, and every file with its bytes. */
interface StoredVersion {
  id: string
  scriptId: string
  scriptName: string
  number: number
  digest: string
  signature: string | null
  signatureKeyId: string | null
  files: { name: string; role: 'executable' | 'input'; size: number; sha256: string; content: Buffer }[]
}

/** Why a version's stored bytes do not match what was uploaded and signed. */
export interface IntegrityProblem {
  reason: 'file' | 'digest' | 'unsigned' | 'signature'
  /** The file at fault, for reason 'file'. */
  file?: string
  /** What the database records (a sha256 and size, a digest, a signing key). */
  expected: string
  /** What the stored bytes (or the signature check) give. */
  actual: string
}

export type IntegrityReport = { ok: true; version: StoredVersion; signature: string; signatureKeyId: string } | { ok: false; version: StoredVersion; problem: IntegrityProblem }

/** What a start-up or rotation pass did. */
export interface SigningReport {
  keyId: string
  /** Versions that had no signature (made before signing existed): their digest matched, now signed. */
  signed: string[]
  /** Versions signed with a retired key: verified, re-signed with the current one. */
  resigned: string[]
  /** Versions left as they were because their bytes do not match: they cannot run. */
  refused: { versionId: string; scriptId: string; number: number; problem: IntegrityProblem }[]
}

const PASS_BATCH = 20

/**
 * What runs is what was uploaded: every script version is signed with the server's key (kept
 * outside the database) as it is stored, and before a version is offered to a run, or a file is
 * served to an agent, its bytes are hashed again and the digest and signature checked. A write
 * to the database alone (bytes, hashes, sizes and digest changed together) cannot produce a
 * version that passes; each refusal is recorded in the site audit trail.
 */
export class ScriptIntegrity {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
  ) {}

  get keyId(): string {
    return this.keyring.signingKeyId
  }

  /** The signature a new version is stored with. */
  sign(claim: { scriptId: string; versionId: string; number: number; digest: string }): { signature: string; signatureKeyId: string } {
    return { signature: this.keyring.sign(versionStatement(claim)), signatureKeyId: this.keyring.signingKeyId }
  }

  private async load(versionId: string, db: Db = this.db): Promise<StoredVersion | undefined> {
    const [row] = await db
      .select({
        id: scriptVersions.id,
        scriptId: scriptVersions.scriptId,
        scriptName: scripts.name,
        number: scriptVersions.number,
        digest: scriptVersions.digest,
        signature: scriptVersions.signature,
        signatureKeyId: scriptVersions.signatureKeyId,
      })
      .from(scriptVersions)
      .innerJoin(scripts, eq(scripts.id, scriptVersions.scriptId))
      .where(eq(scriptVersions.id, versionId))
    if (!row) return undefined
    const files = await db
      .select({ name: scriptFiles.name, role: scriptFiles.role, size: scriptFiles.size, sha256: scriptFiles.sha256, content: scriptFiles.content })
      .from(scriptFiles)
      .where(eq(scriptFiles.versionId, versionId))
      .orderBy(asc(scriptFiles.position))
    return { ...row, files }
  }

  /** Only the bytes: each file's sha256 and size, then the version digest over them. */
  private recompute(version: StoredVersion): IntegrityProblem | { digest: string } {
    for (const f of version.files) {
      const actual = sha256Hex(f.content)
      if (actual !== f.sha256 || f.content.length !== f.size) {
        return { reason: 'file', file: f.name, expected: `sha256 ${f.sha256}, ${f.size} bytes`, actual: `sha256 ${actual}, ${f.content.length} bytes` }
      }
    }
    const digest = versionDigest(version.files.map((f) => ({ name: f.name, role: f.role, size: f.content.length, sha256: sha256Hex(f.content) })))
    if (digest !== version.digest) return { reason: 'digest', expected: version.digest, actual: digest }
    return { digest }
  }

  private signatureProblem(version: StoredVersion): IntegrityProblem | undefined {
    if (!version.signature || !version.signatureKeyId) return { reason: 'unsigned', expected: 'a signature', actual: 'none' }
    const claim = { scriptId: version.scriptId, versionId: version.id, number: version.number, digest: version.digest }
    if (!this.keyring.verify(versionStatement(claim), version.signature, version.signatureKeyId)) {
      return { reason: 'signature', expected: `a valid signature by key ${version.signatureKeyId} over digest ${version.digest}`, actual: 'the signature does not verify' }
    }
    return undefined
  }

  /** Hashes a version's stored bytes again and checks its digest and signature. */
  async verify(versionId: string): Promise<IntegrityReport> {
    const version = await this.load(versionId)
    if (!version) throw new Error(`script version ${versionId} vanished`)
    const computed = this.recompute(version)
    if ('reason' in computed) return { ok: false, version, problem: computed }
    const problem = this.signatureProblem(version)
    if (problem) return { ok: false, version, problem }
    return { ok: true, version, signature: version.signature!, signatureKeyId: version.signatureKeyId! }
  }

  /** Appends to the site audit trail in a transaction of its own: committed whatever the caller does next. */
  async siteEvent(event: Parameters<typeof appendSiteEvent>[2]) {
    await this.db.transaction((tx) => appendSiteEvent(tx, this.keyring, event))
  }

  /** Records a refused version in the site audit trail. */
  async record(actor: EventActor, version: Pick<StoredVersion, 'id' | 'scriptId' | 'scriptName' | 'number'>, problem: IntegrityProblem, during: string) {
    await this.siteEvent({
      type: 'script.integrity_failed',
      actor,
      targetType: 'script',
      targetId: version.scriptId,
      data: { during, versionId: version.id, number: version.number, scriptName: version.scriptName, ...problem },
    })
  }

  /** 422 DIGEST_MISMATCH naming the script, the version and what differs. */
  mismatch(version: Pick<StoredVersion, 'scriptName' | 'number'>, problem: IntegrityProblem, field: string, tail: string): AppError {
    const what =
      problem.reason === 'file'
        ? `file ${quoteName(problem.file ?? '')} has ${problem.actual} but ${problem.expected} is recorded`
        : problem.reason === 'digest'
          ? `its files give digest ${problem.actual}, not the recorded ${problem.expected}`
          : problem.reason === 'unsigned'
            ? 'it is not signed (a version made before signing is signed at start-up only when its files match its digest)'
            : `its signature does not verify (${problem.expected} was expected)`
    const message = `Version ${version.number} of ${quoteName(version.scriptName)} does not match what was uploaded: ${what}. ${tail}`
    return unprocessable('DIGEST_MISMATCH', message, { [field]: message })
  }

  /**
   * Signs every version not signed by the current key whose bytes still match: versions made
   * before signing existed, and versions signed by a retired key (after a rotation) whose
   * signature still verifies. The rest are left as they are and cannot run. A page at a time,
   * rows locked (SKIP LOCKED), so several instances starting at once share the work.
   */
  async signPending(actor: EventActor = { type: 'system' }): Promise<SigningReport> {
    const report: SigningReport = { keyId: this.keyring.signingKeyId, signed: [], resigned: [], refused: [] }
    const pending = or(isNull(scriptVersions.signature), isNull(scriptVersions.signatureKeyId), ne(scriptVersions.signatureKeyId, this.keyring.signingKeyId))
    let after = '00000000-0000-0000-0000-000000000000'
    for (;;) {
      const ids = await this.db.transaction(async (tx) => {
        const rows = await tx
          .select({ id: scriptVersions.id })
          .from(scriptVersions)
          .where(and(pending, gt(scriptVersions.id, after)))
          .orderBy(asc(scriptVersions.id))
          .limit(PASS_BATCH)
          .for('update', { skipLocked: true })
        for (const { id } of rows) {
          const version = (await this.load(id, tx))!
          const computed = this.recompute(version)
          const problem = 'reason' in computed ? computed : version.signature ? this.signatureProblem(version) : undefined
          if (problem) {
            report.refused.push({ versionId: id, scriptId: version.scriptId, number: version.number, problem })
            continue
          }
          await tx
            .update(scriptVersions)
            .set(this.sign({ scriptId: version.scriptId, versionId: id, number: version.number, digest: version.digest }))
            .where(eq(scriptVersions.id, id))
          if (version.signature) report.resigned.push(id)
          else report.signed.push(id)
        }
        return rows.map((r) => r.id)
      })
      if (ids.length < PASS_BATCH) break
      after = ids[ids.length - 1]!
    }
    if (report.signed.length + report.resigned.length + report.refused.length > 0) {
      await this.siteEvent({ type: 'script.versions_signed', actor, targetType: 'signing_key', targetId: report.keyId, data: { ...report } })
    }
    return report
  }
}
