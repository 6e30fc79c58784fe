import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { siteSettings } from '../db/schema.ts'
import { appendSiteEvent } from '../lib/audit-chain.ts'
import type { Keyring } from '../lib/keyring.ts'
import type { SiteSettings } from '../schemas/accounts.ts'
import type { Principal } from './auth.service.ts'

const defaults: SiteSettings = { requireTwoFactor: false }

/**
 * Is two-factor sign-in required of everyone? As a SQL expression, so the one query that
 * authenticates a request also answers it (no cache to go stale across instances).
 */
export const requireTwoFactorSql = sql<boolean>`coalesce((select ${siteSettings.value} = 'true'::jsonb from ${siteSettings} where ${siteSettings.key} = 'requireTwoFactor'), false)`

/** Site-wide settings admins change at run time; every change is recorded in the site's audit trail. */
export class SettingsService {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
  ) {}

  async get(db: Db = this.db): Promise<SiteSettings> {
    const rows = await db.select().from(siteSettings)
    const stored = Object.fromEntries(rows.map((r) => [r.key, r.value]))
    return { requireTwoFactor: stored.requireTwoFactor === true }
  }

  async update(actor: Principal, changes: Partial<SiteSettings>): Promise<SiteSettings> {
    return this.db.transaction(async (tx) => {
      const before = await this.get(tx)
      const changed = Object.fromEntries(Object.entries(changes).filter(([key, value]) => before[key as keyof SiteSettings] !== value))
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
