import polyglotI18nProvider from 'ra-i18n-polyglot'
import type { TranslationMessages } from 'react-admin'
import { locales, pickLocale, type Locale } from './locale.ts'

export { locales, pickLocale, type Locale } from './locale.ts'

/** One language's catalogue (react-admin's messages and ours), each its own chunk. */
export async function loadCatalog(locale: Locale): Promise<TranslationMessages> {
  return locale === 'ja' ? (await import('./catalog.ja.ts')).catalogJa : (await import('./catalog.en.ts')).catalogEn
}

/** The language the user chose last time (react-admin keeps it in its store), else the browser's. */
export function initialLanguage(): string | undefined {
  try {
    const stored = globalThis.localStorage?.getItem('RaStore.locale')
    if (stored) return JSON.parse(stored) as string
  } catch {
    // No storage (private mode) or not JSON: the browser's language decides.
  }
  return typeof navigator === 'undefined' ? undefined : navigator.language
}

/**
 * The console's translations. `loaded` must hold the first language's catalogue (react-admin
 * reads it synchronously); another language is imported when the user switches to it.
 */
export function createI18nProvider(language: string | undefined, loaded: Partial<Record<Locale, TranslationMessages>>) {
  const cache = { ...loaded }
  return polyglotI18nProvider(
    (locale) => {
      const l = pickLocale(locale)
      return cache[l] ?? loadCatalog(l).then((messages) => (cache[l] = messages))
    },
    pickLocale(language),
    [...locales],
    // Server messages we do not know reach translate() as plain text: show them
    // as they are instead of warning about a missing key.
    { allowMissing: true },
  )
}
