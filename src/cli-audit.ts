/**
 * `switchboard audit verify|tail|query|export`: the audit trail in the store the config names (the
 * file `serve` writes; reading it while the hub runs is safe, SQLite's WAL gives readers a snapshot).
 *
 *   switchboard audit verify --config F                  check the hash chain; names the first broken row
 *   switchboard audit tail --config F [-n 20] [--follow] [filters] [--json]
 *   switchboard audit query --config F [filters] [--limit 100] [--cursor C] [--json]
 *   switchboard audit export --config F --format jsonl|csv [filters] [--out FILE]
 *
 * filters: --tenant T --agent A --user U --tool X --server S --method M --outcome O --since T --until T,
 * where a time is ISO 8601 (2026-01-31, 2026-01-31T12:00:00Z) or a duration ago (15m, 24h, 7d).
 * `--db FILE` reads a database file directly instead of `--config` (a copy kept elsewhere).
 *
 * Events are listed oldest first: query and export by time (then seq), tail by seq (commit order).
 * Exit codes: 0 ok, 1 the chain is broken, 2 usage, config or store error.
 */
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatEvents, isoTime, type ExportFormat } from './audit/export.js';
import { defaultIo, exitCodeFor, loadCliConfig, parseFlags, printUsage, UsageError, type CliIo } from './cli-common.js';
import { AUDIT_METHODS, AUDIT_OUTCOMES, type StoredAuditEvent } from './core/audit-event.js';
import { GatewayError } from './core/errors.js';
import { MAX_AUDIT_PAGE, SqliteAuditRepo, type AuditFilter } from './store/audit-repo.js';
import { openDb } from './store/db.js';

const USAGE = `usage:
  switchboard audit verify --config FILE
  switchboard audit tail --config FILE [-n 20] [--follow] [filters] [--json]
  switchboard audit query --config FILE [filters] [--limit 100] [--cursor C] [--json]
  switchboard audit export --config FILE --format jsonl|csv [filters] [--out FILE]
filters: --tenant T --agent A --user U --tool X --server S --method M --outcome O --since TIME --until TIME
  (TIME: ISO 8601 such as 2026-01-31T12:00:00Z, or a duration ago such as 15m, 24h, 7d)
--db FILE reads a database file instead of the store named by --config.`;

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const FOLLOW_MS = 1_000;

/** An ISO 8601 time or a duration ago (`15m`, `24h`, `7d`), as epoch ms. */
export function parseTime(text: string, flag: string, now = Date.now()): number {
  const ago = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (ago) return now - Number(ago[1]) * (UNIT_MS[ago[2] ?? 's'] ?? 1_000);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms))
    throw new UsageError(
      `${flag} must be an ISO 8601 time (2026-01-31T12:00:00Z) or a duration ago (15m, 24h, 7d), got "${text.slice(0, 64)}"`,
    );
  return ms;
}

function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${text.slice(0, 64)}"`);
  return n;
}

/** One event as a line of text. */
function line(e: StoredAuditEvent): string {
  const who = `${e.tenant}/${e.agent}${e.user ? ` user=${e.user}` : ''}`;
  const what = `${e.method}${e.tool ? ` ${e.tool}` : ''}${e.server ? ` @${e.server}` : ''}`;
  const how = `${e.outcome}${e.errorCode ? ` ${e.errorCode}` : ''}`;
  return `#${e.seq} ${isoTime(e.time)} ${who} ${what} ${how} ${e.latencyMs.toFixed(1)}ms`;
}

/** Runs `audit <action> ...` (argv after `audit`); resolves to the exit code. */
export async function runAuditCommand(
  argv: readonly string[],
  io: CliIo = defaultIo({ endOnEpipe: true }),
): Promise<number> {
  try {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      db: { type: 'string' },
      tenant: { type: 'string' },
      agent: { type: 'string' },
      user: { type: 'string' },
      tool: { type: 'string' },
      server: { type: 'string' },
      method: { type: 'string' },
      outcome: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      n: { type: 'string', short: 'n' },
      follow: { type: 'boolean', short: 'f' },
      format: { type: 'string' },
      out: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) return printUsage(io, USAGE);
    const action = positionals[0];
    if (action !== 'verify' && action !== 'tail' && action !== 'query' && action !== 'export')
      throw new UsageError(action ? `unknown audit command "${action}"` : 'audit needs a command');
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    const filter: AuditFilter = {
      tenant: values.tenant,
      agent: values.agent,
      user: values.user,
      tool: values.tool,
      server: values.server,
      method: oneOf('--method', values.method, AUDIT_METHODS),
      outcome: oneOf('--outcome', values.outcome, AUDIT_OUTCOMES),
      since: values.since === undefined ? undefined : parseTime(values.since, '--since'),
      until: values.until === undefined ? undefined : parseTime(values.until, '--until'),
    };
    const format = values.format;
    if (format !== undefined && action !== 'export') throw new UsageError('--format is for audit export (use --json)');
    if (action === 'export' && format !== 'jsonl' && format !== 'csv')
      throw new UsageError(`audit export needs --format jsonl or --format csv${format ? `, got "${format}"` : ''}`);
    const path = storePath(values.config, values.db);
    const db = openDb(path);
    try {
      const repo = new SqliteAuditRepo(db);
      if (action === 'verify') {
        const result = repo.verify();
        if (result.ok) {
          io.stdout(`ok, ${result.rows} rows\n`);
          return 0;
        }
        io.stderr(`switchboard: audit chain broken at seq ${result.seq}: ${result.reason}\n`);
        return 1;
      }
      const print = (events: readonly StoredAuditEvent[]) =>
        io.stdout(values.json ? formatEvents(events, 'jsonl') : events.map((e) => `${line(e)}\n`).join(''));
      if (action === 'tail') {
        const events = repo.tail(filter, positiveInt(values.n, '-n', 20));
        print(events);
        if (values.follow) await follow(repo, filter, events[events.length - 1]?.seq ?? 0, print);
        return 0;
      }
      if (action === 'query') {
        const page = repo.query(filter, { after: values.cursor, limit: positiveInt(values.limit, '--limit', 100) });
        print(page.events);
        if (page.nextCursor) io.stderr(`switchboard: more rows: --cursor ${page.nextCursor}\n`);
        return 0;
      }
      const written = exportEvents(repo, filter, format as ExportFormat, values.out, io);
      if (values.out) io.stderr(`switchboard: ${written} events written to ${resolve(values.out)}\n`);
      return 0;
    } finally {
      db.close();
    }
  } catch (error) {
    // Every failure here (a flag, the config, the store) is one line and exit 2; a broken chain returned 1 above.
    return exitCodeFor(error, io, `\n\n${USAGE}`, 'exit');
  }
}

/** The database file to read: --db as given, else the config's store (which must exist already). */
function storePath(config: string | undefined, db: string | undefined): string {
  if (config && db) throw new UsageError('give --config or --db, not both');
  if (!config && !db) throw new UsageError('--config FILE (or --db FILE) is required');
  let path: string;
  if (db) path = resolve(db);
  else {
    const loaded = loadCliConfig(config!);
    if (loaded.store.path === ':memory:')
      throw new GatewayError(
        'CONFIG_INVALID',
        `store.path in ${loaded.source} is ":memory:": there is no audit trail to read`,
      );
    path = loaded.store.path;
  }
  // Opening a missing file would create an empty store and report an empty, valid chain.
  if (!existsSync(path))
    throw new GatewayError('NOT_FOUND', `no store at ${path} (has the gateway run with this config?)`);
  return path;
}

/** Writes every matching event, a page at a time (bounded memory); returns how many. */
function exportEvents(
  repo: SqliteAuditRepo,
  filter: AuditFilter,
  format: ExportFormat,
  out: string | undefined,
  io: CliIo,
): number {
  const fd = out === undefined ? undefined : openSync(out, 'w', 0o600);
  const write = (text: string) => (fd === undefined ? io.stdout(text) : writeSync(fd, text));
  try {
    let count = 0;
    let after: string | undefined;
    let header = format === 'csv';
    do {
      const page = repo.query(filter, { after, limit: MAX_AUDIT_PAGE });
      write(formatEvents(page.events, format, header));
      header = false;
      count += page.events.length;
      after = page.nextCursor;
    } while (after);
    return count;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Prints new matching events as they are committed, until the process is stopped. */
async function follow(
  repo: SqliteAuditRepo,
  filter: AuditFilter,
  lastSeq: number,
  print: (events: readonly StoredAuditEvent[]) => void,
): Promise<never> {
  let after = lastSeq;
  for (;;) {
    await new Promise((done) => setTimeout(done, FOLLOW_MS));
    for (let events = repo.readAfter(filter, after, MAX_AUDIT_PAGE); events.length > 0;) {
      print(events);
      after = events[events.length - 1]?.seq ?? after;
      events = events.length < MAX_AUDIT_PAGE ? [] : repo.readAfter(filter, after, MAX_AUDIT_PAGE);
    }
  }
}

/** A flag that takes one of a closed set of values (a typo is a usage error, not an empty result). */
function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`${flag} is one of ${allowed.join(', ')}, got "${value.slice(0, 40)}"`);
  return value as T;
}
