/**
 * The compatibility matrix at run time: every tool schema each instance serves is fingerprinted
 * and versioned in SQLite (v1, v2, ... per server and tool, shared by its replicas), changes are
 * classified (none, additive, breaking) and logged, and calls are steered to instances whose
 * current schema is compatible with what the caller expects:
 *
 * - a pinned call (config pin, `_meta` pin, or call_capability's `version`) goes to an instance
 *   whose schema is that version or differs from it only additively; with none left it fails with
 *   an error naming the pin, the versions available and the breaking changes;
 * - an unpinned call expects the schema the catalog shows, so it goes to instances compatible
 *   with that one (during a rolling upgrade, agents get the version they were shown).
 */
import { fingerprint } from '../compat/canonical.js';
import { diffTool, type SchemaChange, type ToolSchemas } from '../compat/diff.js';
import { GatewayError } from '../core/errors.js';
import type { ServerPart, Tool } from '../core/protocol.js';
import type { SchemaVersion, SqliteCompatStore } from '../store/compat-repo.js';
import type { Logger } from '../telemetry/logger.js';

/** The store operations the tracker uses. */
export type CompatStore = Pick<
  SqliteCompatStore,
  'observe' | 'versions' | 'versionsOfTool' | 'all' | 'recordChange' | 'listChanges'
>;

interface Served {
  readonly fingerprint: string;
  readonly version: number;
  readonly schemas: ToolSchemas;
}

/** What a call needs from an instance's schema: a version's schemas, or the catalog's. */
export interface SchemaRequirement {
  readonly fingerprint: string;
  readonly schemas: ToolSchemas;
  /** For errors: "pin v1" or "the catalog's version". */
  readonly label: string;
  readonly version: number | undefined;
}

/** One cell of the matrix: a tool version against a backend. */
export interface MatrixCell {
  readonly instance: string;
  readonly current: number | undefined;
  readonly verdict: 'compatible' | 'additive' | 'breaking' | 'absent';
}

/** One row of the matrix. */
export interface MatrixRow {
  readonly server: string;
  readonly tool: string;
  readonly version: number;
  readonly fingerprint: string;
  readonly declaredVersion: string | null;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly backends: readonly MatrixCell[];
}

const schemasOf = (tool: Tool): ToolSchemas => ({
  inputSchema: tool.inputSchema,
  ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
});

/** Parses "v2", "V2" or "2" into 2; anything else is a declared version string. */
function versionNumber(pin: string): number | undefined {
  const match = /^[vV]?(\d+)$/.exec(pin.trim());
  return match ? Number(match[1]) : undefined;
}

/** Versions, changes and compatibility of every tool every instance serves. */
export class CompatTracker {
  readonly #store: CompatStore;
  readonly #log: Logger;
  /** instance -> tool name -> what it serves now. */
  readonly #served = new Map<string, Map<string, Served>>();
  /** instance -> server, for the matrix. */
  readonly #serverOf = new Map<string, string>();
  readonly #verdicts = new Map<string, SchemaChange[]>();
  /** Requirements are asked for on every call: cached (the catalog's by tool object, pins until the next observation). */
  readonly #catalogReqs = new WeakMap<Tool, SchemaRequirement>();
  readonly #pinReqs = new Map<string, SchemaRequirement>();

  constructor(store: CompatStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** Records the tools an instance serves (on connect and on list_changed); logs breaking changes. */
  observe(server: string, instance: string, part: ServerPart | undefined): void {
    if (!part || part.tools.length === 0) return; // down, or nothing to version
    this.#serverOf.set(instance, server);
    this.#pinReqs.clear();
    const served = new Map<string, Served>();
    for (const tool of part.tools) {
      const schemas = schemasOf(tool);
      const fp = fingerprint(schemas.inputSchema, schemas.outputSchema);
      const declared =
        typeof tool._meta?.['io.switchboard/version'] === 'string' ? tool._meta['io.switchboard/version'] : undefined;
      const seen = this.#store.observe(instance, key(server, tool.name), fp, schemas, declared);
      served.set(tool.name, { fingerprint: fp, version: seen.version, schemas });
      if (seen.previous) {
        const previous = seen.previous;
        const diff = diffTool(
          {
            inputSchema: previous.inputSchema,
            ...(previous.outputSchema !== null ? { outputSchema: previous.outputSchema } : {}),
          },
          schemas,
        );
        this.#store.recordChange({
          server: instance,
          tool: key(server, tool.name),
          fromVersion: previous.version,
          toVersion: seen.version,
          kind: diff.kind,
          changes: diff.changes,
        });
        const level = diff.kind === 'breaking' ? 'warn' : 'info';
        this.#log[level](
          {
            server,
            instance,
            tool: tool.name,
            from: `v${previous.version}`,
            to: `v${seen.version}`,
            kind: diff.kind,
            changes: diff.changes.map((c) => c.message),
          },
          `tool schema changed (${diff.kind})`,
        );
      }
    }
    this.#served.set(instance, served);
  }

  /** Seeds what each instance serves from the store's current versions (for reading the matrix offline). */
  seedFromStore(): void {
    for (const v of this.#store.all()) {
      if (!v.current) continue;
      const [server, tool] = splitKey(v.tool);
      this.#serverOf.set(v.server, server);
      const served = this.#served.get(v.server) ?? new Map<string, Served>();
      served.set(tool, { fingerprint: v.fingerprint, version: v.version, schemas: toSchemas(v) });
      this.#served.set(v.server, served);
    }
  }

  /** Forgets an instance (the server was removed). */
  forget(instance: string): void {
    this.#served.delete(instance);
  }

  /** The requirement of a pinned call: the stored schemas of that version of the server's tool. */
  pinned(server: string, tool: string, pin: string): SchemaRequirement {
    const cacheKey = `${server}\u0000${tool}\u0000${pin}`;
    const cached = this.#pinReqs.get(cacheKey);
    if (cached) return cached;
    const all = this.#store.versionsOfTool(key(server, tool));
    const number = versionNumber(pin);
    const match = all.find((v) => (number !== undefined ? v.version === number : v.declaredVersion === pin));
    if (!match) {
      const available = [
        ...new Set(all.map((v) => `v${v.version}${v.declaredVersion ? ` (${v.declaredVersion})` : ''}`)),
      ];
      throw new GatewayError(
        'INVALID_ARGUMENTS',
        `version "${pin}" of tool "${tool}" on server "${server}" was never seen; known versions: ${available.join(', ') || 'none yet'}`,
        { server, tool, pin, available },
      );
    }
    const requirement = {
      fingerprint: match.fingerprint,
      schemas: toSchemas(match),
      label: `pin ${pin}`,
      version: match.version,
    };
    this.#pinReqs.set(cacheKey, requirement);
    return requirement;
  }

  /** The requirement of an unpinned call: the schema the catalog shows. */
  catalogs(tool: Tool): SchemaRequirement {
    let requirement = this.#catalogReqs.get(tool);
    if (!requirement) {
      const schemas = schemasOf(tool);
      requirement = {
        fingerprint: fingerprint(schemas.inputSchema, schemas.outputSchema),
        schemas,
        label: "the catalog's version",
        version: undefined,
      };
      this.#catalogReqs.set(tool, requirement);
    }
    return requirement;
  }

  /** True when `instance` may serve a call of `tool` that needs `requirement` (unknown instances pass). */
  accepts(instance: string, tool: string, requirement: SchemaRequirement): boolean {
    const served = this.#served.get(instance)?.get(tool);
    if (!served) return true; // not versioned yet (e.g. just connecting): the pool's own checks decide
    return served.fingerprint === requirement.fingerprint || this.#breaking(requirement, served).length === 0;
  }

  /** The error when no instance satisfies `requirement`. */
  noneCompatible(
    server: string,
    tool: string,
    requirement: SchemaRequirement,
    instances: readonly string[],
  ): GatewayError {
    const details = instances.map((instance) => {
      const served = this.#served.get(instance)?.get(tool);
      if (!served) return `${instance}: not connected`;
      const breaking = this.#breaking(requirement, served);
      return `${instance} serves v${served.version} (${breaking.map((c) => c.message).join('; ')})`;
    });
    return new GatewayError(
      'UPSTREAM_UNAVAILABLE',
      `no backend of server "${server}" serves tool "${tool}" compatibly with ${requirement.label}${requirement.version !== undefined ? ` (v${requirement.version})` : ''}: ${details.join('; ')}; update the pin to an available version or wait for a compatible backend`,
      {
        server,
        tool,
        pin: requirement.label,
        available: [
          ...new Set(
            instances
              .map((i) => this.#served.get(i)?.get(tool)?.version)
              .filter((v) => v !== undefined)
              .map((v) => `v${v}`),
          ),
        ],
        sent: false,
      },
    );
  }

  /** The current version number each instance of `server` serves of `tool`. */
  currentVersions(server: string, tool: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [instance, served] of this.#served)
      if (this.#serverOf.get(instance) === server && served.get(tool)) out.set(instance, served.get(tool)!.version);
    return out;
  }

  /** Every tool version against every backend that serves (or served) that tool. */
  matrix(): MatrixRow[] {
    const rows: MatrixRow[] = [];
    const byTool = new Map<string, SchemaVersion[]>();
    for (const v of this.#store.all()) byTool.set(v.tool, [...(byTool.get(v.tool) ?? []), v]);
    for (const [toolKey, versions] of byTool) {
      const [server, tool] = splitKey(toolKey);
      const instances = [...new Set(versions.map((v) => v.server))].sort();
      const distinct = new Map<number, SchemaVersion>();
      for (const v of versions) if (!distinct.has(v.version)) distinct.set(v.version, v);
      for (const [version, v] of [...distinct].sort((a, b) => a[0] - b[0])) {
        const requirement: SchemaRequirement = {
          fingerprint: v.fingerprint,
          schemas: toSchemas(v),
          label: `v${version}`,
          version,
        };
        const backends = instances.map((instance): MatrixCell => {
          const served = this.#served.get(instance)?.get(tool);
          if (!served) return { instance, current: undefined, verdict: 'absent' };
          if (served.fingerprint === v.fingerprint) return { instance, current: served.version, verdict: 'compatible' };
          return {
            instance,
            current: served.version,
            verdict: this.#breaking(requirement, served).length ? 'breaking' : 'additive',
          };
        });
        rows.push({
          server,
          tool,
          version,
          fingerprint: v.fingerprint,
          declaredVersion: v.declaredVersion,
          firstSeen: v.firstSeen,
          lastSeen: v.lastSeen,
          backends,
        });
      }
    }
    return rows;
  }

  /** Recorded schema changes, newest first. */
  changes(limit = 100) {
    return this.#store.listChanges(limit).map((c) => ({ ...c, instance: c.server, ...toolOf(c.tool) }));
  }

  #breaking(requirement: SchemaRequirement, served: Served): SchemaChange[] {
    const cacheKey = `${requirement.fingerprint}>${served.fingerprint}`;
    let changes = this.#verdicts.get(cacheKey);
    if (!changes) {
      changes = diffTool(requirement.schemas, served.schemas).changes.filter((c) => c.kind === 'breaking');
      this.#verdicts.set(cacheKey, changes);
    }
    return changes;
  }
}

function key(server: string, tool: string): string {
  return `${server}/${tool}`;
}

function splitKey(k: string): [string, string] {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
}

function toolOf(k: string): { server: string; tool: string } {
  const [server, tool] = splitKey(k);
  return { server, tool };
}

function toSchemas(v: SchemaVersion): ToolSchemas {
  return {
    inputSchema: v.inputSchema,
    ...(v.outputSchema !== null && v.outputSchema !== undefined ? { outputSchema: v.outputSchema } : {}),
  };
}
