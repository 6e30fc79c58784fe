import type { TranslationMessages } from 'react-admin'
import japaneseModule from '@bicstone/ra-language-japanese'
import { ja } from './ja.ts'
import { consoleJa } from './console.ja.ts'

// The Japanese pack is CommonJS with `exports.default`; depending on the
// bundler or runtime a default import yields the messages or the whole
// `exports`. Take the messages either way.
const japaneseExports = japaneseModule as unknown as TranslationMessages | { default: TranslationMessages }
const japaneseMessages = 'ra' in japaneseExports ? japaneseExports : japaneseExports.default

/** Keys react-admin 5 has that the Japanese pack does not (yet). */
const japaneseGaps = {
  validation: { unique: '一意である必要があります' },
  guesser: { empty: { title: '表示するデータがありません', message: 'データプロバイダーを確認してください' } },
}

/** react-admin's Japanese messages plus ours: a chunk of its own, loaded only for Japanese. */
export const catalogJa: TranslationMessages = {
  ...japaneseMessages,
  ra: {
    ...japaneseMessages.ra,
    validation: { ...japaneseMessages.ra.validation, ...japaneseGaps.validation },
    guesser: { ...japaneseGaps.guesser, ...japaneseMessages.ra.guesser },
  },
  ...ja,
  ...consoleJa,
}
