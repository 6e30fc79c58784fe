import type { TranslationMessages } from 'react-admin'
import englishMessages from 'ra-language-english'
import { en } from './en.ts'
import { consoleEn } from './console.en.ts'

/** react-admin's English messages plus ours: a chunk of its own, loaded only for English. */
export const catalogEn: TranslationMessages = { ...englishMessages, ...en, ...consoleEn }
