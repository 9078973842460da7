/**
 * The SQLite store: one better-sqlite3 database file in WAL mode, migrated forward at open.
 *
 * Only this folder imports better-sqlite3. Migrations are numbered and append-only; the database's
 * `user_version` records how far a file has been migrated, so an old file upgrades in place.
 *
 * Every table has a `tenant` column and every key includes it: a repository is bound to one tenant
 * at construction and reads and writes only that tenant's rows (api_keys excepted: a key is looked
 * up by id and names its tenant).
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
  // Tenants (issue 11): every table gets a tenant column and keys widen to include it; existing rows
  // become tenant 'default'. SQLite cannot change a primary key or a table constraint in place, so
  // those tables are rebuilt (new table, copy, drop, rename; ids kept); the others gain a column and
  // re-made indexes that lead with the tenant, since every query filters by it.
  `CREATE TABLE registered_servers_next (
     tenant TEXT NOT NULL DEFAULT 'default',
     name TEXT NOT NULL,
     entry TEXT NOT NULL,
     created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
     PRIMARY KEY (tenant, name)
   ) STRICT;
   INSERT INTO registered_servers_next (tenant, name, entry, created_at)
     SELECT 'default', name, entry, created_at FROM registered_servers;
   DROP TABLE registered_servers;
   ALTER TABLE registered_servers_next RENAME TO registered_servers;

   CREATE TABLE embeddings_next (
     tenant TEXT NOT NULL DEFAULT 'default',
     model TEXT NOT NULL,
     text_hash TEXT NOT NULL,
     dim INTEGER NOT NULL,
     vector BLOB NOT NULL,
     PRIMARY KEY (tenant, model, text_hash)
   ) STRICT, WITHOUT ROWID;
   INSERT INTO embeddings_next (tenant, model, text_hash, dim, vector)
     SELECT 'default', model, text_hash, dim, vector FROM embeddings;
   DROP TABLE embeddings;
   ALTER TABLE embeddings_next RENAME TO embeddings;

   CREATE TABLE learned_examples_next (
     id INTEGER PRIMARY KEY,
     tenant TEXT NOT NULL DEFAULT 'default',
     tool TEXT NOT NULL,
     need TEXT NOT NULL,
     decision_id TEXT,
     created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
     UNIQUE (tenant, tool, need)
   ) STRICT;
   INSERT INTO learned_examples_next (id, tenant, tool, need, decision_id, created_at)
     SELECT id, 'default', tool, need, decision_id, created_at FROM learned_examples;
   DROP TABLE learned_examples;
   ALTER TABLE learned_examples_next RENAME TO learned_examples;
   CREATE INDEX learned_examples_tool ON learned_examples (tenant, tool, created_at);

   ALTER TABLE experiment_exposures ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
   DROP INDEX experiment_exposures_arm;
   DROP INDEX experiment_exposures_decision;
   CREATE INDEX experiment_exposures_arm ON experiment_exposures (tenant, experiment, arm, unit);
   -- experiment is in the key so feedback's lookup (by decision, grouped by experiment) searches this index
   -- instead of scanning the tenant's rows in experiment_exposures_arm.
   CREATE INDEX experiment_exposures_decision ON experiment_exposures (tenant, decision_id, experiment) WHERE decision_id IS NOT NULL;
   ALTER TABLE experiment_outcomes ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
   DROP INDEX experiment_outcomes_arm;
   DROP INDEX experiment_outcomes_decision;
   CREATE INDEX experiment_outcomes_arm ON experiment_outcomes (tenant, experiment, arm, outcome);
   CREATE INDEX experiment_outcomes_decision ON experiment_outcomes (tenant, decision_id) WHERE decision_id IS NOT NULL;

   CREATE TABLE schema_versions_next (
     id INTEGER PRIMARY KEY,
     tenant TEXT NOT NULL DEFAULT 'default',
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
     UNIQUE (tenant, server, tool, fingerprint)
   ) STRICT;
   INSERT INTO schema_versions_next (id, tenant, server, tool, fingerprint, version, declared_version, input_schema, output_schema, first_seen, last_seen, current)
     SELECT id, 'default', server, tool, fingerprint, version, declared_version, input_schema, output_schema, first_seen, last_seen, current FROM schema_versions;
   DROP TABLE schema_versions;
   ALTER TABLE schema_versions_next RENAME TO schema_versions;
   CREATE INDEX schema_versions_tool ON schema_versions (tenant, tool, fingerprint);
   CREATE UNIQUE INDEX schema_versions_current ON schema_versions (tenant, server, tool) WHERE current = 1;
   ALTER TABLE schema_changes ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
   DROP INDEX schema_changes_at;
   CREATE INDEX schema_changes_at ON schema_changes (tenant, at);

   CREATE TABLE experiment_state_next (
     tenant TEXT NOT NULL DEFAULT 'default',
     experiment TEXT NOT NULL,
     arm TEXT NOT NULL DEFAULT '',
     state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'arm_stopped')),
     reason TEXT,
     at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
     PRIMARY KEY (tenant, experiment, arm)
   ) STRICT;
   INSERT INTO experiment_state_next (tenant, experiment, arm, state, reason, at)
     SELECT 'default', experiment, arm, state, reason, at FROM experiment_state;
   DROP TABLE experiment_state;
   ALTER TABLE experiment_state_next RENAME TO experiment_state;

   CREATE TABLE upstream_eras_next (
     tenant TEXT NOT NULL DEFAULT 'default',
     key TEXT NOT NULL,
     verdict TEXT NOT NULL,
     stored_at INTEGER NOT NULL,
     PRIMARY KEY (tenant, key)
   ) STRICT;
   INSERT INTO upstream_eras_next (tenant, key, verdict, stored_at)
     SELECT 'default', key, verdict, stored_at FROM upstream_eras;
   DROP TABLE upstream_eras;
   ALTER TABLE upstream_eras_next RENAME TO upstream_eras;`,
  // Audit trail (store/audit-repo.ts): one hash chain over every tenant's events (seq is global);
  // audit_anchor keeps the hash of the last row retention removed; usage_hourly is metered from the
  // same batches (read by usage/). Times are epoch milliseconds; '' stands for no tool or server.
  `CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY,
     tenant TEXT NOT NULL,
     time INTEGER NOT NULL,
     agent TEXT NOT NULL,
     user TEXT,
     session TEXT,
     subject TEXT,
     trace_id TEXT,
     method TEXT NOT NULL,
     tool TEXT,
     server TEXT,
     instance TEXT,
     decision TEXT NOT NULL,
     policies TEXT,
     outcome TEXT NOT NULL,
     error_code TEXT,
     latency_ms REAL NOT NULL,
     bytes_in INTEGER NOT NULL,
     bytes_out INTEGER NOT NULL,
     args_hash TEXT,
     args TEXT,
     detail TEXT,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   ) STRICT;
   CREATE INDEX audit_events_time ON audit_events (tenant, time);
   CREATE INDEX audit_events_agent ON audit_events (tenant, agent, time);
   CREATE INDEX audit_events_tool ON audit_events (tenant, tool, time);
   CREATE INDEX audit_events_at ON audit_events (time);
   CREATE TABLE audit_anchor (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     seq INTEGER NOT NULL,
     hash TEXT NOT NULL
   ) STRICT;
   CREATE TABLE usage_hourly (
     tenant TEXT NOT NULL,
     hour INTEGER NOT NULL,
     agent TEXT NOT NULL,
     tool TEXT NOT NULL,
     server TEXT NOT NULL,
     method TEXT NOT NULL,
     calls INTEGER NOT NULL,
     errors INTEGER NOT NULL,
     duration_ms REAL NOT NULL,
     bytes_in INTEGER NOT NULL,
     bytes_out INTEGER NOT NULL,
     PRIMARY KEY (tenant, hour, agent, tool, server, method)
   ) STRICT, WITHOUT ROWID;`,
  // Durable tasks (issue 14; store/tasks-repo.ts, core/tasks.ts): one row per task, id unique per
  // tenant; times are epoch milliseconds; JSON columns are checked by json_valid. Lists are newest
  // first by (created_at, id): tasks_owner serves an agent's own list, tasks_created and tasks_status
  // the admin's (scanned backwards), tasks_status also recovery's unfinished tasks and the counts;
  // tasks_expiry the purge; tasks_upstream maps an upstream task to at most one gateway task.
  `CREATE TABLE tasks (
     tenant TEXT NOT NULL,
     id TEXT NOT NULL,
     owner TEXT NOT NULL,
     principal TEXT NOT NULL CHECK (json_valid(principal)),
     session TEXT,
     origin TEXT NOT NULL CHECK (origin IN ('2025-11-25', '2026-07-28', 'handle')),
     method TEXT NOT NULL,
     tool TEXT NOT NULL,
     server TEXT,
     request TEXT CHECK (request IS NULL OR json_valid(request)),
     args_hash TEXT NOT NULL,
     rerun_safe INTEGER NOT NULL CHECK (rerun_safe IN (0, 1)),
     mode TEXT NOT NULL CHECK (mode IN ('gateway', 'upstream')),
     upstream_instance TEXT,
     upstream_task_id TEXT,
     upstream_era TEXT CHECK (upstream_era IS NULL OR upstream_era IN ('2025-11-25', '2026-07-28')),
     status TEXT NOT NULL CHECK (status IN ('working', 'input_required', 'completed', 'failed', 'cancelled')),
     status_message TEXT,
     progress REAL,
     progress_total REAL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     deadline_at INTEGER NOT NULL,
     ttl_ms INTEGER NOT NULL CHECK (ttl_ms >= 0),
     expires_at INTEGER NOT NULL,
     poll_interval_ms INTEGER NOT NULL CHECK (poll_interval_ms >= 0),
     result TEXT CHECK (result IS NULL OR json_valid(result)),
     error TEXT CHECK (error IS NULL OR json_valid(error)),
     runs INTEGER NOT NULL DEFAULT 1 CHECK (runs >= 1),
     version INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
     PRIMARY KEY (tenant, id)
   ) STRICT;
   CREATE INDEX tasks_owner ON tasks (tenant, owner, created_at, id);
   CREATE INDEX tasks_created ON tasks (tenant, created_at, id);
   CREATE INDEX tasks_status ON tasks (tenant, status, created_at, id);
   CREATE INDEX tasks_expiry ON tasks (tenant, expires_at, id);
   CREATE UNIQUE INDEX tasks_upstream ON tasks (tenant, server, upstream_instance, upstream_task_id)
     WHERE upstream_task_id IS NOT NULL;`,
];

/** The user_version of a fully migrated file. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating folders as needed) and migrates the database at `path` (":memory:" for tests).
 * `version` stops the migration at that user_version instead of the latest: upgrade tests use it to
 * make a file as an earlier release left it.
 */
export function openDb(path: string, options: { version?: number } = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrate(db, Math.min(options.version ?? SCHEMA_VERSION, SCHEMA_VERSION));
  return db;
}

function migrate(db: Db, target: number): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < target; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] ?? '');
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
