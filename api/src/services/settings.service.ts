import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { siteSettings } from '../db/schema.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { SiteSettings } from '../schemas/accounts.ts'
import type { Principal } from './auth.service.ts'
import type { TokensService } from './tokens.service.ts'

const defaults: SiteSettings = { requireTwoFactor: false }

/**
 * Is two-factor sign-in required of everyone? As a SQL expression, so the one query that
 * authenticates a request also answers it; a change of it makes every instance forget the
 * credentials it knows (SettingsService.update).
 */
export const requireTwoFactorSql = sql<boolean>`coalesce((select ${siteSettings.value} = 'true'::jsonb from ${siteSettings} where ${siteSettings.key} = 'requireTwoFactor'), false)`

/** Site-wide settings admins change at run time; every change is recorded in the site's audit trail. */
export class SettingsService {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly tokens: TokensService,
  ) {}

  async get(db: Db = this.db): Promise<SiteSettings> {
    const rows = await db.select().from(siteSettings)
    const stored = Object.fromEntries(rows.map((r) => [r.key, r.value]))
    return { requireTwoFactor: stored.requireTwoFactor === true }
  }

  async update(actor: Principal, changes: Partial<SiteSettings>): Promise<SiteSettings> {
    return this.tokens.revoking(async ({ tx, changedForEveryone }) => {
      const before = await this.get(tx)
      const changed = Object.fromEntries(Object.entries(changes).filter(([key, value]) => before[key as keyof SiteSettings] !== value))
      // Every credential carries whether its user must set up two-factor first: all instances forget them all.
      if ('requireTwoFactor' in changed) changedForEveryone()
      for (const [key, value] of Object.entries(changed)) {
        await tx
          .insert(siteSettings)
          .values({ key, value, updatedBy: actor.userId })
          .onConflictDoUpdate({ target: siteSettings.key, set: { value, updatedBy: actor.userId, updatedAt: new Date() } })
      }
      if (Object.keys(changed).length > 0) {
        await appendSiteEvent(tx, this.keyring, { type: 'settings.changed', actor: { type: 'user', id: actor.userId }, targetType: 'settings', data: changed })
      }
      return { ...defaults, ...before, ...changed }
    })
  }
}
