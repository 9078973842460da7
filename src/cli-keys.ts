/**
 * `switchboard keys create|list|revoke`: API keys for service agents, managed in the store the config
 * names (the same file `serve` opens, so a hub that is running sees a new key at once and a revoke within
 * its key cache's few seconds).
 *
 *   switchboard keys create --config F --tenant T --agent A --scope S [--scope S2] [--group G]
 *                           [--expires 30d] [--note N]
 *   switchboard keys list --config F [--tenant T] [--json]
 *   switchboard keys revoke --config F <id>
 *
 * Exit codes: 0 ok, 1 no such key, 2 usage or config error. `create` prints the key alone on stdout's
 * first line (so `$(switchboard keys create ...)` captures it) and the "shown once" notice on stderr.
 */
import { ApiKeys, toKeyView, type KeyRecord } from './auth/api-keys.js';
import { defaultIo, exitCodeFor, loadCliConfig, parseFlags, printUsage, UsageError, type CliIo } from './cli-common.js';
import type { Config } from './config/load.js';
import { adminChange } from './core/audit-event.js';
import { DEFAULT_TENANT } from './core/principal.js';
import { openDb, type Db } from './store/db.js';
import { SqliteAuditRepo } from './store/audit-repo.js';
import { SqliteKeysRepo } from './store/keys-repo.js';

const USAGE = `usage:
  switchboard keys create --config FILE --tenant T --agent A --scope S [--scope S2 ...] [--group G ...]
                          [--expires 30d|12h|90m|3600s] [--note TEXT]
  switchboard keys list --config FILE [--tenant T] [--json]
  switchboard keys revoke --config FILE <id>`;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `30d`, `12h`, `90m`, `3600s`, `2w` or plain seconds, as seconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,10})([smhdw]?)$/.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * (UNITS[match[2] || 's'] ?? 1);
  return seconds > 0 ? seconds : undefined;
}

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The keys as an aligned text table. */
function table(records: readonly KeyRecord[]): string {
  const header = ['id', 'tenant', 'agent', 'scopes', 'created', 'expires', 'revoked', 'last used'];
  const rows = records.map((r) => [
    r.id,
    r.tenant,
    r.agent,
    r.scopes.join(','),
    when(r.createdAt),
    when(r.expiresAt),
    when(r.revokedAt),
    when(r.lastUsedAt),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Runs `keys <action> ...` (argv after `keys`); returns the exit code. */
export function runKeysCommand(argv: readonly string[], io: CliIo = defaultIo()): number {
  try {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      tenant: { type: 'string' },
      agent: { type: 'string' },
      scope: { type: 'string', multiple: true },
      group: { type: 'string', multiple: true },
      expires: { type: 'string' },
      note: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) return printUsage(io, USAGE);
    const action = positionals[0];
    if (action !== 'create' && action !== 'list' && action !== 'revoke')
      throw new UsageError(action ? `unknown keys command "${action}"` : 'keys needs a command');
    if (!values.config) throw new UsageError('--config FILE is required');
    const config = loadCliConfig(values.config);
    // A key written to a temporary database would be gone before anyone could use it.
    if (config.store.path === ':memory:')
      throw new UsageError(`store.path in ${config.source} is ":memory:": keys need a store file the hub also opens`);
    const db = openDb(config.store.path);
    try {
      const keys = new ApiKeys(new SqliteKeysRepo(db));
      if (action === 'create') {
        if (!values.tenant || !values.agent) throw new UsageError('keys create needs --tenant and --agent');
        if (!values.scope?.length) throw new UsageError('keys create needs at least one --scope (for example tools:*)');
        const expiresInSec = values.expires === undefined ? undefined : parseDuration(values.expires);
        if (values.expires !== undefined && expiresInSec === undefined)
          throw new UsageError(`--expires must look like 30d, 12h, 90m or 3600s, got "${values.expires}"`);
        const created = keys.create({
          tenant: values.tenant,
          agent: values.agent,
          scopes: values.scope,
          groups: values.group ?? [],
          expiresInSec,
          note: values.note,
        });
        audit(config, db, created.record.tenant, 'keys.create', { id: created.id, agent: created.record.agent });
        io.stdout(`${created.key}\n`);
        io.stderr(
          `switchboard: key ${created.id} for ${created.record.tenant}/${created.record.agent} created; this is the only time it is shown\n`,
        );
        return 0;
      }
      if (action === 'list') {
        const records = keys.list(values.tenant);
        if (values.json) io.stdout(`${JSON.stringify({ keys: records.map(toKeyView) }, null, 2)}\n`);
        else io.stdout(records.length === 0 ? 'no API keys\n' : `${table(records)}\n`);
        return 0;
      }
      const id = positionals[1];
      if (!id || positionals.length > 2) throw new UsageError('usage: switchboard keys revoke --config FILE <id>');
      if (!keys.revoke(id)) {
        io.stderr(`switchboard: no API key with id "${id.slice(0, 64)}"\n`);
        return 1;
      }
      audit(config, db, keys.list().find((k) => k.id === id)?.tenant ?? DEFAULT_TENANT, 'keys.revoke', { id });
      io.stdout(`revoked ${id}\n`);
      return 0;
    } finally {
      db.close();
    }
  } catch (error) {
    return exitCodeFor(error, io, `\n\n${USAGE}`);
  }
}

/**
 * Records a key change made from the command line in the audit trail, as the hub records one made
 * over /v1 (no secret: the key id and agent only). Written at once: the CLI has no batch to wait for.
 */
function audit(config: Config, db: Db, tenant: string, action: string, target: Record<string, unknown>): void {
  if (!config.audit.enabled) return;
  new SqliteAuditRepo(db).append([adminChange(tenant, 'switchboard-cli', { action, ...target }, process.env.USER)]);
}
