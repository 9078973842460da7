/**
 * `switchboard usage report`: a tenant's invoice lines with their cost, from the store and the price table
 * the config names (the same file `serve` opens and meters into).
 *
 *   switchboard usage report --config F --tenant T --from ISO --to ISO
 *                            [--group-by tool|server|agent|tenant|day|hour|method] [--format csv|json]
 *
 * `--from` is inclusive, `--to` exclusive; each is a UTC date (2025-01-31, its midnight) or an ISO time with
 * its zone (2025-01-31T10:00:00Z, 2025-01-31T12:00+02:00). Usage is kept by the hour, so the window is
 * widened to whole hours, and the report says which window it counted. Exit codes: 0 ok, 2 usage or config
 * error (one line on stderr naming the flag), 1 the store has no usage table or cannot be read.
 */
import { existsSync } from 'node:fs';
import { defaultIo, exitCodeFor, loadCliConfig, parseFlags, printUsage, UsageError, type CliIo } from './cli-common.js';
import type { Config } from './config/load.js';
import { usageSchema, type UsageConfig } from './config/usage-schema.js';
import { GatewayError } from './core/errors.js';
import { openDb } from './store/db.js';
import { SqliteUsageRepo, usageGroupBys, type UsageGroupBy } from './store/usage-repo.js';
import { PriceTable } from './usage/prices.js';
import { buildUsageReport, renderCsv, renderJson } from './usage/report.js';

const USAGE = `usage:
  switchboard usage report --config FILE --tenant T --from ISO --to ISO
                           [--group-by ${usageGroupBys.join('|')}] [--format csv|json]
  (from inclusive, to exclusive; 2025-01-31 or 2025-01-31T10:00:00Z; widened to whole UTC hours)`;

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * A UTC date or an ISO 8601 time with its zone, as epoch ms; undefined when malformed, impossible
 * (2025-02-30) or a time without a zone (which would silently mean the machine's local time).
 */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms, zone] = m;
  if (h !== undefined && zone === undefined) return undefined;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)] as const;
  const local = Date.UTC(...parts, Number((ms ?? '0').padEnd(3, '0')));
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== parts[0] ||
    check.getUTCMonth() !== parts[1] ||
    check.getUTCDate() !== parts[2] ||
    check.getUTCHours() !== parts[3] ||
    check.getUTCMinutes() !== parts[4] ||
    check.getUTCSeconds() !== parts[5]
  )
    return undefined;
  if (zone === undefined || zone === 'Z') return local;
  const sign = zone.startsWith('-') ? -1 : 1;
  const [zh, zm] = zone.slice(1).split(':').map(Number);
  if ((zh ?? 0) > 23 || (zm ?? 0) > 59) return undefined;
  return local - sign * ((zh ?? 0) * 60 + (zm ?? 0)) * 60_000;
}

/** The config's `usage` section (prices and currency); a config without one has no prices. */
function usageOf(config: Config): UsageConfig {
  // Mounted into Config by config/schema.ts; read through this narrow view so a config built without it still reports.
  return (config as { readonly usage?: UsageConfig }).usage ?? usageSchema.parse(undefined);
}

function time(flag: string, text: string | undefined): number {
  if (text === undefined) throw new UsageError(`--${flag} is required (an ISO date or time, e.g. 2025-01-31)`);
  const ms = parseIsoTime(text);
  if (ms === undefined)
    throw new UsageError(
      `--${flag} must be a date like 2025-01-31 or a time with its zone like 2025-01-31T10:00:00Z, got "${text.slice(0, 64)}"`,
    );
  return ms;
}

/** Runs `usage <action> ...` (argv after `usage`); returns the exit code. */
export function runUsageCommand(argv: readonly string[], io: CliIo = defaultIo()): number {
  try {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      tenant: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'group-by': { type: 'string' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) return printUsage(io, USAGE);
    const action = positionals[0];
    if (action !== 'report')
      throw new UsageError(action ? `unknown usage command "${action}"` : 'usage needs a command');
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    if (!values.config) throw new UsageError('--config FILE is required');
    if (!values.tenant) throw new UsageError('--tenant is required (the tenant to report on)');
    const from = time('from', values.from);
    const to = time('to', values.to);
    if (to <= from) throw new UsageError(`--to (${values.to}) must be after --from (${values.from})`);
    const groupBy = (values['group-by'] ?? 'tool') as UsageGroupBy;
    if (!usageGroupBys.includes(groupBy))
      throw new UsageError(`--group-by must be one of ${usageGroupBys.join(', ')}, got "${values['group-by']}"`);
    const format = values.format ?? 'csv';
    if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, got "${format}"`);

    const config = loadCliConfig(values.config);
    const path = config.store.path;
    if (path === ':memory:')
      throw new UsageError(`store.path in ${config.source} is ":memory:": there is no stored usage to report`);
    // A report never creates a store: a wrong path would otherwise print an empty invoice.
    if (!existsSync(path))
      throw new UsageError(`no store at ${path} (store.path in ${config.source}); run the gateway first`);
    const usage = usageOf(config);
    const db = openDb(path);
    try {
      const report = buildUsageReport(new SqliteUsageRepo(db), new PriceTable(usage.prices), usage.currency, {
        tenant: values.tenant,
        from,
        to,
        groupBy,
      });
      io.stdout(format === 'json' ? renderJson(report) : renderCsv(report));
      return 0;
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      io.stderr(`switchboard: cannot read usage from ${path}: ${(error as Error).message}\n`);
      return 1;
    } finally {
      db.close();
    }
  } catch (error) {
    // One line naming the flag; --help prints the usage.
    return exitCodeFor(error, io, ' (switchboard usage --help shows the usage)');
  }
}
