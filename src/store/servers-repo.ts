/**
 * Persistence of servers registered at run time through the admin API, so they come back after a
 * restart. Entries are stored as the JSON the operator posted (before `${VAR}` expansion is not
 * kept: what is stored is what was validated). A registry is bound to one tenant: it lists, saves and
 * removes only that tenant's registrations, so two tenants may each register a server of one name.
 */
import { DEFAULT_TENANT } from '../core/principal.js';
import type { Db } from './db.js';

/** A stored registration. */
export interface StoredServer {
  readonly name: string;
  readonly entry: unknown;
  readonly createdAt: string;
}

/** The port the gateway uses to persist runtime registrations. */
export interface ServerRegistry {
  list(): StoredServer[];
  save(name: string, entry: unknown): void;
  remove(name: string): boolean;
}

/** SQLite implementation of {@link ServerRegistry}, for one tenant. */
export class SqliteServerRegistry implements ServerRegistry {
  /** The tenant whose registrations this instance reads and writes. */
  readonly tenant: string;
  readonly #list;
  readonly #save;
  readonly #remove;

  constructor(db: Db, tenant: string = DEFAULT_TENANT) {
    this.tenant = tenant;
    this.#list = db.prepare<[string], { name: string; entry: string; created_at: string }>(
      'SELECT name, entry, created_at FROM registered_servers WHERE tenant = ? ORDER BY created_at, name',
    );
    this.#save = db.prepare<[string, string, string]>(
      'INSERT INTO registered_servers (tenant, name, entry) VALUES (?, ?, ?) ON CONFLICT(tenant, name) DO UPDATE SET entry = excluded.entry',
    );
    this.#remove = db.prepare<[string, string]>('DELETE FROM registered_servers WHERE tenant = ? AND name = ?');
  }

  list(): StoredServer[] {
    return this.#list
      .all(this.tenant)
      .map((row) => ({ name: row.name, entry: JSON.parse(row.entry) as unknown, createdAt: row.created_at }));
  }

  save(name: string, entry: unknown): void {
    this.#save.run(this.tenant, name, JSON.stringify(entry));
  }

  remove(name: string): boolean {
    return this.#remove.run(this.tenant, name).changes > 0;
  }
}
