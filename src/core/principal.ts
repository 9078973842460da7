/**
 * Who is calling: the identity every stage and store sees. It is fixed when a request enters (from a
 * verified credential, or from config for a sidecar) and travels in the request context; nothing
 * re-derives it from `_meta` once auth is on.
 */

/** How the principal was established. */
export type PrincipalSource = 'none' | 'apiKey' | 'jwt' | 'mtls' | 'config' | 'mesh';

/** The caller of one request. */
export interface Principal {
  /** Tenant the caller belongs to; `default` where no tenants are configured. */
  readonly tenant: string;
  /** Agent (client application) name. */
  readonly agent: string;
  /** End user, when the credential names one (JWT `sub` of a user token). */
  readonly user?: string | undefined;
  /** Groups from the credential (JWT claim or key binding). */
  readonly groups: readonly string[];
  /**
   * Scopes granted by the credential (`tools:<pattern>[:call|:list]`, `servers:<name>`, `admin`, ...).
   * Undefined means unrestricted: auth `none` on loopback, or a sidecar's owner.
   */
  readonly scopes: readonly string[] | undefined;
  /** How the identity was established. */
  readonly source: PrincipalSource;
  /** The credential's subject (key id, JWT `sub`, certificate subject), for audit; never a secret. */
  readonly subject?: string | undefined;
}

/** The tenant of a gateway without tenants. */
export const DEFAULT_TENANT = 'default';

/** The principal of an unauthenticated loopback caller (auth `none`). */
export function anonymousPrincipal(agent = 'anonymous', user?: string): Principal {
  return { tenant: DEFAULT_TENANT, agent, user, groups: [], scopes: undefined, source: 'none' };
}

/**
 * True when two requests come from the same identity (a session opened by one principal must not be
 * used by another): same source, tenant, agent and credential subject. Both anonymous: the same.
 */
export function samePrincipal(a: Principal | undefined, b: Principal | undefined): boolean {
  if (!a || !b) return a === b;
  return a.source === b.source && a.tenant === b.tenant && a.agent === b.agent && a.subject === b.subject;
}

/** A principal's identity and grants as one string (a cache key: equal keys, equal rights). */
export function principalKey(principal: Principal): string {
  return JSON.stringify([
    principal.source,
    principal.tenant,
    principal.agent,
    principal.subject ?? null,
    principal.user ?? null,
    principal.groups,
    principal.scopes ?? null,
  ]);
}
