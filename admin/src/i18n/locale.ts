export const locales = [
  { locale: 'en', name: 'English' },
  { locale: 'ja', name: '日本語' },
] as const

export type Locale = (typeof locales)[number]['locale']

/** The browser's preferred language decides the first locale: Japanese or English. */
export function pickLocale(language: string | undefined): Locale {
  return language?.toLowerCase().startsWith('ja') ? 'ja' : 'en'
}
