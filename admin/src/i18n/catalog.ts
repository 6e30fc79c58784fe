import type { TranslationMessages } from 'react-admin'
import { catalogEn } from './catalog.en.ts'
import { catalogJa } from './catalog.ja.ts'
import type { Locale } from './locale.ts'

/**
 * Both catalogues at once, for tests and tools. The console itself never imports this file: it
 * loads only the current language's catalogue (`loadCatalog` in ./index.ts), so the first page
 * does not download the other language.
 */
export const catalog: Record<Locale, TranslationMessages> = { en: catalogEn, ja: catalogJa }
