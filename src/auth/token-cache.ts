/**
 * Verified bearer tokens, remembered briefly: a JWT's signature check costs tens of microseconds and
 * every HTTP request of a session presents the same token, so a token verified once is answered from
 * here (keyed by its SHA-256, never the token itself) until it expires or `maxAgeMs` passes, whichever
 * is first. Only successes are kept; the bounded size evicts the least recently used.
 *
 * What this trades: a key the issuer withdraws keeps the tokens it signed valid here for at most
 * `maxAgeMs` more (they would be valid until `exp` at any resource server that cached the JWKS).
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../core/principal.js';

interface Entry {
  readonly principal: Principal;
  readonly until: number;
}

/** A bounded cache of verified tokens. */
export class VerifiedTokens {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #maxAgeMs: number;

  constructor(options: { max?: number; maxAgeMs?: number } = {}) {
    this.#max = Math.max(1, options.max ?? 10_000);
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
  }

  /** The principal of a token verified before and still valid at `now`, else undefined. */
  get(token: string, now: number): Principal | undefined {
    const key = digest(token);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (now >= entry.until) return undefined;
    this.#entries.set(key, entry); // most recently used last
    return entry.principal;
  }

  /** Remembers a verified token until `expiresAt` (epoch ms, with the allowed skew) or maxAgeMs from now. */
  set(token: string, principal: Principal, expiresAt: number, now: number): void {
    const until = Math.min(expiresAt, now + this.#maxAgeMs);
    if (until <= now) return;
    this.#entries.set(digest(token), { principal, until });
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
