import type { ChipProps } from '@mui/material'
import type { TranslateFunction } from 'react-admin'
import type { OutputChunk, ScriptRunStatus, SessionRunStatus } from '../../api/resources/script-batches.ts'

type AnyRunStatus = ScriptRunStatus | SessionRunStatus

const finalStatuses = new Set<AnyRunStatus>(['denied', 'expired', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'lost'])

/** A final status never changes again: nothing more to wait for, poll or cancel. */
export function isFinal(status: AnyRunStatus): boolean {
  return finalStatuses.has(status)
}

/** Whether a run in this status may have written output (so there is something to read). */
export function mayHaveOutput(status: ScriptRunStatus): boolean {
  return !['awaiting_consent', 'queued', 'denied', 'expired', 'skipped'].includes(status)
}

/** How far a run has come: two reports of one run keep the one further along. */
function stage(status: AnyRunStatus): number {
  if (isFinal(status)) return 3
  return status === 'running' ? 2 : status === 'queued' ? 1 : 0
}

/**
 * Of two statuses of the same run, the later one. Reports arrive from several places (the chat
 * line, the stream, an answer to the page's own read) and a late one must not undo a finish.
 */
export function laterStatus<S extends AnyRunStatus>(a: S, b: S): S {
  return stage(b) >= stage(a) ? b : a
}

const chips: Record<AnyRunStatus, { color: ChipProps['color']; variant: ChipProps['variant'] }> = {
  succeeded: { color: 'success', variant: 'filled' },
  failed: { color: 'error', variant: 'filled' },
  timed_out: { color: 'error', variant: 'filled' },
  lost: { color: 'error', variant: 'filled' },
  running: { color: 'info', variant: 'filled' },
  awaiting_consent: { color: 'default', variant: 'filled' },
  queued: { color: 'default', variant: 'filled' },
  denied: { color: 'default', variant: 'outlined' },
  expired: { color: 'default', variant: 'outlined' },
  cancelled: { color: 'default', variant: 'outlined' },
  skipped: { color: 'default', variant: 'outlined' },
}

/**
 * Status chips: green succeeded, red failures, blue running, grey while waiting, and an outlined
 * neutral chip for runs that never ran or were stopped (and for a status this console does not know).
 */
export function statusChip(status: string): { color: ChipProps['color']; variant: ChipProps['variant'] } {
  return Object.hasOwn(chips, status) ? chips[status as AnyRunStatus] : { color: 'default', variant: 'outlined' }
}

/** 850 → "850 ms", 12_345 → "12.3 s", 125_000 → "2 min 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`
  const seconds = Math.round(ms / 1000)
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/** "exit 0 · 1.2 s": what a finished run says under its status. */
export function runFacts(run: { exitCode: number | null; durationMs: number | null }, translate: TranslateFunction): string {
  return [
    run.exitCode !== null ? translate('helpline.runs.exit_code', { code: run.exitCode }) : null,
    run.durationMs !== null ? formatDuration(run.durationMs) : null,
  ]
    .filter(Boolean)
    .join(' · ')
}

/**
 * A run's output with `incoming` added: in sequence order, each sequence once. The stream's replay
 * and the page's own reads overlap; the common case (the next chunk) is an append.
 */
export function mergeChunks(existing: readonly OutputChunk[], incoming: readonly OutputChunk[]): OutputChunk[] {
  const out = [...existing]
  let changed = false
  for (const chunk of incoming) {
    const last = out.at(-1)
    if (!last || chunk.sequence > last.sequence) {
      out.push(chunk)
      changed = true
      continue
    }
    const at = out.findIndex((c) => c.sequence >= chunk.sequence)
    if (out[at]?.sequence === chunk.sequence) continue
    out.splice(at, 0, chunk)
    changed = true
  }
  return changed ? out : (existing as OutputChunk[])
}
