import t from 'tap'
import { formatSystemInfoValue, systemInfoCell, systemInfoNote } from '@helpline/sdk'
import { exportLang, exportWords } from '../../src/lib/export-words.ts'
import { renderSystemInfoText } from '../../src/lib/system-info-text.ts'

/** Keys and raw values from the agent, worded and formatted per language (console and .txt alike). */
t.test('raw values formatted with Intl in English and Japanese', async (t) => {
  const cases: [string, Parameters<typeof formatSystemInfoValue>[1], string, string][] = [
    ['1610612736', 'bytes', '1.5 GiB', '1.5 GiB'],
    ['512', 'bytes', '512 B', '512 バイト'],
    ['1260', 'seconds', '21 min', '21 分'],
    ['184000', 'seconds', '2 days 3 hr', '2 日3 時間'],
    ['12.5', 'percent', '12.5%', '12.5%'],
    ['1234567', 'number', '1,234,567', '1,234,567'],
    ['true', 'boolean', 'yes', 'はい'],
    ['false', 'boolean', 'no', 'いいえ'],
    ['as sent', undefined, 'as sent', 'as sent'],
    ['not a number', 'bytes', 'not a number', 'not a number'],
  ]
  for (const [value, kind, en, ja] of cases) {
    t.equal(formatSystemInfoValue(value, kind, 'en'), en, `${value} ${kind} en`)
    t.equal(formatSystemInfoValue(value, kind, 'ja'), ja, `${value} ${kind} ja`)
  }
  t.match(formatSystemInfoValue('2026-12-02T10:00:00.000Z', 'date', 'ja', 'UTC'), /^2026\/12\/02 10:00:00 UTC$/)
  t.match(formatSystemInfoValue('2026-12-02T10:00:00.000Z', 'date', 'en', 'UTC'), /^Dec 2, 2026, 10:00:00 AM UTC$/)
})

t.test('tokens in cells and notes with numbers, worded per language', async (t) => {
  t.same(systemInfoCell('wired', undefined, 'type', 'ja'), { text: '有線', worded: true }, 'an interface type')
  t.same(systemInfoCell('up', 'text', 'state', 'en'), { text: 'up', worded: true }, 'a state, in English too')
  t.same(systemInfoCell('SSD', undefined, 'type', 'ja'), { text: 'SSD', worded: false }, 'a token we do not know is data')
  t.same(systemInfoCell('eth0', undefined, 'interface', 'ja'), { text: 'eth0', worded: false }, 'names are data')
  t.same(systemInfoCell('1048576', 'bytes', 'memory', 'ja'), { text: '1 MiB', worded: true }, 'a kind formats')
  const top = { note: 'top 25 of 1234', noteKey: 'note.top', noteValues: ['25', '1234'] }
  t.equal(systemInfoNote(top, 'en'), 'top 25 of 1,234')
  t.equal(systemInfoNote(top, 'ja'), '上位 25 件（全 1,234 件）')
  t.equal(systemInfoNote({ note: 'from an older agent' }, 'ja'), 'from an older agent', 'no key: the agent’s note')
  t.equal(systemInfoNote({ note: 'x', noteKey: 'note.unknown' }, 'ja'), 'x', 'an unknown key: the agent’s note')
})

t.test('the .txt export words keys and formats kinds; untyped values stay as sent', async (t) => {
  const doc = {
    sessionNumber: '123-456-789',
    customerName: 'Alice',
    collectedAt: new Date('2026-12-02T10:00:00Z'),
    hostname: 'pc',
    categories: [
      {
        id: 'system' as const,
        title: 'System',
        available: true,
        fields: [
          { label: 'Uptime', value: '1260', key: 'system.uptime', kind: 'seconds' as const },
          { label: 'Virtual machine', value: 'true', key: 'system.virtual', kind: 'boolean' as const },
          { label: 'Old agent', value: '21 min' },
        ],
        tables: [
          {
            title: 'File systems',
            key: 'storage.fileSystems',
            columns: ['Mount', 'Size'],
            columnKeys: ['mount', 'size'],
            columnKinds: ['text' as const, 'bytes' as const],
            rows: [['/', '1073741824']],
          },
        ],
      },
    ],
  }
  const ja = renderSystemInfoText(doc, exportWords('ja'))
  t.match(ja, /稼働時間\s+: 21 分/)
  t.match(ja, /仮想マシン\s+: はい/)
  t.match(ja, /Old agent\s+: 21 min/, 'a label without a key stays as the agent sent it')
  t.match(ja, /ファイルシステム\n-+\nマウント先\s+サイズ\n[- ]+\n\/\s+1 GiB/)
  const en = renderSystemInfoText(doc, exportWords('en'))
  t.match(en, /Uptime\s+: 21 min/)
  t.match(en, /Virtual machine\s+: yes/)
})

t.test('the export language: ?lang, then Accept-Language by weight, else English', async (t) => {
  t.equal(exportLang('ja', 'en'), 'ja')
  t.equal(exportLang('fr', 'ja'), 'en', 'a named language we lack is English, not the header')
  t.equal(exportLang(undefined, 'fr;q=0.9, ja;q=0.8'), 'ja')
  t.equal(exportLang(undefined, 'ja;q=0, en'), 'en', 'q=0 means not wanted')
  t.equal(exportLang(undefined, undefined), 'en')
  t.equal(exportLang(undefined, ';;;,,q=x'), 'en', 'garbage is English')
})
