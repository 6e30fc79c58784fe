import type { InfoKind, SystemInfoField } from './types.ts'

export function text(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (Array.isArray(value)) return value.map(text).filter(Boolean).join(', ')
  return String(value)
}

/** A typed field: `[key, English label, raw value, kind]`. The console words the key and formats the value. */
export type TypedPair = [key: string, label: string, value: unknown, kind?: InfoKind]

/** Raw values as the wire carries them: numbers in decimal, dates in ISO 8601, booleans as true/false. */
export function raw(value: unknown, kind: InfoKind = 'text'): string {
  if (value === null || value === undefined || value === '') return ''
  if (kind === 'boolean') return value ? 'true' : 'false'
  if (kind === 'date') {
    const date = value instanceof Date ? value : new Date(String(value))
    return Number.isNaN(date.getTime()) ? text(value) : date.toISOString()
  }
  if (kind === 'number' || kind === 'bytes' || kind === 'seconds' || kind === 'percent') {
    const n = Number(value)
    return Number.isFinite(n) && n >= 0 ? String(kind === 'percent' ? Math.round(n * 10) / 10 : Math.round(n)) : ''
  }
  return text(value)
}

/** Typed fields, dropping those with nothing to say. */
export function typedFields(pairs: TypedPair[]): SystemInfoField[] {
  return pairs
    .map(([key, label, value, kind]) => ({ label, key, value: raw(value, kind), ...(kind && kind !== 'text' ? { kind } : {}) }))
    .filter((f) => f.value.trim() !== '')
}
