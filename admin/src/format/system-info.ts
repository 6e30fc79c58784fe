import { useLocaleState } from 'react-admin'
import {
  formatSystemInfoValue,
  systemInfoCategoryTitle,
  systemInfoCell,
  systemInfoColumn,
  systemInfoLabel,
  systemInfoNote,
  type SystemInfoKind,
  type SystemInfoLang,
} from '@helpline/sdk'

/** The console's locale as the system-information words know it (anything else reads English). */
export function systemInfoLang(locale: string): SystemInfoLang {
  return locale === 'ja' ? 'ja' : 'en'
}

/**
 * System information in the console's language: labels by the agent's keys, raw values
 * (bytes, seconds, ISO dates, numbers, true/false) formatted with Intl. Snapshots from older
 * agents carry no keys or kinds and are shown as they came.
 */
export function useSystemInfoWords() {
  const [locale] = useLocaleState()
  const lang = systemInfoLang(locale)
  return {
    category: (c: { id: string; title: string }) => systemInfoCategoryTitle(c, lang),
    label: (f: { key?: string; label: string }) => systemInfoLabel(f.key, f.label, lang),
    title: (t: { key?: string; title: string }) => systemInfoLabel(t.key, t.title, lang),
    column: (keys: readonly string[] | undefined, i: number, label: string) => systemInfoColumn(keys?.[i], label, lang),
    value: (value: string, kind: SystemInfoKind | undefined) => formatSystemInfoValue(value, kind, lang),
    /** A cell in words, and whether it is worded (else data shown as it came, marked translate="no"). */
    cell: (value: string, kind: SystemInfoKind | undefined, columnKey: string | undefined) => systemInfoCell(value, kind, columnKey, lang),
    note: (table: { note?: string; noteKey?: string; noteValues?: string[] }) => systemInfoNote(table, lang),
  }
}
