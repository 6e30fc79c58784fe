/**
 * System information in the reader's language. The agent sends keys and raw values (numbers,
 * bytes, seconds, ISO dates, true/false) with an English label; this words the key and formats
 * the value with Intl. The console and the server's .txt export both use it, so they say the same.
 * Unknown keys keep the agent's label; values without a kind are shown as they came.
 */
export type SystemInfoLang = 'en' | 'ja'
export type SystemInfoKind = 'text' | 'number' | 'bytes' | 'seconds' | 'date' | 'percent' | 'boolean'

const labelsJa: Record<string, string> = {
  'category.system': 'システム',
  'category.hardware': 'ハードウェア',
  'category.storage': 'ストレージ',
  'category.network': 'ネットワーク',
  'category.software': 'ソフトウェア',
  'category.processes': 'プロセス',
  'category.services': 'サービス',
  'category.users': 'ユーザー',
  'category.environment': '環境変数',
  'system.os': 'OS',
  'system.version': 'バージョン',
  'system.codename': 'コードネーム',
  'system.kernel': 'カーネル',
  'system.architecture': 'アーキテクチャ',
  'system.platform': 'プラットフォーム',
  'system.hostname': 'ホスト名',
  'system.fqdn': '完全修飾ドメイン名',
  'system.uptime': '稼働時間',
  'system.timezone': 'タイムゾーン',
  'system.localTime': '現地時刻',
  'system.manufacturer': 'メーカー',
  'system.model': 'モデル',
  'system.virtual': '仮想マシン',
  'hardware.cpu': 'CPU',
  'hardware.cpuLogical': '論理 CPU コア数',
  'hardware.cpuPhysical': '物理 CPU コア数',
  'hardware.cpuSpeed': 'CPU 速度',
  'hardware.memoryTotal': 'メモリ合計',
  'hardware.memoryAvailable': '使用可能なメモリ',
  'hardware.memoryUsed': '使用中のメモリ',
  'hardware.swapTotal': 'スワップ合計',
  'hardware.swapUsed': '使用中のスワップ',
  'hardware.baseboard': 'マザーボード',
  'hardware.bios': 'BIOS',
  'services.count': 'サービス数',
  'services.running': '実行中',
  'services.services': 'サービス',
  'users.sessions': 'ログイン中のセッション',
  'users.agentRunsAs': 'エージェントの実行ユーザー',
  'storage.fileSystems': 'ファイルシステム',
  'storage.disks': 'ディスク',
  'storage.diskCount': 'ディスク数',
  'storage.fileSystemCount': 'ファイルシステム数',
  'processes.topCpu': 'CPU 使用率の上位',
  'processes.topMemory': 'メモリ使用量の上位',
  'column.pid': 'PID',
  'column.resident': '常駐メモリ',
  'column.user': 'ユーザー',
  'column.command': 'コマンド',
  'column.device': 'デバイス',
  'column.model': 'モデル',
  'column.interface': 'インターフェイス',
  'column.smart': 'SMART',
  // Table columns
  'column.name': '名前',
  'column.running': '実行中',
  'column.startMode': '起動モード',
  'column.pids': 'PID',
  'column.cpu': 'CPU',
  'column.memory': 'メモリ',
  'column.mount': 'マウント先',
  'column.fileSystem': 'ファイルシステム',
  'column.type': '種類',
  'column.size': 'サイズ',
  'column.used': '使用済み',
  'column.available': '空き',
  'column.use': '使用率',
  'column.vendor': 'ベンダー',
  'column.bus': 'バス',
  'column.main': 'メイン',
  'column.resolution': '解像度',
  'column.connection': '接続',
  'column.ipv4': 'IPv4',
  'column.ipv6': 'IPv6',
  'column.mac': 'MAC',
  'column.state': '状態',
  'column.speed': '速度',
  'column.version': 'バージョン',
  'column.architecture': 'アーキテクチャ',
  'column.terminal': '端末',
  'column.since': 'ログイン時刻',
  'column.from': '接続元',
  'column.value': '値',
  'hardware.graphics': 'グラフィックス コントローラー',
  'hardware.displays': 'ディスプレイ',
  'network.defaultInterface': '既定のインターフェイス',
  'network.defaultGateway': '既定のゲートウェイ',
  'network.dns': 'DNS サーバー',
  'network.interfaces': 'インターフェイス',
  'software.packageManager': 'パッケージ マネージャー',
  'software.packageCount': 'インストール済みパッケージ数',
  'software.node': 'Node.js（エージェント）',
  'software.packages': 'インストール済みパッケージ',
  'processes.count': 'プロセス数',
  'processes.running': '実行中',
  'processes.sleeping': 'スリープ中',
  'processes.blocked': 'ブロック中',
  'users.loggedIn': 'ログイン中のユーザー',
  'environment.variables': '環境変数',
  'environment.count': '変数の数',
  'environment.leftOut': '除外した変数（名前に KEY、TOKEN、SECRET、PASSWORD、PASS を含むもの）',
}

/**
 * Words for cells and notes the agent sends as tokens: a cell's value by its column's key
 * (`value.<column>.<token>`), a table's note by its `noteKey` with `{0}`, `{1}` for `noteValues`.
 * English is here too: the token itself ("wired") is not a sentence.
 */
const wordsByLang: Record<SystemInfoLang, Record<string, string>> = {
  en: {
    'value.type.loopback': 'loopback',
    'value.type.wired': 'wired',
    'value.type.wireless': 'wireless',
    'value.type.virtual': 'virtual',
    'value.state.up': 'up',
    'value.state.down': 'down',
    'value.state.unknown': 'unknown',
    'value.state.dormant': 'dormant',
    'value.state.lowerlayerdown': 'lower layer down',
    'value.state.notpresent': 'not present',
    'value.state.testing': 'testing',
    'note.top': 'top {0} of {1}',
    'note.first': 'first {0} of {1}',
    'note.nobody': 'nobody is logged in on a terminal',
  },
  ja: {
    'value.type.loopback': 'ループバック',
    'value.type.wired': '有線',
    'value.type.wireless': '無線',
    'value.type.virtual': '仮想',
    'value.state.up': '接続',
    'value.state.down': '切断',
    'value.state.unknown': '不明',
    'value.state.dormant': '休止',
    'value.state.lowerlayerdown': '下位層が切断',
    'value.state.notpresent': 'なし',
    'value.state.testing': 'テスト中',
    'note.top': '上位 {0} 件（全 {1} 件）',
    'note.first': '先頭 {0} 件（全 {1} 件）',
    'note.nobody': '端末にログインしているユーザーはいません',
  },
}

/**
 * A table cell in words: a raw value formatted by its kind, or a token the agent sends for a
 * column we know (an interface's type and state). `worded` is false for data shown as it came
 * (names, paths, versions): the console marks those `translate="no"`.
 */
export function systemInfoCell(value: string, kind: SystemInfoKind | undefined, columnKey: string | undefined, lang: SystemInfoLang, timeZone?: string): { text: string; worded: boolean } {
  if (kind && kind !== 'text') return { text: formatSystemInfoValue(value, kind, lang, timeZone), worded: true }
  const word = columnKey ? wordsByLang[lang][`value.${columnKey}.${value}`] : undefined
  return word === undefined ? { text: value, worded: false } : { text: word, worded: true }
}

/** A table's note in words (`noteKey` with `noteValues` as locale numbers), else the agent's `note`. */
export function systemInfoNote(table: { note?: string; noteKey?: string; noteValues?: string[] }, lang: SystemInfoLang): string | undefined {
  const template = table.noteKey ? wordsByLang[lang][table.noteKey] : undefined
  if (template === undefined) return table.note
  const nf = new Intl.NumberFormat(locales[lang])
  return template.replace(/\{(\d)\}/g, (_, i: string) => {
    const v = table.noteValues?.[Number(i)] ?? ''
    return v !== '' && Number.isFinite(Number(v)) ? nf.format(Number(v)) : v
  })
}

/** A field's or table's label: ours for a key we know in Japanese, otherwise the agent's (English) one. */
export function systemInfoLabel(key: string | undefined, label: string, lang: SystemInfoLang): string {
  if (lang !== 'ja' || !key) return label
  return labelsJa[key] ?? label
}

/** A table column's heading by its key. */
export function systemInfoColumn(key: string | undefined, label: string, lang: SystemInfoLang): string {
  return systemInfoLabel(key ? `column.${key}` : undefined, label, lang)
}

const locales: Record<SystemInfoLang, string> = { en: 'en-US', ja: 'ja-JP' }

/** A raw value in words: 1.5 GiB, 2 days 3 hours, 12.5 %, a local date and time, yes/no. */
export function formatSystemInfoValue(value: string, kind: SystemInfoKind | undefined, lang: SystemInfoLang, timeZone?: string): string {
  if (!kind || kind === 'text' || value === '') return value
  const locale = locales[lang]
  if (kind === 'boolean') return value === 'true' ? (lang === 'ja' ? 'はい' : 'yes') : value === 'false' ? (lang === 'ja' ? 'いいえ' : 'no') : value
  if (kind === 'date') {
    const date = new Date(value)
    if (Number.isNaN(date.getTime())) return value
    return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: timeZone ? 'long' : 'medium', ...(timeZone ? { timeZone } : {}) }).format(date)
  }
  const n = Number(value)
  if (!Number.isFinite(n)) return value
  if (kind === 'number') return new Intl.NumberFormat(locale).format(n)
  if (kind === 'percent') return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(n / 100)
  if (kind === 'bytes') return formatBytes(n, locale)
  return formatSeconds(n, locale)
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

/** Binary multiples with their IEC names (what operating systems measure memory and disks in; Intl has no such units). */
export function formatBytes(n: number, locale: string): string {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024
    unit++
  }
  const number = new Intl.NumberFormat(locale, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)
  return unit === 0 && locale.startsWith('ja') ? `${number} バイト` : `${number} ${BYTE_UNITS[unit]}`
}

/** The two largest parts of a duration: "2 days, 3 hr", "21 min", "45 sec". */
export function formatSeconds(total: number, locale: string): string {
  const s = Math.max(0, Math.floor(total))
  const parts: [number, 'day' | 'hour' | 'minute' | 'second'][] = [
    [Math.floor(s / 86_400), 'day'],
    [Math.floor((s % 86_400) / 3600), 'hour'],
    [Math.floor((s % 3600) / 60), 'minute'],
    [s % 60, 'second'],
  ]
  const first = parts.findIndex(([v]) => v > 0)
  const shown = first < 0 ? [parts[3]!] : parts.slice(first, first + 2).filter(([v], i) => i === 0 || v > 0)
  const unit = (v: number, u: string) => new Intl.NumberFormat(locale, { style: 'unit', unit: u, unitDisplay: 'short' }).format(v)
  return new Intl.ListFormat(locale, { style: 'narrow', type: 'unit' }).format(shown.map(([v, u]) => unit(v, u)))
}

/** A category's heading: ours in Japanese, the agent's (English) title otherwise. */
export function systemInfoCategoryTitle(category: { id: string; title: string }, lang: SystemInfoLang): string {
  return systemInfoLabel(`category.${category.id}`, category.title, lang)
}
