/**
 * The schema version history: every distinct schema (by fingerprint, see compat/canonical.ts) each
 * server has served for each tool, numbered v1, v2, ... so that clients can pin a version, plus a
 * log of the changes between versions.
 *
 * Version numbers belong to the tool name, across servers: a fingerprint gets its number the first
 * time any server serves it under that name, and every server serving the same schema under the same
 * name shares the number. So `search@v2` means one contract whichever replica or experiment arm
 * answers, which is what a pin needs; a server's own list may skip numbers. The caller chooses the
 * scope through the name it passes: the upstream's own tool name shares numbers across servers, a
 * namespaced name (`server__tool`) numbers per server.
 *
 * Each (server, tool) also has one `current` row, the schema it served when last observed, so a
 * change (including a rollback to an older version) is noticed on the observation that makes it.
 *
 * A store is bound to one tenant: versions are numbered, marked current and logged per tenant, and
 * no read sees another tenant's rows (two tenants' servers of one name are different servers).
 */
import { DEFAULT_TENANT } from '../core/principal.js';
import type { Db } from './db.js';

/** The schemas of a tool as listed by the server. */
export interface ToolSchemaSet {
  readonly inputSchema: unknown;
  readonly outputSchema?: unknown;
}

/** One schema a server served for a tool. */
export interface SchemaVersion {
  readonly server: string;
  readonly tool: string;
  readonly fingerprint: string;
  readonly version: number;
  /** A version string the server declared itself, if any (informational). */
  readonly declaredVersion: string | null;
  readonly inputSchema: unknown;
  readonly outputSchema: unknown;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** True for the schema this server served when last observed. */
  readonly current: boolean;
}

/** What {@link SqliteCompatStore.observe} found. */
export interface Observation {
  readonly version: number;
  /** True when this server had never served this fingerprint for this tool. */
  readonly isNew: boolean;
  /** The schema this server served before, when it differs from the observed one (diff and record it). */
  readonly previous: SchemaVersion | undefined;
}

/** One difference, as computed by compat/diff.ts (kept structural: store/ does not import compat/). */
export interface StoredChange {
  readonly path: string;
  readonly kind: string;
  readonly message: string;
  readonly role?: string;
}

/** A logged schema change of one server's tool. */
export interface SchemaChangeRecord {
  readonly server: string;
  readonly tool: string;
  readonly fromVersion: number | null;
  readonly toVersion: number;
  readonly kind: 'none' | 'additive' | 'breaking';
  readonly changes: readonly StoredChange[];
  readonly at: string;
}

interface VersionRow {
  server: string;
  tool: string;
  fingerprint: string;
  version: number;
  declared_version: string | null;
  input_schema: string;
  output_schema: string | null;
  first_seen: string;
  last_seen: string;
  current: number;
}

const COLUMNS =
  'server, tool, fingerprint, version, declared_version, input_schema, output_schema, first_seen, last_seen, current';

function toVersion(row: VersionRow): SchemaVersion {
  return {
    server: row.server,
    tool: row.tool,
    fingerprint: row.fingerprint,
    version: row.version,
    declaredVersion: row.declared_version,
    inputSchema: JSON.parse(row.input_schema) as unknown,
    outputSchema: row.output_schema === null ? undefined : (JSON.parse(row.output_schema) as unknown),
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    current: row.current === 1,
  };
}

/** SQLite store of schema versions and schema changes, for one tenant. */
export class SqliteCompatStore {
  /** The tenant whose versions and changes this instance reads and writes. */
  readonly tenant: string;
  readonly #db: Db;
  readonly #now: () => Date;
  readonly #find;
  readonly #current;
  readonly #numberOf;
  readonly #nextNumber;
  readonly #insert;
  readonly #touch;
  readonly #clearCurrent;
  readonly #versions;
  readonly #ofTool;
  readonly #all;
  readonly #insertChange;
  readonly #changes;

  /**
   * `now` is the clock for first/last-seen and change times (injectable for tests); `tenant` (default
   * `default`) is the tenant this instance is bound to.
   */
  constructor(db: Db, now: () => Date = () => new Date(), tenant: string = DEFAULT_TENANT) {
    this.#db = db;
    this.#now = now;
    this.tenant = tenant;
    this.#find = db.prepare<[string, string, string, string], VersionRow>(
      `SELECT ${COLUMNS} FROM schema_versions WHERE tenant = ? AND server = ? AND tool = ? AND fingerprint = ?`,
    );
    this.#current = db.prepare<[string, string, string], VersionRow>(
      `SELECT ${COLUMNS} FROM schema_versions WHERE tenant = ? AND server = ? AND tool = ? AND current = 1`,
    );
    this.#numberOf = db.prepare<[string, string, string], { version: number }>(
      'SELECT version FROM schema_versions WHERE tenant = ? AND tool = ? AND fingerprint = ? LIMIT 1',
    );
    this.#nextNumber = db.prepare<[string, string], { next: number }>(
      'SELECT COALESCE(MAX(version), 0) + 1 AS next FROM schema_versions WHERE tenant = ? AND tool = ?',
    );
    this.#insert = db.prepare<
      [string, string, string, string, number, string | null, string, string | null, string, string]
    >(
      `INSERT INTO schema_versions (tenant, server, tool, fingerprint, version, declared_version, input_schema, output_schema, first_seen, last_seen, current)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
    );
    this.#touch = db.prepare<[string, string | null, string, string, string, string]>(
      'UPDATE schema_versions SET last_seen = ?, declared_version = COALESCE(?, declared_version), current = 1 WHERE tenant = ? AND server = ? AND tool = ? AND fingerprint = ?',
    );
    this.#clearCurrent = db.prepare<[string, string, string]>(
      'UPDATE schema_versions SET current = 0 WHERE tenant = ? AND server = ? AND tool = ? AND current = 1',
    );
    this.#versions = db.prepare<[string, string, string], VersionRow>(
      `SELECT ${COLUMNS} FROM schema_versions WHERE tenant = ? AND server = ? AND tool = ? ORDER BY version`,
    );
    this.#ofTool = db.prepare<[string, string], VersionRow>(
      `SELECT ${COLUMNS} FROM schema_versions WHERE tenant = ? AND tool = ? ORDER BY version, server`,
    );
    this.#all = db.prepare<[string], VersionRow>(
      `SELECT ${COLUMNS} FROM schema_versions WHERE tenant = ? ORDER BY tool, version, server`,
    );
    this.#insertChange = db.prepare<[string, string, string, number | null, number, string, string, string]>(
      'INSERT INTO schema_changes (tenant, server, tool, from_version, to_version, kind, changes, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#changes = db.prepare<
      [string, number],
      {
        server: string;
        tool: string;
        from_version: number | null;
        to_version: number;
        kind: SchemaChangeRecord['kind'];
        changes: string;
        at: string;
      }
    >(
      'SELECT server, tool, from_version, to_version, kind, changes, at FROM schema_changes WHERE tenant = ? ORDER BY id DESC LIMIT ?',
    );
  }

  /**
   * Notes that `server` serves `tool` with the schema `fingerprint`: bumps last_seen of a known
   * schema, or stores a new one under the tool's number for that fingerprint (a new number when no
   * server has served it). Marks it current for (server, tool).
   */
  observe(
    server: string,
    tool: string,
    fingerprint: string,
    schemas: ToolSchemaSet,
    declaredVersion?: string,
  ): Observation {
    return this.#db
      .transaction(() => {
        const now = this.#now().toISOString();
        const tenant = this.tenant;
        const current = this.#current.get(tenant, server, tool);
        const previous = current && current.fingerprint !== fingerprint ? toVersion(current) : undefined;
        if (previous) this.#clearCurrent.run(tenant, server, tool);
        const known = this.#find.get(tenant, server, tool, fingerprint);
        if (known) {
          this.#touch.run(now, declaredVersion ?? null, tenant, server, tool, fingerprint);
          return { version: known.version, isNew: false, previous };
        }
        const version =
          this.#numberOf.get(tenant, tool, fingerprint)?.version ?? this.#nextNumber.get(tenant, tool)!.next;
        const output = schemas.outputSchema === undefined ? null : JSON.stringify(schemas.outputSchema);
        this.#insert.run(
          tenant,
          server,
          tool,
          fingerprint,
          version,
          declaredVersion ?? null,
          JSON.stringify(schemas.inputSchema ?? {}),
          output,
          now,
          now,
        );
        return { version, isNew: true, previous };
      })
      .immediate();
  }

  /** The schemas `server` has served for `tool`, by version. */
  versions(server: string, tool: string): SchemaVersion[] {
    return this.#versions.all(this.tenant, server, tool).map(toVersion);
  }

  /** Every server's schemas for `tool`, by version then server: one column of the compatibility matrix. */
  versionsOfTool(tool: string): SchemaVersion[] {
    return this.#ofTool.all(this.tenant, tool).map(toVersion);
  }

  /** Every stored schema version, by tool, version and server. */
  all(): SchemaVersion[] {
    return this.#all.all(this.tenant).map(toVersion);
  }

  /** Logs a change between two versions of a server's tool. */
  recordChange(change: Omit<SchemaChangeRecord, 'at'>): void {
    this.#insertChange.run(
      this.tenant,
      change.server,
      change.tool,
      change.fromVersion,
      change.toVersion,
      change.kind,
      JSON.stringify(change.changes),
      this.#now().toISOString(),
    );
  }

  /** The latest `limit` changes, newest first. */
  listChanges(limit = 100): SchemaChangeRecord[] {
    return this.#changes.all(this.tenant, limit).map((r) => ({
      server: r.server,
      tool: r.tool,
      fromVersion: r.from_version,
      toVersion: r.to_version,
      kind: r.kind,
      changes: JSON.parse(r.changes) as StoredChange[],
      at: r.at,
    }));
  }
}
