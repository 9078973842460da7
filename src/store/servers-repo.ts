/**
 * Persistence of servers registered at run time through the admin API, so they come back after a
 * restart. Entries are stored as the JSON the operator posted (before `${VAR}` expansion is not
 * kept: what is stored is what was validated).
 */
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

/** SQLite implementation of {@link ServerRegistry}. */
export class SqliteServerRegistry implements ServerRegistry {
  readonly #list;
  readonly #save;
  readonly #remove;

  constructor(db: Db) {
    this.#list = db.prepare<[], { name: string; entry: string; created_at: string }>(
      'SELECT name, entry, created_at FROM registered_servers ORDER BY created_at, name',
    );
    this.#save = db.prepare<[string, string]>(
      'INSERT INTO registered_servers (name, entry) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET entry = excluded.entry',
    );
    this.#remove = db.prepare<[string]>('DELETE FROM registered_servers WHERE name = ?');
  }

  list(): StoredServer[] {
    return this.#list
      .all()
      .map((row) => ({ name: row.name, entry: JSON.parse(row.entry) as unknown, createdAt: row.created_at }));
  }

  save(name: string, entry: unknown): void {
    this.#save.run(name, JSON.stringify(entry));
  }

  remove(name: string): boolean {
    return this.#remove.run(name).changes > 0;
  }
}
