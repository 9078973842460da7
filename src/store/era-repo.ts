/**
 * SQLite implementation of the era memo (see core/era-memo.ts): one row per upstream key with the
 * SDK's verdict as JSON and the time it was stored.
 */
import type { EraEntry, EraMemo } from '../core/era-memo.js';
import type { Db } from './db.js';

/** Upstream protocol-era verdicts kept in SQLite. */
export class SqliteEraMemo implements EraMemo {
  readonly #get;
  readonly #set;
  readonly #delete;

  constructor(db: Db) {
    this.#get = db.prepare<[string], { verdict: string; stored_at: number }>(
      'SELECT verdict, stored_at FROM upstream_eras WHERE key = ?',
    );
    this.#set = db.prepare<[string, string, number]>(
      'INSERT INTO upstream_eras (key, verdict, stored_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET verdict = excluded.verdict, stored_at = excluded.stored_at',
    );
    this.#delete = db.prepare<[string]>('DELETE FROM upstream_eras WHERE key = ?');
  }

  get(key: string): EraEntry | undefined {
    const row = this.#get.get(key);
    if (!row) return undefined;
    try {
      return { verdict: JSON.parse(row.verdict) as unknown, storedAt: row.stored_at };
    } catch {
      return undefined;
    }
  }

  set(key: string, verdict: unknown): void {
    this.#set.run(key, JSON.stringify(verdict), Date.now());
  }

  delete(key: string): void {
    this.#delete.run(key);
  }
}
