/**
 * Gateway credentials for servers as callers (the mesh): a server entry with `mesh: {scopes}` gets a key
 * of its own, handed to it when it starts (see Gateway.setMeshCredentials), so its tools can call other
 * servers' tools through the gateway, under the same scopes, policy, audit and limits as any agent.
 *
 * Key format: `sbm_<id>_<secret>` (12 hex characters, 32 random bytes in base64url), the shape of an API
 * key with its own prefix, so the authenticator tells them apart without trying both. Unlike API keys
 * these exist only in this process's memory, never on disk: a restart issues new ones, and a key stops
 * working when its server is removed or the gateway stops (`revoke`, `clear`). Only the sha256 of a
 * secret is kept and compared in constant time; an unknown id and a wrong secret read the same.
 *
 * Lifetime: by default a key lives as long as its server's registration in this process. A stdio
 * server reads its key from the environment once, at spawn, and cannot be handed a fresh one later, so a
 * clock expiry shorter than the process would silently cut it off; `ttlMs` (per key or per instance) is
 * there for holders that can be re-issued a key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT, type Principal } from '../core/principal.js';

/** What every mesh key starts with. */
export const MESH_KEY_PREFIX = 'sbm_';

const KEY_SHAPE = /^sbm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** Longer presented strings are refused before any work. */
const MAX_PRESENTED = 200;

/** Who a mesh key speaks for and what it may do. */
export interface MeshBinding {
  /** The server the key is handed to; it is the principal's agent name. */
  readonly server: string;
  /** The server's tenant (`default` where there are no tenants). */
  readonly tenant?: string | undefined;
  readonly scopes: readonly string[];
  readonly groups?: readonly string[] | undefined;
  /** Lifetime in ms (overrides the instance's default; absent there too: until revoked). */
  readonly ttlMs?: number | undefined;
}

/** A key as issued: `token` is the whole secret string, to hand to the server and to nobody else. */
export interface MeshGrant {
  readonly id: string;
  readonly token: string;
  /** Epoch ms after which the key no longer works; null: until revoked. */
  readonly expiresAt: number | null;
}

/** Options of {@link MeshKeys}. */
export interface MeshKeysOptions {
  /** Epoch milliseconds (tests inject a clock). */
  readonly clock?: () => number;
  /** Default lifetime of a key in ms; absent: until revoked. */
  readonly ttlMs?: number | undefined;
}

interface Entry {
  readonly hash: Buffer;
  readonly server: string;
  readonly principal: Principal;
  readonly expiresAt: number | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();
/** Compared against when the id is unknown, so an unknown id costs what a wrong secret costs. */
const NO_HASH = Buffer.alloc(32);
const invalid = () => new GatewayError('UNAUTHORIZED', 'mesh key is not valid');

/** Issues, verifies and revokes the in-memory keys of servers that call through the gateway. */
export class MeshKeys {
  readonly #keys = new Map<string, Entry>();
  readonly #clock: () => number;
  readonly #ttlMs: number | undefined;

  constructor(options: MeshKeysOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#ttlMs = options.ttlMs;
  }

  /** Keys currently held (expired ones not yet swept included). */
  get size(): number {
    return this.#keys.size;
  }

  /** Issues a key for `binding`; the returned token is the only copy of the secret. */
  issue(binding: MeshBinding): MeshGrant {
    if (binding.scopes.length === 0)
      throw new GatewayError('CONFIG_INVALID', `mesh for server "${binding.server}" needs at least one scope`);
    const now = this.#clock();
    this.#sweep(now);
    const ttl = binding.ttlMs ?? this.#ttlMs;
    const expiresAt = ttl === undefined ? null : now + ttl;
    const principal: Principal = Object.freeze({
      tenant: binding.tenant ?? DEFAULT_TENANT,
      agent: binding.server,
      groups: Object.freeze([...new Set(binding.groups ?? [])]),
      scopes: Object.freeze([...new Set(binding.scopes)]),
      source: 'mesh' as const,
      subject: binding.server,
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = randomBytes(6).toString('hex');
      if (this.#keys.has(id)) continue;
      const secret = randomBytes(32).toString('base64url');
      this.#keys.set(id, { hash: sha256(secret), server: binding.server, principal, expiresAt });
      return { id, token: `${MESH_KEY_PREFIX}${id}_${secret}`, expiresAt };
    }
    throw new GatewayError('INTERNAL', 'could not draw an unused mesh key id');
  }

  /** Revokes one key at once; false when there is no such key. */
  revoke(id: string): boolean {
    return this.#keys.delete(id);
  }

  /** Revokes every key of `server` (it was removed); returns how many. */
  revokeServer(server: string): number {
    let count = 0;
    for (const [id, entry] of this.#keys) {
      if (entry.server !== server) continue;
      this.#keys.delete(id);
      count++;
    }
    return count;
  }

  /** Revokes every key (the gateway stops). */
  clear(): void {
    this.#keys.clear();
  }

  /**
   * The principal of a presented key. Throws UNAUTHORIZED: "mesh key is not valid" (malformed, unknown
   * or revoked id, wrong secret: alike, since a revoked key's holder is a server that was removed) or
   * "mesh key expired" (told only to a holder of the secret). The key is never echoed.
   */
  verify(presented: string): Principal {
    if (typeof presented !== 'string' || presented.length > MAX_PRESENTED) throw invalid();
    const match = KEY_SHAPE.exec(presented);
    if (!match) throw invalid();
    const [, id = '', secret = ''] = match;
    const entry = this.#keys.get(id);
    const same = timingSafeEqual(entry?.hash ?? NO_HASH, sha256(secret));
    if (!entry || !same) throw invalid();
    if (entry.expiresAt !== null && this.#clock() >= entry.expiresAt) {
      this.#keys.delete(id);
      throw new GatewayError('UNAUTHORIZED', 'mesh key expired');
    }
    return entry.principal;
  }

  /** Drops expired keys, so issuing never grows the map without bound. */
  #sweep(now: number): void {
    for (const [id, entry] of this.#keys) if (entry.expiresAt !== null && now >= entry.expiresAt) this.#keys.delete(id);
  }
}
