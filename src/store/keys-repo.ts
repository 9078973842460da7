/**
 * SQLite rows of API keys (table `api_keys`, see db.ts). Only the sha256 of a key's secret is kept,
 * never the secret; revoking sets `revoked_at` instead of deleting the row, so `keys list` still shows
 * who had a key and when it stopped working.
 *
 * The row shape is core/api-key.ts `StoredKey`, the one auth/api-keys.ts's port `KeysRepo` speaks
 * (store and auth share a rank and may not import each other); the composition root hands a
 * {@link SqliteKeysRepo} to `ApiKeys`.
 */
import type { StoredKey } from '../core/api-key.js';
import type { Db } from './db.js';

/** One stored key (the shape core/api-key.ts defines for store and service alike). */
export type StoredKeyRow = StoredKey;

interface Row {
  id: string;
  hash: string;
  tenant: string;
  agent: string;
  scopes: string;
  groups: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  note: string | null;
}

const COLUMNS = 'id, hash, tenant, agent, scopes, groups, created_at, expires_at, revoked_at, last_used_at, note';

/** A JSON array of strings from a column; anything else reads as empty (a hand-edited row never widens a key). */
function strings(json: string): string[] {
  try {
    const value = JSON.parse(json) as unknown;
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

function fromRow(row: Row): StoredKeyRow {
  return {
    id: row.id,
    hash: row.hash,
    tenant: row.tenant,
    agent: row.agent,
    scopes: strings(row.scopes),
    groups: strings(row.groups),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    note: row.note,
  };
}

/** API keys in SQLite. */
export class SqliteKeysRepo {
  readonly #insert;
  readonly #get;
  readonly #listAll;
  readonly #listTenant;
  readonly #revoke;
  readonly #revokeInTenant;
  readonly #touch;

  constructor(db: Db) {
    this.#insert = db.prepare<[string, string, string, string, string, string, number, number | null, string | null]>(
      'INSERT OR IGNORE INTO api_keys (id, hash, tenant, agent, scopes, groups, created_at, expires_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`);
    this.#listAll = db.prepare<[], Row>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`);
    this.#listTenant = db.prepare<[string], Row>(
      `SELECT ${COLUMNS} FROM api_keys WHERE tenant = ? ORDER BY created_at, id`,
    );
    // The first revocation time is kept: revoking twice does not move it.
    this.#revoke = db.prepare<[number, string]>(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?',
    );
    this.#revokeInTenant = db.prepare<[number, string, string]>(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND tenant = ?',
    );
    this.#touch = db.prepare<[number, string]>('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
  }

  /** Stores a new key; false when the id is taken (the caller draws another). */
  insert(row: StoredKeyRow): boolean {
    return (
      this.#insert.run(
        row.id,
        row.hash,
        row.tenant,
        row.agent,
        JSON.stringify(row.scopes),
        JSON.stringify(row.groups),
        row.createdAt,
        row.expiresAt,
        row.note,
      ).changes > 0
    );
  }

  /** The key with this id, revoked or not. */
  get(id: string): StoredKeyRow | undefined {
    const row = this.#get.get(id);
    return row ? fromRow(row) : undefined;
  }

  /** Every key, or one tenant's, oldest first. */
  list(tenant?: string): StoredKeyRow[] {
    return (tenant === undefined ? this.#listAll.all() : this.#listTenant.all(tenant)).map(fromRow);
  }

  /** Marks a key revoked at `at` (of `tenant` only, when given); false when there is no such key. */
  revoke(id: string, at: number, tenant?: string): boolean {
    const result = tenant === undefined ? this.#revoke.run(at, id) : this.#revokeInTenant.run(at, id, tenant);
    return result.changes > 0;
  }

  /** Records that the key was used at `at`. */
  touch(id: string, at: number): void {
    this.#touch.run(at, id);
  }
}
