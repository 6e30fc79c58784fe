import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { en } from '../src/i18n/en.ts'
import { ja } from '../src/i18n/ja.ts'
import { pickLocale } from '../src/i18n/locale.ts'
import { catalog } from '../src/i18n/catalog.ts'
import { TOKEN_KEY } from '../src/api/token-store.ts'

/** Every leaf of a message tree as a dotted key. */
function keys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null ? keys(value as object, `${prefix}${key}.`) : [`${prefix}${key}`],
  )
}

/** Every leaf with its value, to check the values too. */
function leaves(tree: object, prefix = ''): [string, unknown][] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null
      ? leaves(value as object, `${prefix}${key}.`)
      : [[`${prefix}${key}`, value] as [string, unknown]],
  )
}

const placeholders = (text: string) => [...text.matchAll(/%\{(\w+)\}/g)].map((m) => m[1]).sort()

t.test('English and Japanese have exactly the same keys', async (t) => {
  const enKeys = keys(en).sort()
  const jaKeys = keys(ja).sort()
  t.ok(enKeys.length > 50, 'the catalogue is not trivially empty')
  t.same(
    jaKeys.filter((k) => !enKeys.includes(k)),
    [],
    'no key only in Japanese',
  )
  t.same(
    enKeys.filter((k) => !jaKeys.includes(k)),
    [],
    'no key only in English',
  )
})

t.test('every message is a non-empty string with the same placeholders in both languages', async (t) => {
  const jaByKey = new Map(leaves(ja))
  for (const [key, value] of leaves(en)) {
    t.type(value, 'string', `${key} is a string in English`)
    t.ok(String(value).trim(), `${key} is not empty in English`)
    const other = jaByKey.get(key)
    t.type(other, 'string', `${key} is a string in Japanese`)
    t.ok(String(other).trim(), `${key} is not empty in Japanese`)
    t.same(placeholders(String(other)), placeholders(String(value)), `${key} has the same placeholders`)
  }
})

t.test('the browser language picks the first locale', async (t) => {
  t.equal(pickLocale('ja'), 'ja')
  t.equal(pickLocale('ja-JP'), 'ja')
  t.equal(pickLocale('JA-jp'), 'ja')
  t.equal(pickLocale('en-US'), 'en')
  t.equal(pickLocale('fr'), 'en')
  t.equal(pickLocale(undefined), 'en')
})

t.test("the full catalogues, react-admin's messages included, cover the same keys", async (t) => {
  const enKeys = keys(catalog.en).sort()
  const jaKeys = new Set(keys(catalog.ja))
  t.ok(enKeys.includes('ra.action.save'), "react-admin's English messages are in")
  t.ok(jaKeys.has('ra.action.save'), "react-admin's Japanese messages are in")
  t.same(
    enKeys.filter((k) => !jaKeys.has(k)),
    [],
    'no English key lacks a Japanese message',
  )
})

t.test('every helpline.* key the code uses has a message', async (t) => {
  const src = fileURLToPath(new URL('../src', import.meta.url))
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f))
  const known = new Set(keys(en))
  const used = new Set<string>()
  for (const file of files) {
    // Literal keys only: a key built at run time (`helpline.roles.${role}`) ends in a dot here.
    for (const m of readFileSync(join(src, file), 'utf8').matchAll(/['"`](helpline\.[\w.]+)/g)) {
      if (!m[1]!.endsWith('.') && m[1] !== TOKEN_KEY) used.add(m[1]!)
    }
  }
  t.ok(used.size > 30, `found the keys in use (${used.size})`)
  t.same(
    [...used].filter((k) => !known.has(k)),
    [],
    'no key is missing from the catalogue',
  )
})
