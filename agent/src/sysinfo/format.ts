import type { InfoKind, SystemInfoField } from './types.ts'

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return ''
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export function duration(seconds: number): string {
  const s = Math.floor(seconds)
  const d = Math.floor(s / 86_400)
  const h = Math.floor((s % 86_400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  return [d ? `${d} d` : '', h ? `${h} h` : '', `${m} min`].filter(Boolean).join(' ')
}

export function text(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (Array.isArray(value)) return value.map(text).filter(Boolean).join(', ')
  return String(value)
}

export function percent(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? `${n.toFixed(1)} %` : ''
}

/** Drops fields with nothing to say, so a category lists what this computer reports. */
export function fields(pairs: [string, unknown][]): { label: string; value: string }[] {
  return pairs.map(([label, value]) => ({ label, value: text(value) })).filter((f) => f.value.trim() !== '')
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
