/**
 * A verified client certificate as a principal (inbound mTLS): the certificate's subject CN or one of its
 * subject alternative names is matched against the configured mappings, and the first mapping that matches
 * names the tenant, agent, scopes and groups. Pure: the HTTP edge extracts the certificate
 * (http/client-cert.ts) and the auth stage decides what an unmatched or unverified one means.
 */
import type { Principal } from '../core/principal.js';

/** The parts of a client certificate the mapping reads (http/client-cert.ts `CertificateIdentity` fits). */
export interface CertificateFacts {
  /** Subject common name. */
  readonly subject: string;
  /** Subject alternative names as `TYPE:value` (`DNS:agent.example`, `URI:spiffe://corp/agent`, `IP:10.0.0.1`). */
  readonly sans: readonly string[];
  /** Whether the certificate chains to the configured CA and is valid now. */
  readonly authorized: boolean;
}

/** One mapping from certificates to a principal. */
export interface CertificateMapping {
  /**
   * What the certificate must show: its CN (`subject`), a SAN (`san`, matched against each `TYPE:value`),
   * or both. Exact, or a glob where `*` stands for any run of characters (`URI:spiffe://corp/agents/*`).
   * A mapping that names neither matches nothing.
   */
  readonly match: { readonly subject?: string; readonly san?: string };
  readonly tenant: string;
  readonly agent: string;
  /** Scopes granted; absent: not narrowed by the credential (policy still applies). */
  readonly scopes?: readonly string[];
  readonly groups?: readonly string[];
}

/** True when `value` matches `pattern` (exact, or with `*` for any run of characters; case-sensitive). */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(value);
}

/** Whether one mapping's `match` fits the certificate (every field given must match). */
function matches(mapping: CertificateMapping, identity: CertificateFacts): boolean {
  const { subject, san } = mapping.match;
  if (subject === undefined && san === undefined) return false;
  if (subject !== undefined && !globMatch(subject, identity.subject)) return false;
  if (san !== undefined && !identity.sans.some((name) => globMatch(san, name))) return false;
  return true;
}

/**
 * The principal of a client certificate: the first mapping (in order) that matches it. Undefined when
 * there is no certificate, when it was not verified (the hub asks for certificates without refusing
 * unverified ones, so an unverified certificate proves nothing), or when no mapping matches.
 */
export function principalFromCertificate(
  identity: CertificateFacts | undefined,
  mappings: readonly CertificateMapping[],
): Principal | undefined {
  if (!identity?.authorized) return undefined;
  const mapping = mappings.find((m) => matches(m, identity));
  if (!mapping) return undefined;
  return {
    tenant: mapping.tenant,
    agent: mapping.agent,
    groups: [...(mapping.groups ?? [])],
    scopes: mapping.scopes ? [...mapping.scopes] : undefined,
    source: 'mtls',
    subject: identity.subject,
  };
}
