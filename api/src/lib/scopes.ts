/**
 * What a bearer credential may do. A personal API token carries the scopes chosen when it was made;
 * a console sign-in carries every scope its user's role allows. A route's required scope comes
 * from `requiredScope`, the one rule both the contract (openapi.yaml) and the auth hook read.
 */
export const scopes = ['read', 'sessions', 'admin'] as const
export type Scope = (typeof scopes)[number]

/** Every scope a role allows: what its console sign-ins carry and the most its tokens may hold. */
export function scopesForRole(role: 'admin' | 'csr'): Scope[] {
  return role === 'admin' ? ['read', 'sessions', 'admin'] : ['read', 'sessions']
}

export function isScope(value: unknown): value is Scope {
  return scopes.includes(value as Scope)
}

/**
 * The scope a route needs unless it declares its own: site-admin routes need `admin`, other reads
 * (GET) `read`, everything else (running sessions and scripts, the library) `sessions`.
 * `null` means any credential of the user (signing out).
 */
export function requiredScope(method: string, auth: 'user' | 'admin', declared?: Scope | null): Scope | null {
  if (declared !== undefined) return declared
  if (auth === 'admin') return 'admin'
  return method.toUpperCase() === 'GET' ? 'read' : 'sessions'
}

/**
 * How the contract lists a bearer route's requirement (OpenAPI 3.1 lets a bearer requirement name
 * roles): `role:admin` (the user must be a site admin), `scope:<scope>` (an API token must carry
 * it), `sign-in` (a console sign-in only; API tokens are refused).
 */
export function securityRoles(auth: 'user' | 'admin', scope: Scope | null, signInOnly: boolean): string[] {
  return [...(auth === 'admin' ? ['role:admin'] : []), ...(signInOnly ? ['sign-in'] : scope ? [`scope:${scope}`] : [])]
}
