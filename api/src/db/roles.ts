import postgres from 'postgres'

/** The append-only audit trails: the app may read them and add to them, nothing else. */
export const AUDIT_TABLES = ['session_events', 'audit_events'] as const

/** An arbitrary constant naming the grants' advisory lock. */
const GRANTS_LOCK = 0x6865_6c71

/** The user name a postgres:// URL signs in as (postgres.js's own default when it names none). */
export function roleOf(url: string): string {
  const user = decodeURIComponent(new URL(url).username)
  return user || process.env.PGUSER || process.env.USER || 'postgres'
}

/**
 * Gives the app's role exactly what the server needs, as the owner that just migrated: read and
 * write on the working tables, read and append on the audit trails, the sequences behind them,
 * and nothing it could own. What the app cannot do follows from that: it owns no table, so it
 * cannot `ALTER TABLE … DISABLE TRIGGER`; it has no TRUNCATE, and no UPDATE or DELETE on the
 * audit trails; and a role that is not a superuser cannot `SET session_replication_role`.
 *
 * Runs after every migration, so tables a new migration adds are covered too. Returns what a
 * start-up log should warn about (the app's role is the owner, or a superuser).
 */
export async function grantAppRole(owner: postgres.Sql, appRole: string): Promise<string[]> {
  const [me] = await owner<{ name: string }[]>`select current_user as name`
  const [app] = await owner<{ superuser: boolean }[]>`select rolsuper as superuser from pg_roles where rolname = ${appRole}`
  if (!app) throw new Error(`DATABASE_URL's role ${JSON.stringify(appRole)} does not exist; create it (LOGIN, no other rights) first`)
  const warnings: string[] = []
  if (me!.name === appRole) {
    return [`DATABASE_URL and DATABASE_OWNER_URL sign in as the same role (${appRole}): the app owns its tables and can alter its audit trail`]
  }
  if (app.superuser) warnings.push(`DATABASE_URL's role ${appRole} is a superuser: the grants below do not bind it`)
  const role = owner(appRole)
  await owner.begin(async (tx) => {
    // Instances starting together would otherwise race on the same catalog rows.
    await tx`select pg_advisory_xact_lock(${GRANTS_LOCK})`
    await tx`grant usage on schema public to ${role}`
    // From nothing to exactly this, whatever an earlier setup granted.
    await tx`revoke all on all tables in schema public from ${role}`
    await tx`revoke all on all sequences in schema public from ${role}`
    await tx`grant select, insert, update, delete on all tables in schema public to ${role}`
    for (const table of AUDIT_TABLES) await tx`revoke update, delete on ${tx(table)} from ${role}`
    await tx`grant usage, select on all sequences in schema public to ${role}`
  })
  return warnings
}
