/**
 * The customer window's page, kept in the agent itself (no files to find next to a single
 * executable). Plain HTML, one script, one stylesheet; the words come from the agent's catalogue
 * with the state (`strings`), and everything the server sent is put on the page as text, never HTML.
 */

export const WINDOW_HTML = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Helpline</title>
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header>
  <div>
    <h1 id="title">Helpline</h1>
    <p id="who"></p>
  </div>
  <span id="phase" class="chip"></span>
</header>
<p id="notice" role="status" hidden></p>
<section id="confirm" hidden>
  <h2 id="confirm-title"></h2>
  <p id="confirm-text"></p>
  <p class="server" id="confirm-server"></p>
  <div class="buttons"><button type="button" id="confirm-join" class="allow"></button><button type="button" id="confirm-cancel" class="deny"></button></div>
</section>
<main id="main">
  <section id="requests" aria-labelledby="requests-title">
    <h2 id="requests-title"></h2>
    <p id="no-requests" class="muted"></p>
    <div id="consents"></div>
  </section>
  <section id="running-box" aria-labelledby="running-title">
    <h2 id="running-title"></h2>
    <p id="running" class="muted"></p>
  </section>
  <section id="chat-box" aria-labelledby="chat-title">
    <h2 id="chat-title"></h2>
    <ol id="messages" aria-live="polite"></ol>
    <form id="chat-form">
      <label for="chat-input" id="chat-label" class="visually-hidden"></label>
      <input id="chat-input" autocomplete="off" maxlength="4000">
      <button type="submit" id="chat-send"></button>
    </form>
  </section>
  <details id="activity-box">
    <summary id="activity-title"></summary>
    <ol id="activity"></ol>
  </details>
  <p><button type="button" id="leave" class="deny"></button></p>
</main>
</body>
</html>
`

export const WINDOW_CSS = `:root { color-scheme: light dark; --accent: #1565c0; --ok: #2e7d32; --bad: #c62828; --muted: #6b7785; font-family: system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans JP", "IPAGothic", sans-serif; }
body { margin: 0 auto; max-width: 52rem; padding: 0 1rem 2rem; line-height: 1.5; }
header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; border-bottom: 1px solid #8884; padding: .75rem 0; }
h1 { font-size: 1.2rem; margin: 0; }
h2 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
#who { margin: .25rem 0 0; }
.chip { border: 1px solid #8886; border-radius: 1rem; padding: .1rem .7rem; white-space: nowrap; }
.chip.joined { border-color: var(--ok); color: var(--ok); }
.chip.ended, .chip.left, .chip.failed { border-color: var(--bad); color: var(--bad); }
#notice { background: #1565c01a; border-left: 4px solid var(--accent); padding: .75rem 1rem; font-weight: 600; }
.muted { color: var(--muted); }
.consent { border: 2px solid var(--accent); border-radius: 8px; padding: .75rem 1rem; margin: .5rem 0; }
.consent.settled { border-color: #8886; opacity: .85; }
.consent pre { white-space: pre-wrap; overflow-wrap: anywhere; font: inherit; margin: 0 0 .75rem; }
.buttons { display: flex; gap: .75rem; flex-wrap: wrap; }
button { font: inherit; padding: .5rem 1.2rem; border-radius: 6px; border: 1px solid #8888; cursor: pointer; }
button.allow { background: var(--ok); border-color: var(--ok); color: #fff; }
button.deny { background: none; color: var(--bad); border-color: var(--bad); }
button:focus-visible, input:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.outcome { font-weight: 600; }
#messages { list-style: none; padding: 0; margin: 0; max-height: 40vh; overflow-y: auto; }
#messages li { margin: .35rem 0; overflow-wrap: anywhere; white-space: pre-wrap; }
#messages .author { font-weight: 600; margin-right: .4rem; }
#messages li.customer .author { color: var(--accent); }
#chat-form { display: flex; gap: .5rem; margin-top: .5rem; }
#chat-input { flex: 1; font: inherit; padding: .4rem .6rem; }
#activity { font-size: .9rem; color: var(--muted); white-space: pre-wrap; overflow-wrap: anywhere; }
.server { font-family: ui-monospace, Menlo, monospace; font-size: 1.05rem; overflow-wrap: anywhere; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`

export const WINDOW_JS = `'use strict'
;(() => {
  const $ = (id) => document.getElementById(id)
  let version = -1
  let strings = {}
  let sentDecisions = new Set()

  const t = (key, values) => String(strings[key] ?? key).replace(/\\{(\\w+)\\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole))

  async function post(path, body) {
    const res = await fetch('api/' + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return res.ok
  }

  function text(tag, value, className) {
    const el = document.createElement(tag)
    el.textContent = value
    if (className) el.className = className
    return el
  }

  function renderConsent(c) {
    const box = document.createElement('article')
    box.className = 'consent' + (c.state === 'pending' ? '' : ' settled')
    box.dataset.consentId = c.id
    box.dataset.state = c.state
    box.append(text('h3', c.title))
    box.append(text('pre', c.lines.join('\\n')))
    if (c.state === 'pending' && !sentDecisions.has(c.id)) {
      const buttons = document.createElement('div')
      buttons.className = 'buttons'
      for (const [approved, label, cls] of [[true, t('win_allow'), 'allow'], [false, t('win_deny'), 'deny']]) {
        const b = text('button', label, cls)
        b.type = 'button'
        b.addEventListener('click', async () => {
          sentDecisions.add(c.id)
          for (const other of buttons.querySelectorAll('button')) other.disabled = true
          await post('consents/' + encodeURIComponent(c.id), { approved })
        })
        buttons.append(b)
      }
      box.append(buttons)
    } else if (c.state !== 'pending') {
      const where = c.answeredIn === 'terminal' ? t('win_in_terminal') : c.answeredIn === 'auto' ? t('win_automatically') : ''
      box.append(text('p', t('win_state_' + c.state) + (where ? ' ' + where : ''), 'outcome'))
    }
    return box
  }

  function render(state) {
    strings = state.strings
    document.documentElement.lang = state.lang
    const s = state.status
    const title = s.org ? t('win_title_org', { org: s.org }) : t('win_title')
    document.title = title
    $('title').textContent = title
    $('who').textContent = s.csr ? t('win_helping', { csr: s.csr, number: s.number }) : ''
    $('phase').textContent = t('win_phase_' + s.phase)
    $('phase').className = 'chip ' + s.phase
    $('notice').hidden = !s.notice
    $('notice').textContent = s.notice ?? ''

    const confirming = s.phase === 'confirm'
    $('confirm').hidden = !confirming
    $('main').hidden = confirming
    $('confirm-title').textContent = t('win_confirm_title')
    $('confirm-text').textContent = t('win_confirm_text', { number: s.number, csr: s.csr || '—', org: s.org || '—' })
    $('confirm-server').textContent = s.server
    $('confirm-join').textContent = t('win_join')
    $('confirm-cancel').textContent = t('win_cancel')

    $('requests-title').textContent = t('win_requests')
    const pending = state.consents.filter((c) => c.state === 'pending')
    $('no-requests').textContent = pending.length ? '' : t('win_no_requests')
    const consents = [...state.consents].reverse().slice(0, 10)
    $('consents').replaceChildren(...consents.map(renderConsent))

    $('running-title').textContent = t('win_running')
    $('running').textContent = s.running ?? t('win_nothing_running')

    $('chat-title').textContent = t('win_chat')
    $('chat-label').textContent = t('win_chat_label')
    $('chat-input').placeholder = t('win_chat_placeholder')
    $('chat-send').textContent = t('win_send')
    const list = $('messages')
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
    list.replaceChildren(
      ...state.messages.map((m) => {
        const li = document.createElement('li')
        li.className = m.from
        li.append(text('span', m.author, 'author'), text('span', m.text))
        return li
      }),
    )
    if (atBottom) list.scrollTop = list.scrollHeight

    $('activity-title').textContent = t('win_activity')
    $('activity').replaceChildren(...state.activity.slice(-50).map((line) => text('li', line)))
    const over = ['ended', 'left', 'stopped', 'failed'].includes(s.phase)
    $('leave').textContent = t('win_leave')
    $('leave').hidden = over
    $('chat-form').hidden = over
  }

  async function loop() {
    for (;;) {
      try {
        const res = await fetch('api/state?since=' + version, { cache: 'no-store' })
        if (!res.ok) throw new Error('HTTP ' + res.status)
        const state = await res.json()
        version = state.version
        render(state)
        if (['ended', 'left', 'stopped'].includes(state.status.phase)) return
      } catch {
        // The agent has stopped, or is restarting: try again shortly.
        await new Promise((r) => setTimeout(r, 2000))
      }
    }
  }

  $('chat-form').addEventListener('submit', async (event) => {
    event.preventDefault()
    const input = $('chat-input')
    const value = input.value.trim()
    if (!value) return
    if (await post('chat', { text: value })) input.value = ''
  })
  $('leave').addEventListener('click', async () => {
    if (confirm(t('win_leave_confirm'))) await post('leave', {})
  })
  $('confirm-join').addEventListener('click', () => post('confirm', { join: true }))
  $('confirm-cancel').addEventListener('click', () => post('confirm', { join: false }))
  loop()
})()
`
