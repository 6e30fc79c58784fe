import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AccessService } from '../../services/access.service.ts'
import { AccountsService } from '../../services/accounts.service.ts'
import { AgentsService } from '../../services/agents.service.ts'
import { AgentDownloads } from '../../services/downloads.service.ts'
import { version } from '../../version.ts'
import { AuditService } from '../../services/audit.service.ts'
import { AuthService } from '../../services/auth.service.ts'
import { CategoriesService } from '../../services/categories.service.ts'
import { ReportsService } from '../../services/reports.service.ts'
import { RunsService } from '../../services/runs.service.ts'
import { ScriptIntegrity } from '../../services/script-integrity.ts'
import { ScriptsService } from '../../services/scripts.service.ts'
import { ChatService } from '../../services/chat.service.ts'
import { CommandQueue } from '../../services/commands.service.ts'
import { ConsentsService } from '../../services/consents.service.ts'
import { SessionFeed } from '../../services/feed.ts'
import { SessionStream } from '../../services/session-stream.ts'
import { SessionsService } from '../../services/sessions.service.ts'
import { Sweeper, sweepEvery } from '../../services/sweeper.ts'
import { SystemInfoService } from '../../services/system-info.service.ts'
import { SettingsService } from '../../services/settings.service.ts'
import { TokensService } from '../../services/tokens.service.ts'
import { TwoFactorService } from '../../services/two-factor.service.ts'
import { WEBHOOK_ENDPOINTS_TOPIC, WebhookOutbox } from '../../services/webhooks-outbox.ts'
import { WebhooksService } from '../../services/webhooks.service.ts'
import { WebhookWorker } from '../../services/webhooks-worker.ts'
import { OidcService, oidcSettings } from '../../services/oidc.service.ts'
import { installPath } from '../../paths.ts'

function createServices(app: FastifyInstance) {
  const { db, bytes } = app.database
  const c = app.config
  const tokens = new TokensService(db, app.notifier, app.keyring)
  const accounts = new AccountsService(db, c.PASSWORD_MIN_LENGTH, app.keyring, tokens)
  const settings = new SettingsService(db, app.keyring, tokens)
  const twoFactor = new TwoFactorService(db, app.keyring, accounts, settings)
  const auth = new AuthService(db, accounts, tokens, twoFactor, c.SESSION_TTL_MINUTES * 60_000, { on: c.LOCAL_PASSWORDS === 'on', breakGlass: c.BREAK_GLASS_ADMIN })
  const sso = oidcSettings(c)
  const oidc = sso ? new OidcService(db, app.keyring, auth, sso) : undefined
  const categories = new CategoriesService(db)
  const scripts = new ScriptsService(db, c.SCRIPT_MAX_BYTES, bytes, new ScriptIntegrity(db, app.keyring), app.keyring)

  const pollWaitMs = c.AGENT_POLL_WAIT_SECONDS * 1000
  const offlineAfterMs = (c.AGENT_OFFLINE_AFTER_SECONDS ?? 2 * c.AGENT_POLL_WAIT_SECONDS + 5) * 1000
  const outbox = new WebhookOutbox(c.PUBLIC_URL, app.notifier)
  const feed = new SessionFeed(db, app.notifier, app.keyring, outbox)
  // This instance forgets at once; the others when the announcement reaches them.
  const webhooks = new WebhooksService(db, app.keyring, () => {
    outbox.forget()
    app.notifier.publish(WEBHOOK_ENDPOINTS_TOPIC)
  })
  const webhookWorker = new WebhookWorker(
    db,
    app.keyring,
    { timeoutMs: c.WEBHOOK_TIMEOUT_MS, retryDelaysMs: c.WEBHOOK_RETRY_SECONDS.split(',').map((s) => Number(s) * 1000), intervalMs: c.WEBHOOK_WORKER_INTERVAL_MS },
    app.log,
  )
  const commands = new CommandQueue(db, feed)
  const sessions = new SessionsService(db, feed, { waitingExpiryMs: c.SESSION_WAITING_EXPIRY_HOURS * 3_600_000, offlineAfterMs, admissionMs: c.AGENT_ADMISSION_MINUTES * 60_000 }, app.keyring)
  const consents = new ConsentsService(db, feed, c.CONSENT_EXPIRY_SECONDS * 1000)
  // Ending a session closes its consents and commands; a consent's answer releases or cancels commands.
  sessions.consents = consents
  sessions.commands = commands
  consents.sessions = sessions
  consents.commands = commands
  const runs = new RunsService(db, feed, consents, commands, scripts, { lostGraceMs: c.SCRIPT_LOST_GRACE_SECONDS * 1000 })
  const agents = new AgentsService(db, feed, commands, consents, runs, { pollWaitMs, offlineAfterMs, rejoinWindowMs: c.AGENT_REJOIN_WINDOW_MINUTES * 60_000 }, app.keyring, (listener) =>
    tokens.onCredentialsChange(listener),
  )
  const systemInfo = new SystemInfoService(db, feed, sessions, consents, commands)
  const chat = new ChatService(db, feed, sessions)
  const access = new AccessService(db, feed, sessions, consents, commands, {
    offlineAfterMs,
    credentialsTtlMs: c.LOGON_CREDENTIALS_TTL_SECONDS * 1000,
    approvalLifetimeMs: c.LOGON_APPROVAL_MINUTES * 60_000,
  })
  const audit = new AuditService(db, app.keyring)
  const reports = new ReportsService(db, sessions, consents, chat)
  const stream = new SessionStream(db, feed, sessions, chat, consents, offlineAfterMs)
  const sweeper = new Sweeper(
    [
      // A deadline of minutes needs no query a second: these run at a twentieth of theirs (at most
      // 5 % late). On every sweep: consents (the CSR waits on the expiry to ask again),
      // credentials and single sign-ons (a secret does not outstay its time).
      { name: 'expire waiting sessions', run: () => sessions.expireWaiting(), everyMs: sweepEvery(c.SESSION_WAITING_EXPIRY_HOURS * 3_600_000) },
      { name: 'expire consents', run: () => consents.expireDue() },
      { name: 'mark silent agents offline', run: () => agents.markSilentOffline(), everyMs: sweepEvery(offlineAfterMs) },
      { name: 'mark lost script runs', run: () => runs.markLost(), everyMs: sweepEvery(c.SCRIPT_LOST_GRACE_SECONDS * 1000) },
      { name: 'drop credentials nobody picked up', run: () => access.expireCredentials() },
      { name: 'give up on computers that did not come back', run: () => agents.expireRejoins(), everyMs: sweepEvery(c.AGENT_REJOIN_WINDOW_MINUTES * 60_000) },
      ...(oidc ? [{ name: 'drop single sign-ons nobody came back from', run: () => oidc.expire() }] : []),
    ],
    c.SWEEP_INTERVAL_MS,
    app.log,
  )
  const downloads = AgentDownloads.fromDir(installPath(c.AGENT_DOWNLOADS_DIR), version)
  return { oidc, webhooks, webhookWorker, downloads, audit, accounts, auth, tokens, settings, twoFactor, categories, scripts, feed, commands, sessions, consents, runs, access, reports, agents, systemInfo, chat, stream, sweeper }
}

export type Services = ReturnType<typeof createServices>

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

/** Builds the business services once per app; routes reach them through `app.services`. */
export default fp(
  async function services(app: FastifyInstance) {
    const services = createServices(app)
    app.decorate('services', services)
    if (services.downloads.problem) app.log.warn(services.downloads.problem)
    app.addHook('onReady', async () => {
      services.sweeper.start()
      services.webhookWorker.start()
    })
    app.addHook('preClose', async () => {
      await services.sweeper.stop()
      await services.webhookWorker.stop()
    })
  },
  { name: 'services', dependencies: ['database', 'notifier'] },
)
