import { Type } from 'typebox'

/**
 * The words of the .txt exports (session report, system information) in English and Japanese.
 * The exports are documents a CSR files in a ticket, so they follow the CSR's language: `?lang`
 * first, then Accept-Language; anything else is English. Events and chat lines are worded here
 * from their type and data, the way the console words them.
 */
export type ExportLang = 'en' | 'ja'

/** `?lang=` of a .txt export: any value is accepted; what is not en or ja reads English. */
export const ExportLangQuery = Type.Object(
  {
    lang: Type.Optional(
      Type.String({
        maxLength: 35,
        description: 'en or ja; any other value is English. Without it the Accept-Language header chooses (English by default).',
      }),
    ),
  },
  { additionalProperties: false },
)

/** ?lang wins when it names a language we have; otherwise the best of Accept-Language; English by default. */
export function exportLang(query: string | undefined, acceptLanguage: string | undefined): ExportLang {
  const named = primary(query ?? '')
  if (named === 'en' || named === 'ja') return named
  if (query) return 'en'
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';')
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean)
      return { lang: primary(tag), q: q === undefined ? 1 : Number(q), i }
    })
    .filter((x) => x.q > 0 && Number.isFinite(x.q))
    .sort((a, b) => b.q - a.q || a.i - b.i)
  const best = ranked.find((x) => x.lang === 'en' || x.lang === 'ja')
  return best?.lang === 'ja' ? 'ja' : 'en'
}

function primary(tag: string): string {
  return tag.trim().toLowerCase().split(/[-_]/)[0] ?? ''
}

const en = {
  reportTitle: 'Helpline session report {number}',
  generated: 'Generated {time}',
  whoAndWhen: 'Who and when',
  customer: 'Customer',
  csr: 'CSR',
  agent: 'Agent',
  agentNever: 'never joined',
  agentLine: '{host} ({os} {osVersion}, {arch}), agent {version}',
  status: 'Status',
  created: 'Created',
  started: 'Started',
  ended: 'Ended',
  duration: 'Duration',
  notes: 'Notes',
  timeline: 'Timeline ({n} events)',
  consents: 'Consent requests ({n})',
  consentLine: '{time}  {kind}  {status}  asked by {name}, answered {answered}',
  snapshots: 'System information ({n} snapshots)',
  snapshotLine: '{time}  {host} {os}  {size}  (full text: snapshot {id})',
  scripts: 'Scripts run ({n})',
  runHead: '{name} v{version}  [{status}]  batch {batch}, #{position}',
  runArgs: 'arguments: {args}  timeout {timeout}',
  none: '(none)',
  runTimes: 'started {started}, finished {finished}, {duration}, exit code {exit}',
  noDuration: 'no duration',
  outputCut: ', output cut at 1 MiB',
  error: 'error',
  output: 'output:',
  chat: 'Chat ({n} messages)',
  // System information
  sysinfoTitle: 'Helpline: system information',
  session: 'Session',
  computer: 'Computer',
  unknown: 'unknown',
  collected: 'Collected',
  categories: 'Categories',
  notAvailable: 'Not available: {reason}',
  noReason: 'no reason given',
  nothingReported: '(nothing reported)',
  sysinfoEnd: '— end of system information ({n} categories) —',
  // Durations
  hours: '{h} h {m} min',
  minutes: '{m} min {s} s',
  seconds: '{s} s',
  ms: '{ms} ms',
}
type Words = typeof en

const ja: Words = {
  reportTitle: 'Helpline セッションレポート {number}',
  generated: '作成日時 {time}',
  whoAndWhen: '参加者と日時',
  customer: 'お客様',
  csr: '担当者',
  agent: 'エージェント',
  agentNever: '未参加',
  agentLine: '{host}（{os} {osVersion}、{arch}）、エージェント {version}',
  status: '状態',
  created: '作成',
  started: '開始',
  ended: '終了',
  duration: '所要時間',
  notes: 'メモ',
  timeline: 'タイムライン（{n} 件のイベント）',
  consents: '同意の依頼（{n} 件）',
  consentLine: '{time}  {kind}  {status}  依頼者 {name}、回答 {answered}',
  snapshots: 'システム情報（{n} 件のスナップショット）',
  snapshotLine: '{time}  {host} {os}  {size}（全文: スナップショット {id}）',
  scripts: '実行したスクリプト（{n} 件）',
  runHead: '{name} v{version}  [{status}]  バッチ {batch}、{position} 番目',
  runArgs: '引数: {args}  タイムアウト {timeout}',
  none: '（なし）',
  runTimes: '開始 {started}、終了 {finished}、{duration}、終了コード {exit}',
  noDuration: '所要時間不明',
  outputCut: '、出力は 1 MiB で打ち切り',
  error: 'エラー',
  output: '出力:',
  chat: 'チャット（{n} 件のメッセージ）',
  sysinfoTitle: 'Helpline: システム情報',
  session: 'セッション',
  computer: 'コンピューター',
  unknown: '不明',
  collected: '収集日時',
  categories: 'カテゴリ',
  notAvailable: '取得できません: {reason}',
  noReason: '理由の説明なし',
  nothingReported: '（報告なし）',
  sysinfoEnd: '— システム情報ここまで（{n} カテゴリ） —',
  hours: '{h} 時間 {m} 分',
  minutes: '{m} 分 {s} 秒',
  seconds: '{s} 秒',
  ms: '{ms} ミリ秒',
}

/** Event types, statuses and kinds in words; unknown ones stay as the API names them. */
const terms: Record<ExportLang, Record<string, string>> = {
  en: {
    'status.waiting': 'waiting',
    'status.active': 'active',
    'status.ended': 'ended',
    'reason.ended': 'ended',
    'reason.expired': 'expired',
    'kind.view_system_info': 'view system information',
    'kind.run_scripts': 'run scripts',
    'kind.logon_as_user': 'log on as another user',
    'kind.reboot': 'restart',
    'consent.pending': 'pending',
    'consent.approved': 'approved',
    'consent.denied': 'denied',
    'consent.expired': 'expired',
    'consent.cancelled': 'cancelled',
    'run.awaiting_consent': 'waiting for the customer',
    'run.queued': 'queued',
    'run.denied': 'denied',
    'run.expired': 'not answered in time',
    'run.running': 'running',
    'run.succeeded': 'succeeded',
    'run.failed': 'failed',
    'run.timed_out': 'timed out',
    'run.cancelled': 'cancelled',
    'run.skipped': 'skipped',
    'actor.user': 'user',
    'actor.agent': 'agent',
    'actor.system': 'system',
  },
  ja: {
    'status.waiting': '待機中',
    'status.active': '接続中',
    'status.ended': '終了',
    'reason.ended': '終了',
    'reason.expired': '期限切れ',
    'kind.view_system_info': 'システム情報の表示',
    'kind.run_scripts': 'スクリプトの実行',
    'kind.logon_as_user': '別のユーザーとしてログオン',
    'kind.reboot': '再起動',
    'consent.pending': '回答待ち',
    'consent.approved': '許可',
    'consent.denied': '拒否',
    'consent.expired': '期限切れ',
    'consent.cancelled': '取り消し',
    'run.awaiting_consent': 'お客様の回答待ち',
    'run.queued': '待機中',
    'run.denied': '拒否',
    'run.expired': '期限内に回答なし',
    'run.running': '実行中',
    'run.succeeded': '成功',
    'run.failed': '失敗',
    'run.timed_out': 'タイムアウト',
    'run.cancelled': '取り消し',
    'run.skipped': 'スキップ',
    'actor.user': 'ユーザー',
    'actor.agent': 'エージェント',
    'actor.system': 'システム',
  },
}

/** Timeline events and server-written chat lines, worded from the event type and data. */
const events: Record<ExportLang, Record<string, string>> = {
  en: {
    'session.created': 'Session created for {customerName}',
    'session.ended': 'The session was ended',
    'session.expired': 'The session expired before anyone joined',
    'agent.joined': '{name} joined',
    'agent.rejoined': '{name} rejoined',
    'agent.left': '{name} left the session',
    'agent.logged_on': 'Logged on to the customer’s computer as {username}',
    'agent.logged_off': 'Logged off {username}: back to the customer’s own user',
    'agent.logon_failed': 'Logon failed: {message}',
    'agent.rebooting': 'The customer’s computer is restarting; the agent rejoins by itself',
    'consent.requested': 'Asked the customer: {kind}',
    'consent.approved': 'The customer approved: {kind}',
    'consent.denied': 'The customer denied: {kind}',
    'consent.expired': 'Not answered in time: {kind}',
    'consent.cancelled': 'Withdrawn: {kind}',
    'snapshot.stored': 'System information collected',
    'script_run': '"{scriptName}" v{version} ({position}/{count}): {status}',
  },
  ja: {
    'session.created': '{customerName} 様のセッションを作成しました',
    'session.ended': 'セッションを終了しました',
    'session.expired': '誰も参加しないままセッションの期限が切れました',
    'agent.joined': '{name} 様が参加しました',
    'agent.rejoined': '{name} 様が再参加しました',
    'agent.left': '{name} 様がセッションから退出しました',
    'agent.logged_on': 'お客様のコンピューターに {username} としてログオンしました',
    'agent.logged_off': '{username} をログオフしました: お客様ご自身のユーザーに戻りました',
    'agent.logon_failed': 'ログオンに失敗しました: {message}',
    'agent.rebooting': 'お客様のコンピューターを再起動しています。エージェントは自動的に再参加します',
    'consent.requested': 'お客様に依頼しました: {kind}',
    'consent.approved': 'お客様が許可しました: {kind}',
    'consent.denied': 'お客様が拒否しました: {kind}',
    'consent.expired': '期限内に回答がありませんでした: {kind}',
    'consent.cancelled': '依頼を取り下げました: {kind}',
    'snapshot.stored': 'システム情報を収集しました',
    'script_run': '「{scriptName}」v{version}（{position}/{count}）: {status}',
  },
}

export interface ExportWords {
  lang: ExportLang
  /** A fixed phrase with {placeholders} filled in. */
  w(key: keyof Words, values?: Record<string, string | number>): string
  /** A status, kind or actor in words (`status.active`, `run.failed`, …); the raw value when unknown. */
  term(group: string, value: string): string
  /** An event (timeline entry or system chat line) in words, or undefined when we have none for its type. */
  event(type: string, data: Record<string, unknown>, context: { customerName: string }): string | undefined
  time(iso: string | null): string
  seconds(total: number | null): string
  ms(ms: number | null): string
  bytes(n: number): string
}

const fill = (text: string, values: Record<string, string | number>) =>
  text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? String(values[name]) : whole))

export function exportWords(lang: ExportLang): ExportWords {
  const words = lang === 'ja' ? ja : en
  const number = new Intl.NumberFormat(lang === 'ja' ? 'ja-JP' : 'en-US')
  const self: ExportWords = {
    lang,
    w: (key, values = {}) => fill(words[key], values),
    term: (group, value) => terms[lang][`${group}.${value}`] ?? value,
    time: (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC') : '—'),
    seconds: (total) => {
      if (total === null) return '—'
      const h = Math.floor(total / 3600)
      const m = Math.floor((total % 3600) / 60)
      const s = total % 60
      return h ? self.w('hours', { h, m }) : m ? self.w('minutes', { m, s }) : self.w('seconds', { s })
    },
    ms: (ms) => (ms === null ? self.w('noDuration') : self.w('ms', { ms: number.format(ms) })),
    bytes: (n) => (lang === 'ja' ? `${number.format(n)} バイト` : `${number.format(n)} bytes`),
    event: (type, data, context) => {
      const template = events[lang][type]
      if (!template) return undefined
      const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '')
      return fill(template, {
        customerName: text(data.customerName) || context.customerName,
        name: context.customerName,
        username: text(data.username),
        message: text(data.message) || text(data.reason),
        kind: self.term('kind', text(data.kind)),
        scriptName: text(data.scriptName),
        version: text(data.version),
        position: typeof data.position === 'number' ? data.position + 1 : '?',
        count: text(data.count),
        status: self.term('run', text(data.status)),
      })
    },
  }
  return self
}
