/**
 * The SQLite store: one better-sqlite3 database file in WAL mode, migrated forward at open.
 *
 * Only this folder imports better-sqlite3. Migrations are numbered and append-only; the database's
 * `user_version` records how far a file has been migrated, so an old file upgrades in place.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** An open database handle. */
export type Db = Database.Database;

/** Append-only schema history; index + 1 is the user_version after applying it. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE registered_servers (
     name TEXT PRIMARY KEY,
     entry TEXT NOT NULL,
     created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
   ) STRICT;`,
  `CREATE TABLE embeddings (
     model TEXT NOT NULL,
     text_hash TEXT NOT NULL,
     dim INTEGER NOT NULL,
     vector BLOB NOT NULL,
     PRIMARY KEY (model, text_hash)
   ) STRICT, WITHOUT ROWID;`,
  `CREATE TABLE learned_examples (
     id INTEGER PRIMARY KEY,
     tool TEXT NOT NULL,
     need TEXT NOT NULL,
     decision_id TEXT,
     created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
     UNIQUE (tool, need)
   ) STRICT;
   CREATE INDEX learned_examples_tool ON learned_examples (tool, created_at);`,
  `CREATE TABLE experiment_exposures (
     id INTEGER PRIMARY KEY,
     experiment TEXT NOT NULL,
     arm TEXT NOT NULL,
     unit TEXT NOT NULL,
     decision_id TEXT,
     at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
   ) STRICT;
   CREATE INDEX experiment_exposures_arm ON experiment_exposures (experiment, arm, unit);
   CREATE INDEX experiment_exposures_decision ON experiment_exposures (decision_id) WHERE decision_id IS NOT NULL;
   CREATE TABLE experiment_outcomes (
     id INTEGER PRIMARY KEY,
     experiment TEXT NOT NULL,
     arm TEXT NOT NULL,
     unit TEXT NOT NULL,
     tool TEXT,
     server TEXT,
     outcome TEXT NOT NULL CHECK (outcome IN ('success', 'is_error', 'transport_error', 'timeout', 'feedback_success', 'feedback_failure')),
     latency_ms REAL,
     decision_id TEXT,
     note TEXT,
     at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
   ) STRICT;
   CREATE INDEX experiment_outcomes_arm ON experiment_outcomes (experiment, arm, outcome);
   CREATE INDEX experiment_outcomes_decision ON experiment_outcomes (decision_id) WHERE decision_id IS NOT NULL;`,
  `CREATE TABLE schema_versions (
     id INTEGER PRIMARY KEY,
     server TEXT NOT NULL,
     tool TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     version INTEGER NOT NULL,
     declared_version TEXT,
     input_schema TEXT NOT NULL,
     output_schema TEXT,
     first_seen TEXT NOT NULL,
     last_seen TEXT NOT NULL,
     current INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1)),
     UNIQUE (server, tool, fingerprint)
   ) STRICT;
   CREATE INDEX schema_versions_tool ON schema_versions (tool, fingerprint);
   CREATE UNIQUE INDEX schema_versions_current ON schema_versions (server, tool) WHERE current = 1;
   CREATE TABLE schema_changes (
     id INTEGER PRIMARY KEY,
     server TEXT NOT NULL,
     tool TEXT NOT NULL,
     from_version INTEGER,
     to_version INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('none', 'additive', 'breaking')),
     changes TEXT NOT NULL,
     at TEXT NOT NULL
   ) STRICT;
   CREATE INDEX schema_changes_at ON schema_changes (at);`,
  `CREATE TABLE experiment_state (
     experiment TEXT NOT NULL,
     arm TEXT NOT NULL DEFAULT '',
     state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'arm_stopped')),
     reason TEXT,
     at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
     PRIMARY KEY (experiment, arm)
   ) STRICT;`,
  `CREATE TABLE upstream_eras (
     key TEXT PRIMARY KEY,
     verdict TEXT NOT NULL,
     stored_at INTEGER NOT NULL
   ) STRICT;`,
  // API keys (auth/api-keys.ts): only the sha256 of the secret is kept; times are epoch milliseconds.
  `CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL,
     tenant TEXT NOT NULL,
     agent TEXT NOT NULL,
     scopes TEXT NOT NULL,
     groups TEXT NOT NULL DEFAULT '[]',
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     revoked_at INTEGER,
     last_used_at INTEGER,
     note TEXT
   ) STRICT;
   CREATE INDEX api_keys_tenant ON api_keys (tenant);`,
];

/** Opens (creating folders as needed) and migrates the database at `path` (":memory:" for tests). */
export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] ?? '');
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
