import { en, type MessageKey } from './en.ts'
import { ja } from './ja.ts'

export type Lang = 'en' | 'ja'
export type { MessageKey }
export const catalogues: Record<Lang, Record<MessageKey, string>> = { en, ja }

/** A function that words a message in the chosen language, filling in {placeholders}. */
export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string

export function translator(lang: Lang): Translate {
  const catalogue = catalogues[lang]
  return (key, values = {}) => catalogue[key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole))
}

/** --lang wins; otherwise the locale (LC_ALL, then LC_MESSAGES, then LANG); English by default. */
export function detectLang(flag: string | undefined, env: Record<string, string | undefined> = process.env): Lang {
  if (flag === 'en' || flag === 'ja') return flag
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || ''
  return /^ja([_.-]|$)/i.test(locale) ? 'ja' : 'en'
}

export function isMessageKey(key: string): key is MessageKey {
  return key in en
}
