import { MAX_ARGS_BYTES, type ScriptBatchCreate } from '../../api/resources/script-batches.ts'

/** The Run scripts page; `?session=<id>` (repeated) ticks those sessions. */
export const RUN_SCRIPTS_PATH = '/run-scripts'

export function runScriptsPath(sessionIds: readonly string[]): string {
  const query = new URLSearchParams(sessionIds.map((id) => ['session', id]))
  return sessionIds.length > 0 ? `${RUN_SCRIPTS_PATH}?${query}` : RUN_SCRIPTS_PATH
}

/** One script of the plan, as the Run scripts form edits it. The same script may be in it twice. */
export interface PlanItem {
  /** Tells two entries of the same script apart (React keys, field errors after a move). */
  key: string
  scriptId: string
  name: string
  version: number
  defaultTimeoutSeconds: number
  /** One argument per line, as typed. */
  argsText: string
  /** Empty: the script's default timeout. */
  timeoutText: string
}

/** The list with the item at `index` moved one place up (to the front stays where it is). */
export function moveUp<T>(items: readonly T[], index: number): T[] {
  if (index <= 0 || index >= items.length) return [...items]
  const out = [...items]
  ;[out[index - 1], out[index]] = [out[index]!, out[index - 1]!]
  return out
}

/** The list with the item at `index` moved one place down (the last stays where it is). */
export function moveDown<T>(items: readonly T[], index: number): T[] {
  if (index < 0 || index >= items.length - 1) return [...items]
  return moveUp(items, index + 1)
}

export function removeAt<T>(items: readonly T[], index: number): T[] {
  return items.filter((_, i) => i !== index)
}

/**
 * The arguments typed one per line. Each line is one argument exactly as typed (spaces and quotes
 * included: there is no shell); blank lines are left out, so a trailing newline adds nothing.
 */
export function parseArgs(text: string): string[] {
  return text.split(/\r\n|\n|\r/).filter((line) => line.trim() !== '')
}

const utf8 = new TextEncoder()

/** Bytes the plan's arguments take together, the way the API counts them (UTF-8). */
export function argsBytes(items: readonly Pick<PlanItem, 'argsText'>[]): number {
  return items.reduce((sum, item) => sum + parseArgs(item.argsText).reduce((n, arg) => n + utf8.encode(arg).length, 0), 0)
}

export const tooLongArgs = (items: readonly Pick<PlanItem, 'argsText'>[]) => argsBytes(items) > MAX_ARGS_BYTES

/** The timeout typed: undefined for the script's default, NaN for something the API would refuse. */
export function parseTimeout(text: string): number | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  if (!/^\d+$/.test(trimmed)) return Number.NaN
  const seconds = Number(trimmed)
  return seconds >= 1 && seconds <= 3600 ? seconds : Number.NaN
}

/** The request the form stands for. */
export function toBatchCreate(items: readonly PlanItem[], sessionIds: readonly string[], stopOnFailure: boolean): ScriptBatchCreate {
  return {
    scripts: items.map((item) => {
      const args = parseArgs(item.argsText)
      const timeoutSeconds = parseTimeout(item.timeoutText)
      return {
        scriptId: item.scriptId,
        ...(args.length > 0 ? { args } : {}),
        ...(timeoutSeconds !== undefined && Number.isFinite(timeoutSeconds) ? { timeoutSeconds } : {}),
      }
    }),
    sessionIds: [...sessionIds],
    stopOnFailure,
  }
}

/** Where a field error of the API belongs on the form. */
export interface PlacedErrors {
  /** By plan item key. */
  scripts: Record<string, string>
  /** By session id. */
  sessions: Record<string, string>
  /** About the scripts or the sessions as a whole (none chosen, too many…). */
  scriptList?: string
  sessionList?: string
  other: string[]
}

/**
 * The API names fields by their place in the request (`scripts.2.args`, `sessionIds.0`): map them
 * back to the items and sessions that were sent, so the message lands next to the right one even
 * after the form changed.
 */
export function placeErrors(errors: Record<string, string>, sentItems: readonly PlanItem[], sentSessionIds: readonly string[]): PlacedErrors {
  const out: PlacedErrors = { scripts: {}, sessions: {}, other: [] }
  for (const [field, message] of Object.entries(errors)) {
    const [head, index] = field.split(/[.[\]/]+/).filter(Boolean)
    const position = index !== undefined && /^\d+$/.test(index) ? Number(index) : undefined
    if (head === 'scripts') {
      const item = position === undefined ? undefined : sentItems[position]
      if (item) out.scripts[item.key] = message
      else out.scriptList = message
    } else if (head === 'sessionIds') {
      const sessionId = position === undefined ? undefined : sentSessionIds[position]
      if (sessionId) out.sessions[sessionId] = message
      else out.sessionList = message
    } else {
      out.other.push(message)
    }
  }
  return out
}
