import polyglotI18nProvider from 'ra-i18n-polyglot'
import { catalog } from './catalog.ts'
import { locales, pickLocale } from './locale.ts'

export { locales, pickLocale, type Locale } from './locale.ts'

export function createI18nProvider(language = typeof navigator === 'undefined' ? undefined : navigator.language) {
  return polyglotI18nProvider(
    (locale) => (locale === 'ja' ? catalog.ja : catalog.en),
    pickLocale(language),
    [...locales],
    // Server messages we do not know reach translate() as plain text: show them
    // as they are instead of warning about a missing key.
    { allowMissing: true },
  )
}
