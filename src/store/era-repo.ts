/**
 * SQLite implementation of the era memo (see core/era-memo.ts): one row per upstream key with the
 * SDK's verdict as JSON and the time it was stored. A memo is bound to one tenant (a tenant's server
 * of some name may be a different process from another's), so keys are per tenant.
 */
import type { EraEntry, EraMemo } from '../core/era-memo.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import type { Db } from './db.js';

/** Upstream protocol-era verdicts kept in SQLite, for one tenant. */
export class SqliteEraMemo implements EraMemo {
  /** The tenant whose verdicts this instance reads and writes. */
  readonly tenant: string;
  readonly #get;
  readonly #set;
  readonly #delete;

  constructor(db: Db, tenant: string = DEFAULT_TENANT) {
    this.tenant = tenant;
    this.#get = db.prepare<[string, string], { verdict: string; stored_at: number }>(
      'SELECT verdict, stored_at FROM upstream_eras WHERE tenant = ? AND key = ?',
    );
    this.#set = db.prepare<[string, string, string, number]>(
      'INSERT INTO upstream_eras (tenant, key, verdict, stored_at) VALUES (?, ?, ?, ?) ON CONFLICT(tenant, key) DO UPDATE SET verdict = excluded.verdict, stored_at = excluded.stored_at',
    );
    this.#delete = db.prepare<[string, string]>('DELETE FROM upstream_eras WHERE tenant = ? AND key = ?');
  }

  get(key: string): EraEntry | undefined {
    const row = this.#get.get(this.tenant, key);
    if (!row) return undefined;
    try {
      return { verdict: JSON.parse(row.verdict) as unknown, storedAt: row.stored_at };
    } catch {
      return undefined;
    }
  }

  set(key: string, verdict: unknown): void {
    this.#set.run(this.tenant, key, JSON.stringify(verdict), Date.now());
  }

  delete(key: string): void {
    this.#delete.run(this.tenant, key);
  }
}
