/**
 * API keys for service agents: created once (the secret is shown to the creator and never again), stored
 * only as the sha256 of the secret, each bound to a tenant, an agent name, scopes and groups, and
 * revocable. `verify` turns a presented key into the request's Principal.
 *
 * Key format: `sbk_<id>_<secret>`: `id` is 12 hex characters, public, the row's lookup key; `secret` is
 * 32 random bytes in base64url. The secret has 256 bits of entropy, so a fast hash is right (nothing to
 * brute-force) and the comparison is constant-time. An unknown id and a wrong secret read the same.
 *
 * Cache: verified keys' rows are kept in memory for `cacheTtlMs` (5 s by default; a bounded LRU), so the
 * hot path does not read SQLite on every call. A revoke through this instance takes effect at once; a
 * revoke by another process writing the same SQLite file (`switchboard keys revoke` while the hub runs)
 * takes effect within the cache TTL. `last_used_at` is written at most once a minute per key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { formatPath } from '../config/load.js';
import { GatewayError } from '../core/errors.js';
import type { KeyRecord, StoredKey } from '../core/api-key.js';
import type { Principal } from '../core/principal.js';

/** What every API key starts with (so an auth stage can tell a key from a JWT without trying both). */
export const API_KEY_PREFIX = 'sbk_';

/** Longer presented strings are refused before any work. */
const MAX_PRESENTED = 200;
const KEY_SHAPE = /^sbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const TOUCH_EVERY_MS = 60_000;
const MAX_EXPIRES_SEC = 10 * 365 * 24 * 3600;

export type { KeyRecord, StoredKey } from '../core/api-key.js';

/** The persistence port of API keys (store/keys-repo.ts `SqliteKeysRepo` implements it). */
export interface KeysRepo {
  /** Stores a new key; false when the id is already taken. */
  insert(key: StoredKey): boolean;
  get(id: string): StoredKey | undefined;
  list(tenant?: string): StoredKey[];
  /** Marks the key revoked at `at` (of `tenant` only, when given); false when there is no such key. */
  revoke(id: string, at: number, tenant?: string): boolean;
  touch(id: string, at: number): void;
}

/** What a new key is bound to. */
export interface CreateKeyInput {
  readonly tenant: string;
  readonly agent: string;
  readonly scopes: readonly string[];
  readonly groups?: readonly string[] | undefined;
  /** Lifetime in seconds; no expiry when absent. */
  readonly expiresInSec?: number | undefined;
  readonly note?: string | undefined;
}

/** A new key: `key` is the full secret string, shown once. */
export interface CreatedKey {
  readonly id: string;
  readonly key: string;
  readonly record: KeyRecord;
}

/** A record for JSON output (REST, `keys list --json`): times as ISO strings. */
export interface KeyView extends Omit<KeyRecord, 'createdAt' | 'expiresAt' | 'revokedAt' | 'lastUsedAt'> {
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

const name = (what: string) => z.string().regex(NAME, `${what} must be 1 to 64 characters of A-Z a-z 0-9 . _ -`);
const label = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

/** The shape of {@link CreateKeyInput}, unknown keys refused (also what POST /v1/keys accepts). */
export const createKeyInputSchema = z
  .object({
    tenant: name('a tenant'),
    agent: name('an agent name'),
    scopes: z
      .array(label)
      .min(1, 'give at least one scope (for example "tools:*")')
      .max(100, 'at most 100 scopes per key'),
    groups: z.array(label).max(100, 'at most 100 groups per key').optional(),
    expiresInSec: z
      .number()
      .int('must be a whole number of seconds')
      .positive('must be positive')
      .max(MAX_EXPIRES_SEC, `must be at most ${MAX_EXPIRES_SEC} (10 years)`)
      .optional(),
    note: z.string().max(500, 'must be at most 500 characters').optional(),
  })
  .strict();

/** Validates a key's binding; problems as one BAD_REQUEST naming each field path (`scopes[2]: ...`). */
export function parseCreateKeyInput(input: unknown): CreateKeyInput {
  const parsed = createKeyInputSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }))
      : [{ path: formatPath(issue.path), message: issue.message }],
  );
  throw new GatewayError('BAD_REQUEST', `invalid key: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
    issues,
  });
}

/** The record with times as ISO strings. */
export function toKeyView(record: KeyRecord): KeyView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    ...record,
    createdAt: new Date(record.createdAt).toISOString(),
    expiresAt: iso(record.expiresAt),
    revokedAt: iso(record.revokedAt),
    lastUsedAt: iso(record.lastUsedAt),
  };
}

function recordOf(key: StoredKey): KeyRecord {
  const { hash: _hash, ...record } = key;
  return record;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();
/** Compared against when the id is unknown, so an unknown id costs what a wrong secret costs. */
const NO_HASH = Buffer.alloc(32);

const invalid = () => new GatewayError('UNAUTHORIZED', 'API key is not valid');

/** Options of {@link ApiKeys}. */
export interface ApiKeysOptions {
  /** How long a verified key's row is trusted without re-reading the store (default 5000 ms). */
  readonly cacheTtlMs?: number;
  /** How many keys' rows are cached at most (default 1000; least recently used dropped first). */
  readonly cacheSize?: number;
}

interface CacheEntry {
  key: StoredKey;
  principal: Principal;
  loadedAt: number;
}

/** Creates, lists, revokes and verifies API keys. `clock` gives epoch milliseconds. */
export class ApiKeys {
  readonly #repo: KeysRepo;
  readonly #clock: () => number;
  readonly #ttl: number;
  readonly #size: number;
  readonly #cache = new Map<string, CacheEntry>();

  constructor(repo: KeysRepo, clock: () => number = Date.now, options: ApiKeysOptions = {}) {
    this.#repo = repo;
    this.#clock = clock;
    this.#ttl = options.cacheTtlMs ?? 5000;
    this.#size = Math.max(1, options.cacheSize ?? 1000);
  }

  /** Creates a key; the returned `key` is the only time the secret exists outside the caller's hands. */
  create(input: CreateKeyInput): CreatedKey {
    const valid = parseCreateKeyInput(input);
    const now = this.#clock();
    // 48-bit ids: a clash is rare, and then another id is drawn.
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = randomBytes(6).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const stored: StoredKey = {
        id,
        hash: sha256(secret).toString('hex'),
        tenant: valid.tenant,
        agent: valid.agent,
        scopes: [...new Set(valid.scopes)],
        groups: [...new Set(valid.groups ?? [])],
        createdAt: now,
        expiresAt: valid.expiresInSec === undefined ? null : now + valid.expiresInSec * 1000,
        revokedAt: null,
        lastUsedAt: null,
        note: valid.note ?? null,
      };
      if (this.#repo.insert(stored)) return { id, key: `${API_KEY_PREFIX}${id}_${secret}`, record: recordOf(stored) };
    }
    throw new GatewayError('INTERNAL', 'could not draw an unused API key id');
  }

  /** Every key (or one tenant's), revoked ones included; never a hash or secret. */
  list(tenant?: string): KeyRecord[] {
    return this.#repo.list(tenant).map(recordOf);
  }

  /** Revokes a key (of `tenant` only, when given), at once for this instance; false when there is no such key. */
  revoke(id: string, tenant?: string): boolean {
    this.#cache.delete(id);
    return this.#repo.revoke(id, this.#clock(), tenant);
  }

  /**
   * The principal of a presented key. Throws UNAUTHORIZED: "API key is not valid" (malformed, unknown id or
   * wrong secret, alike), "API key was revoked", "API key expired". The key itself is never echoed.
   */
  verify(presented: string): Principal {
    if (typeof presented !== 'string' || presented.length > MAX_PRESENTED) throw invalid();
    const match = KEY_SHAPE.exec(presented);
    if (!match) throw invalid();
    const [, id = '', secret = ''] = match;
    const now = this.#clock();
    const entry = this.#lookup(id, now);
    const expected = entry ? Buffer.from(entry.key.hash, 'hex') : NO_HASH;
    const same = expected.length === 32 && timingSafeEqual(expected, sha256(secret));
    if (!entry || !same) throw invalid();
    const key = entry.key;
    // Revocation and expiry are told only to a holder of the secret.
    if (key.revokedAt !== null) throw new GatewayError('UNAUTHORIZED', 'API key was revoked');
    if (key.expiresAt !== null && now >= key.expiresAt) throw new GatewayError('UNAUTHORIZED', 'API key expired');
    if (key.lastUsedAt === null || now - key.lastUsedAt >= TOUCH_EVERY_MS) {
      entry.key = { ...key, lastUsedAt: now };
      try {
        this.#repo.touch(id, now);
      } catch {
        // The use time is informational: a busy or read-only store must not fail the caller's request.
      }
    }
    return entry.principal;
  }

  /** The row of `id` from the cache while fresh, else from the store (and cached). */
  #lookup(id: string, now: number): CacheEntry | undefined {
    const cached = this.#cache.get(id);
    if (cached) {
      this.#cache.delete(id);
      if (now - cached.loadedAt < this.#ttl && now >= cached.loadedAt) {
        this.#cache.set(id, cached); // most recently used last
        return cached;
      }
    }
    const key = this.#repo.get(id);
    if (!key) return undefined;
    const entry: CacheEntry = { key, principal: principalOf(key), loadedAt: now };
    this.#cache.set(id, entry);
    if (this.#cache.size > this.#size) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    return entry;
  }
}

function principalOf(key: StoredKey): Principal {
  return Object.freeze({
    tenant: key.tenant,
    agent: key.agent,
    groups: Object.freeze([...key.groups]),
    scopes: Object.freeze([...key.scopes]),
    source: 'apiKey' as const,
    subject: key.id,
  });
}
