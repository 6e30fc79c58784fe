import { parseArgs } from 'node:util'
import { Agent, AgentExit, EXIT, type ApproveMode } from './agent.ts'
import { join, resolve } from 'node:path'
import { detectLang, translator, type Translate } from './i18n/index.ts'
import { selectPlatform } from './platform/index.ts'
import { installAutostart, installService, SYSTEM_UNIT_DIR } from './service.ts'
import { defaultStateDir, StateStore } from './state.ts'
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs'
import { parseJoinTicket, type JoinTicket } from '@helpline/sdk'
import { agentBuild, selfFile } from './self.ts'
import { print } from './terminal.ts'
import { CustomerSurface, type UiMode } from './ui/customer-ui.ts'
import { openBrowser } from './ui/open-browser.ts'
import { printSystemInfo } from './sysinfo/cli.ts'
import { agentVersion } from './version.ts'

/**
 * `helpline-agent join 123-456-789 --server URL [--state-dir DIR] [--approve ask|all|none] [--lang en|ja]`
 * `helpline-agent rejoin [--state-dir DIR] [--server URL]`
 * `helpline-agent install-service [--state-dir DIR] [--unit-dir DIR]`
 */
export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: 'string' },
        'state-dir': { type: 'string' },
        approve: { type: 'string', default: 'ask' },
        lang: { type: 'string' },
        platform: { type: 'string' },
        'unit-dir': { type: 'string' },
        ui: { type: 'string', default: 'auto' },
        'autostart-dir': { type: 'string' },
        'if-saved': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        'version-file': { type: 'string' },
      },
    })
  } catch (err) {
    const t = translator(detectLang(undefined))
    print(t('badOption', { problem: (err as Error).message }), 'stderr')
    print(t('usage'), 'stderr')
    return EXIT.usage
  }
  const { values, positionals } = parsed
  const lang = detectLang(values.lang)
  const t = translator(lang)
  let [command, numberArg] = positionals
  if (command === '__sysinfo') return printSystemInfo()
  if (values.version) return printVersion(values['version-file'])
  if (!values.help && command === 'install-service') {
    const stateDir = values['state-dir'] ?? defaultStateDir()
    // Windows and macOS: their own autostart (a Scheduled Task, a launchd job), as a restart makes it.
    if ((process.platform === 'win32' || process.platform === 'darwin') && values['unit-dir'] === undefined && values['autostart-dir'] === undefined) {
      return platformAutostartCommand(t, stateDir, values.platform)
    }
    // Root: a system service that rejoins at boot. Anyone else: rejoin when they log in to their desktop.
    if (values['autostart-dir'] !== undefined || (process.getuid?.() !== 0 && values['unit-dir'] === undefined)) {
      return installAutostartCommand(t, stateDir, values['autostart-dir'], values.lang, values.platform)
    }
    return installServiceCommand(t, stateDir, values['unit-dir'], values.lang, values.platform)
  }
  if (!values.help && command === 'window') return windowCommand(t, new StateStore(values['state-dir'] ?? defaultStateDir()))
  // Started with nothing to do (double-clicked): the join ticket the download carries says which session.
  const ticket = !values.help && command === undefined ? readOwnTicket() : undefined
  if (ticket) {
    command = 'join'
    numberArg = ticket.number
  } else if (!values.help && command === undefined && agentBuild !== 'source') {
    print(t('noTicket'), 'stderr')
    return EXIT.usage
  }
  if (values.help || (command !== 'join' && command !== 'rejoin')) {
    print(t('usage'), 'stderr')
    return values.help ? EXIT.ok : EXIT.usage
  }
  const approve = values.approve as ApproveMode
  if (!['ask', 'all', 'none'].includes(approve)) {
    print(t('badOption', { problem: `--approve must be ask, all or none (got ${values.approve})` }), 'stderr')
    return EXIT.usage
  }
  const ui = values.ui as UiMode
  if (!['browser', 'terminal', 'auto'].includes(ui)) {
    print(t('badOption', { problem: `--ui must be browser, terminal or auto (got ${values.ui})` }), 'stderr')
    return EXIT.usage
  }
  if (values.lang && values.lang !== 'en' && values.lang !== 'ja') {
    print(t('badOption', { problem: `--lang must be en or ja (got ${values.lang})` }), 'stderr')
    return EXIT.usage
  }
  const store = new StateStore(values['state-dir'] ?? defaultStateDir())
  // The autostart entry runs at every login: with no session saved there is nothing to do, quietly.
  if (command === 'rejoin' && values['if-saved'] && !store.load()) return EXIT.ok
  let number: string | undefined
  if (command === 'join') {
    number = (numberArg ?? '').replace(/\s+/g, '')
    if (!/^\d{3}-?\d{3}-?\d{3}$/.test(number)) {
      print(t('badNumber', { number: numberArg ?? '' }), 'stderr')
      return EXIT.usage
    }
  }
  const server = (values.server ?? ticket?.server ?? (command === 'rejoin' ? store.load()?.server : undefined) ?? '').replace(/\/+$/, '')
  if (!/^https?:\/\/[^/\s]+/.test(server)) {
    if (command === 'rejoin' && !values.server && !store.load()) {
      print(t('noSavedSession', { dir: store.dir }), 'stderr')
    } else {
      print(t('badServer', { server: values.server ?? '' }), 'stderr')
    }
    return EXIT.usage
  }

  let leave = () => {}
  const surface = await CustomerSurface.open({ mode: ui, t, lang, store, onLeave: () => leave() })
  const terminal = surface.hub
  const platform = selectPlatform(values.platform ?? process.env.HELPLINE_AGENT_PLATFORM)
  const agent = new Agent({ server, number, approve, t, platform, terminal, store, org: ticket?.org, interactive: surface.interactive })

  let leaving: Promise<void> | undefined
  leave = () => {
    leaving ??= agent.leave()
  }
  process.on('SIGINT', () => {
    // A second Ctrl-C while leaving quits at once.
    if (leaving) process.exit(130)
    leave()
  })
  process.on('SIGTERM', () => {
    terminal.say(t('stopped'))
    agent.stop()
  })

  try {
    if (ticket && !(await surface.confirm(ticket))) {
      terminal.say(t('joinCancelled'))
      return EXIT.ok
    }
    await agent.checkServer()
    if (command === 'join') await agent.join(number!)
    else await agent.tryRejoin()
    await agent.serve()
    if (leaving) await leaving
    return EXIT.ok
  } catch (err) {
    if (leaving) {
      await leaving
      return EXIT.ok
    }
    if (err instanceof AgentExit) {
      if (err.key) print(t(err.key, err.values), 'stderr')
      return err.code
    }
    print(t('error', { reason: err instanceof Error ? err.message : String(err) }), 'stderr')
    return 1
  } finally {
    await surface.close()
  }
}

/** The join ticket appended to this very file by the join page's download, if any (sdk join-ticket.ts). */
function readOwnTicket(): JoinTicket | undefined {
  if (agentBuild === 'source') return undefined
  try {
    const file = selfFile()
    const size = statSync(file).size
    const length = Math.min(size, 8192)
    const tail = Buffer.alloc(length)
    const fd = openSync(file, 'r')
    try {
      readSync(fd, tail, 0, length, size - length)
    } finally {
      closeSync(fd)
    }
    return parseJoinTicket(tail.toString('latin1'))
  } catch {
    return undefined
  }
}

/** `helpline-agent window`: opens the running agent's customer window again (for example after closing the tab). */
async function windowCommand(t: Translate, store: StateStore): Promise<number> {
  const url = store.loadWindow()
  if (!url) {
    print(t('noWindow', { dir: store.dir }), 'stderr')
    return EXIT.usage
  }
  const opened = await openBrowser(url)
  print(t(opened ? 'windowOpened' : 'windowAddress', { url }))
  return EXIT.ok
}

/** Writes the desktop autostart entry that rejoins the saved session when the customer logs in again. */
function installAutostartCommand(t: Translate, stateDir: string, autostartDir: string | undefined, lang: string | undefined, platform: string | undefined): number {
  const dir = resolve(stateDir)
  try {
    const path = installAutostart({ stateDir: dir, autostartDir, lang, platform })
    print(t('autostartWritten', { path, dir }))
    return EXIT.ok
  } catch (err) {
    print(t('autostartFailed', { reason: (err as Error).message }), 'stderr')
    return 1
  }
}

/** Windows and macOS: the platform adapter's autostart for this state folder, and what it did. */
async function platformAutostartCommand(t: Translate, stateDir: string, platform: string | undefined): Promise<number> {
  const result = await selectPlatform(platform ?? process.env.HELPLINE_AGENT_PLATFORM).ensureAutostart(resolve(stateDir))
  if (result.ok) print(t('autostartSet', { detail: result.detail, dir: resolve(stateDir) }))
  else print(t('autostartFailed', { reason: result.detail }), 'stderr')
  return result.ok ? EXIT.ok : 1
}

/** Writes the systemd unit that rejoins the saved session at boot, and enables it; says what it did. */
async function installServiceCommand(t: Translate, stateDir: string, unitDir: string | undefined, lang: string | undefined, platform: string | undefined): Promise<number> {
  const dir = resolve(stateDir)
  let result
  try {
    result = await installService({ stateDir: dir, unitDir, lang, platform })
  } catch (err) {
    print(t('serviceFailed', { path: join(resolve(unitDir ?? SYSTEM_UNIT_DIR), 'helpline-agent.service'), reason: (err as Error).message }), 'stderr')
    return 1
  }
  print(t('serviceWritten', { path: result.unitPath, dir }))
  if (resolve(unitDir ?? SYSTEM_UNIT_DIR) !== SYSTEM_UNIT_DIR) {
    print(t('serviceNotSystem', { dir: resolve(unitDir!), system: SYSTEM_UNIT_DIR }))
    return EXIT.ok
  }
  for (const step of result.steps) print(t('serviceStep', { command: step.command, result: step.ok ? 'ok' : step.output || 'failed' }))
  if (result.steps.length === 2 && result.steps.every((s) => s.ok)) {
    print(t('serviceEnabled', { dir }))
    return EXIT.ok
  }
  print(t('serviceNotEnabled'), 'stderr')
  return 1
}

/**
 * `--version`: this agent, its packaging and the Node inside it. `--version-file FILE` writes it
 * there instead: Node under Wine has no usable stdout, and the Windows smoke check reads the file.
 */
function printVersion(file: string | undefined): number {
  const text = `helpline-agent ${agentVersion} (${agentBuild}, Node ${process.version}, ${process.platform}-${process.arch})`
  if (file) writeFileSync(file, `${text}\n`)
  else print(text)
  return EXIT.ok
}
