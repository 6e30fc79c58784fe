// The customer's join page (/join and /join/<number>): no sign-in, English or Japanese. It checks
// the number with the server, says who will help and what they may do, and after "I agree" offers
// the download for this computer. Everything the server sends is shown as text, never as HTML.

const strings = {
  en: {
    title: 'Remote support',
    titleOrg: '{org} remote support',
    numberLabel: 'Your session number',
    numberHint: 'Your support representative gave you a nine-digit number, such as 123-456-789.',
    continue: 'Continue',
    malformed: 'A session number has nine digits, such as 123-456-789.',
    notFound: 'This number does not match an open support session. Check it with your support representative.',
    tooMany: 'Too many attempts. Try again in {seconds} seconds.',
    failed: 'The server could not be reached ({reason}). Try again in a moment.',
    who: '{csr} from {org} will help you (session {number}).',
    canTitle: 'What your support representative will be able to do',
    can: [
      'See this computer’s system information (hardware, storage, network, installed software, running programs).',
      'Run scripts from {org}’s script library; you see each script’s name and fingerprint before you decide.',
      'Log on to this computer as another user, and back off.',
      'Restart this computer; the support session comes back by itself afterwards.',
    ],
    askEach: 'Nothing happens without you: each of these asks you first, on your computer, with Allow and Deny. You can leave at any time.',
    agree: 'I agree',
    downloadTitle: 'Download the support app',
    downloadFor: 'Download for {platform}',
    platform: { linux: 'Linux', windows: 'Windows', macos: 'macOS', any: 'any computer with Node.js' },
    needsNode: 'Needs Node.js 20 or later.',
    size: '{size}',
    sha256: 'SHA-256: {sha256}',
    others: 'Other computers',
    terminalTitle: 'Prefer a terminal?',
    terminalHint: 'Paste this line into a terminal: it downloads the app and starts it.',
    copy: 'Copy',
    copied: 'Copied',
    thenExecutable: 'Then open the downloaded file (on Linux, allow it to run as a program first). It connects to {server} and asks you before anything happens.',
    thenNode: 'Then run it with Node.js: node {file}. It connects to {server} and asks you before anything happens.',
    thenWindows: 'Then open the downloaded file. The app is not signed yet, so Windows may warn about an unknown publisher: choose “More info”, then “Run anyway”. It connects to {server} and asks you before anything happens.',
    thenMac: 'There is no Mac app yet (macOS blocks apps that are not signed by their maker). Install Node.js 20 or later from nodejs.org, then run in Terminal: node {file}. It connects to {server} and asks you before anything happens.',
    noBuild: 'The support app is not available on this server yet. The administrator builds it with: {command}',
  },
  ja: {
    title: 'リモートサポート',
    titleOrg: '{org} リモートサポート',
    numberLabel: 'セッション番号',
    numberHint: 'サポート担当者からお伝えした 9 桁の番号です（例: 123-456-789）。',
    continue: '次へ',
    malformed: 'セッション番号は 9 桁の数字です（例: 123-456-789）。',
    notFound: 'この番号に該当する受付中のサポートセッションはありません。サポート担当者に番号をご確認ください。',
    tooMany: '試行回数が多すぎます。{seconds} 秒後にもう一度お試しください。',
    failed: 'サーバーに接続できませんでした（{reason}）。しばらくしてからもう一度お試しください。',
    who: '{org} の {csr} がサポートします（セッション {number}）。',
    canTitle: 'サポート担当者ができること',
    can: [
      'このコンピューターのシステム情報（ハードウェア、ストレージ、ネットワーク、インストール済みソフトウェア、実行中のプログラム）を見る。',
      '{org} のスクリプトライブラリのスクリプトを実行する。実行前に各スクリプトの名前とフィンガープリントが表示されます。',
      '別のユーザーとしてこのコンピューターにログオンし、ログオフする。',
      'このコンピューターを再起動する。再起動後、サポートセッションは自動的に再開します。',
    ],
    askEach: 'お客様の許可なしには何も行われません。どの操作も、事前にこのコンピューター上で「許可」「拒否」をお尋ねします。いつでも退出できます。',
    agree: '同意します',
    downloadTitle: 'サポートアプリのダウンロード',
    downloadFor: '{platform} 用をダウンロード',
    platform: { linux: 'Linux', windows: 'Windows', macos: 'macOS', any: 'Node.js のあるコンピューター' },
    needsNode: 'Node.js 20 以降が必要です。',
    size: '{size}',
    sha256: 'SHA-256: {sha256}',
    others: 'ほかのコンピューター',
    terminalTitle: 'ターミナルを使う場合',
    terminalHint: '次の 1 行をターミナルに貼り付けてください。アプリをダウンロードして起動します。',
    copy: 'コピー',
    copied: 'コピーしました',
    thenExecutable: 'ダウンロードしたファイルを開いてください（Linux では先にプログラムとしての実行を許可してください）。{server} に接続し、何かを行う前に必ずお尋ねします。',
    thenNode: 'Node.js で実行してください: node {file}。{server} に接続し、何かを行う前に必ずお尋ねします。',
    thenWindows: 'ダウンロードしたファイルを開いてください。アプリはまだ署名されていないため、Windows が「発行元不明」の警告を出すことがあります。「詳細情報」から「実行」を選んでください。{server} に接続し、何かを行う前に必ずお尋ねします。',
    thenMac: 'Mac 用のアプリはまだありません（macOS は作成者の署名がないアプリを開きません）。nodejs.org から Node.js 20 以降をインストールし、ターミナルで次を実行してください: node {file}。{server} に接続し、何かを行う前に必ずお尋ねします。',
    noBuild: 'このサーバーではまだサポートアプリを用意できていません。管理者が次のコマンドで作成します: {command}',
  },
}

const $ = (id) => document.getElementById(id)
const NUMBER = /^\d{3}-?\d{3}-?\d{3}$/
let lang = pickLanguage()
let info // the server's answer for the current number
let lastError // [key, values] of the message shown, to re-word it on a language switch

function pickLanguage() {
  const saved = localStorage.getItem('helpline-lang')
  if (saved === 'en' || saved === 'ja') return saved
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en']
  for (const l of wanted) {
    const base = String(l).toLowerCase().split('-')[0]
    if (base === 'ja' || base === 'en') return base
  }
  return 'en'
}

function t(key, values = {}) {
  const text = strings[lang][key] ?? strings.en[key]
  return typeof text === 'string' ? text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole)) : text
}

/** The customer's operating system, from the browser. */
function detectOs() {
  const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || ''
  const text = `${platform} ${navigator.userAgent}`.toLowerCase()
  if (text.includes('win')) return 'windows'
  if (text.includes('mac')) return 'macos'
  if (text.includes('linux') || text.includes('x11')) return 'linux'
  return 'any'
}

/** The download that suits this computer: its own executable, else the Node.js one. */
function pickPrimary(downloads, os) {
  return downloads.find((d) => d.platform === os && d.kind === 'executable') ?? downloads.find((d) => d.kind === 'node-script') ?? downloads[0]
}

function showError(key, values) {
  lastError = [key, values]
  $('number-error').textContent = t(key, values)
}

function clearError() {
  lastError = undefined
  $('number-error').textContent = ''
}

function numberFromPath() {
  const m = /^\/join\/([^/]+)\/?$/.exec(location.pathname)
  return m ? decodeURIComponent(m[1]) : ''
}

async function lookUp(raw) {
  const number = raw.replace(/\s+/g, '')
  if (!NUMBER.test(number)) {
    $('number-form').hidden = false
    $('session').hidden = true
    showError('malformed')
    $('number').setAttribute('aria-invalid', 'true')
    return
  }
  $('number').removeAttribute('aria-invalid')
  clearError()
  let res
  try {
    res = await fetch(`/api/v1/join/${encodeURIComponent(number)}`, { headers: { accept: 'application/json' } })
  } catch (err) {
    showError('failed', { reason: err instanceof Error ? err.message : String(err) })
    return
  }
  if (res.ok) {
    info = await res.json()
    if (location.pathname !== `/join/${info.number}`) history.replaceState(null, '', `/join/${info.number}`)
    $('number-form').hidden = true
    render()
    return
  }
  $('number-form').hidden = false
  $('session').hidden = true
  if (res.status === 404) showError('notFound')
  else if (res.status === 429) showError('tooMany', { seconds: res.headers.get('retry-after') ?? '60' })
  else showError('failed', { reason: `HTTP ${res.status}` })
}

function downloadCard(d, primary) {
  const box = document.createElement('div')
  box.className = 'download'
  const link = document.createElement('a')
  link.className = primary ? 'button' : ''
  link.href = d.url
  link.setAttribute('download', d.fileName)
  link.textContent = primary ? t('downloadFor', { platform: t('platform')[d.platform] }) : `${t('platform')[d.platform]} — ${d.fileName}`
  box.append(link)
  const meta = document.createElement('p')
  meta.className = 'meta'
  const size = d.size >= 1048576 ? `${(d.size / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(d.size / 1024))} KB`
  const lines = [d.fileName, t('size', { size }), t('sha256', { sha256: d.sha256 })]
  if (d.kind === 'node-script') lines.push(t('needsNode'))
  for (const [i, line] of lines.entries()) {
    if (i > 0) meta.append(document.createElement('br'))
    const span = document.createElement('span')
    span.textContent = line
    if (line.startsWith('SHA-256')) span.className = 'sha256'
    meta.append(span)
  }
  box.append(meta)
  return box
}

function render() {
  applyLanguage()
  if (!info) return
  $('session').hidden = false
  $('who').textContent = t('who', { csr: info.csrName || '—', org: info.orgName, number: info.number })
  const can = $('can')
  can.replaceChildren(...t('can').map((line) => Object.assign(document.createElement('li'), { textContent: line.replace('{org}', info.orgName) })))
  $('ask-each').textContent = t('askEach')
  const agreed = $('agree').checked
  $('downloads').hidden = !agreed
  if (!agreed) return
  const noBuild = $('no-build')
  noBuild.hidden = info.downloads.length > 0
  noBuild.textContent = t('noBuild', { command: info.buildCommand })
  const os = detectOs()
  const primary = pickPrimary(info.downloads, os)
  $('primary').replaceChildren(...(primary ? [downloadCard(primary, true)] : []))
  const others = info.downloads.filter((d) => d !== primary)
  $('others-box').hidden = others.length === 0
  $('others').replaceChildren(
    ...others.map((d) => {
      const item = document.createElement('li')
      item.append(downloadCard(d, false))
      return item
    }),
  )
  $('terminal-box').hidden = !primary
  $('command').textContent = primary ? primary.command : ''
  $('then').textContent = primary ? thenLine(primary, os) : ''
}

/** What to do with the download: the Windows warning of an unsigned app; on a Mac, why it is the Node.js one. */
function thenLine(primary, os) {
  const values = { file: primary.fileName, server: info.server }
  if (primary.kind === 'node-script') return t(os === 'macos' ? 'thenMac' : 'thenNode', values)
  return t(primary.platform === 'windows' ? 'thenWindows' : 'thenExecutable', values)
}

function applyLanguage() {
  document.documentElement.lang = lang
  const title = info ? t('titleOrg', { org: info.orgName }) : t('title')
  document.title = title
  $('title').textContent = title
  for (const [id, key] of [
    ['number-label', 'numberLabel'],
    ['number-hint', 'numberHint'],
    ['number-submit', 'continue'],
    ['can-title', 'canTitle'],
    ['agree-label', 'agree'],
    ['download-title', 'downloadTitle'],
    ['others-title', 'others'],
    ['terminal-title', 'terminalTitle'],
    ['terminal-hint', 'terminalHint'],
    ['copy-command', 'copy'],
  ]) {
    $(id).textContent = t(key)
  }
  for (const button of document.querySelectorAll('#langs button')) button.setAttribute('aria-pressed', String(button.dataset.lang === lang))
  if (lastError) $('number-error').textContent = t(lastError[0], lastError[1])
}

function start() {
  for (const button of document.querySelectorAll('#langs button')) {
    button.addEventListener('click', () => {
      lang = button.dataset.lang
      localStorage.setItem('helpline-lang', lang)
      render()
    })
  }
  $('number-form').addEventListener('submit', (event) => {
    event.preventDefault()
    void lookUp($('number').value)
  })
  $('agree').addEventListener('change', render)
  $('copy-command').addEventListener('click', async () => {
    await navigator.clipboard?.writeText($('command').textContent ?? '').catch(() => undefined)
    $('copy-command').textContent = t('copied')
  })
  applyLanguage()
  const number = numberFromPath()
  if (number) void lookUp(number)
  else {
    $('number-form').hidden = false
    $('number').focus()
  }
}

start()
