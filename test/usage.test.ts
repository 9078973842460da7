/**
 * Usage and billing: the `usage` config section, sums over a real SQLite usage_hourly table (group-bys,
 * window edges, tenants, methods), prices into cost (tool > server > default), a report whose cost is
 * computed by hand below, the CSV and JSON renderings, and `switchboard usage report` as a real process.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIsoTime, runUsageCommand } from '../src/cli-usage.js';
import { quotasSchema, usageSchema } from '../src/config/usage-schema.js';
import { openDb, type Db } from '../src/store/db.js';
import { hourWindow, SqliteUsageRepo, type UsageLine } from '../src/store/usage-repo.js';
import { PriceTable } from '../src/usage/prices.js';
import { buildUsageReport, csvCell, renderCsv, renderJson, roundTo, type UsageReport } from '../src/usage/report.js';
import { cleanup, onCleanup, ROOT, tempDir } from './helpers.js';

afterAll(cleanup);

const HOUR = 3_600_000;
/** 2025-01-15T00:00:00Z */
const D = Date.UTC(2025, 0, 15);

/** A store file in a fresh temp folder (openDb creates usage_hourly), closed after the test file. */
function usageDb(): { db: Db; path: string } {
  const path = join(tempDir(), 'usage.db');
  const db = openDb(path);
  onCleanup(() => db.close());
  return { db, path };
}

interface Row {
  tenant?: string;
  hour: number;
  agent?: string;
  tool?: string;
  server?: string;
  method?: string;
  calls?: number;
  errors?: number;
  durationMs?: number;
  bytesIn?: number;
  bytesOut?: number;
}

/** Inserts usage rows as the metering writer would. */
function insert(db: Db, rows: readonly Row[]): void {
  const statement = db.prepare(
    'INSERT INTO usage_hourly (tenant, hour, agent, tool, server, method, calls, errors, duration_ms, bytes_in, bytes_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const r of rows)
    statement.run(
      r.tenant ?? 'acme',
      r.hour,
      r.agent ?? 'bot',
      r.tool ?? '',
      r.server ?? '',
      r.method ?? 'tools/call',
      r.calls ?? 1,
      r.errors ?? 0,
      r.durationMs ?? 0,
      r.bytesIn ?? 0,
      r.bytesOut ?? 0,
    );
}

/** Lines folded by key (the tool/server split summed away). */
function byKey(lines: readonly UsageLine[]): Record<string, { calls: number; errors: number; durationMs: number }> {
  const out: Record<string, { calls: number; errors: number; durationMs: number }> = {};
  for (const l of lines) {
    const sum = (out[l.key] ??= { calls: 0, errors: 0, durationMs: 0 });
    sum.calls += l.calls;
    sum.errors += l.errors;
    sum.durationMs += l.durationMs;
  }
  return out;
}

describe('usage config', () => {
  it('defaults to USD and no prices', () => {
    expect(usageSchema.parse(undefined)).toEqual({ currency: 'USD', prices: { servers: {}, tools: {} } });
  });

  it('refuses negative prices and unknown keys with a message saying what to write', () => {
    const negative = usageSchema.safeParse({ prices: { default: { perCall: -1 } } });
    expect(negative.success).toBe(false);
    expect(negative.error?.issues[0]?.message).toMatch(/perCall cannot be negative/);
    const typo = usageSchema.safeParse({ prices: { default: { perCal: 1 } } });
    expect(typo.success).toBe(false);
    expect(typo.error?.issues[0]?.message).toMatch(/perCall/);
  });

  it('quotas need calls or cost, a day or month period and whole calls', () => {
    expect(quotasSchema.parse(undefined)).toEqual([]);
    expect(quotasSchema.parse([{ tenant: '*', period: 'day', calls: 10 }])).toEqual([
      { tenant: '*', period: 'day', calls: 10 },
    ]);
    const none = quotasSchema.safeParse([{ tenant: 'acme', period: 'day' }]);
    expect(none.error?.issues[0]?.message).toMatch(/needs calls or cost/);
    expect(quotasSchema.safeParse([{ tenant: 'acme', period: 'week', calls: 1 }]).success).toBe(false);
    expect(quotasSchema.safeParse([{ tenant: 'acme', period: 'day', calls: 1.5 }]).success).toBe(false);
    expect(quotasSchema.safeParse([{ tenant: 'acme', period: 'day', cost: 0 }]).success).toBe(false);
    expect(quotasSchema.safeParse([{ tenant: 'a b', period: 'day', calls: 1 }]).success).toBe(false);
  });
});

describe('usage sums (SqliteUsageRepo)', () => {
  const { db } = usageDb();
  insert(db, [
    { hour: D, agent: 'bot', tool: 'gh__search', server: 'gh', calls: 3, errors: 1, durationMs: 30 },
    { hour: D, agent: 'cron', tool: 'gh__search', server: 'gh', calls: 2, durationMs: 20 },
    { hour: D + HOUR, agent: 'bot', tool: 'mem__read', server: 'mem', calls: 5, durationMs: 50 },
    { hour: D + HOUR, agent: 'bot', method: 'find_capability', calls: 4, durationMs: 8 },
    { hour: D + HOUR, agent: 'bot', tool: 'mem__notes', server: 'mem', method: 'prompts/get', calls: 1 },
    { hour: D + 24 * HOUR, agent: 'cron', tool: 'mem__read', server: 'mem', calls: 7, errors: 2, durationMs: 70 },
    // Another tenant, in the same hours and with the same names.
    { tenant: 'globex', hour: D, agent: 'bot', tool: 'gh__search', server: 'gh', calls: 1000, errors: 9 },
    { tenant: 'globex', hour: D + HOUR, agent: 'bot', method: 'find_capability', calls: 500 },
  ]);
  const repo = new SqliteUsageRepo(db);
  const all = { tenant: 'acme', from: D, to: D + 48 * HOUR };

  it('groups by tool, server, agent, method, day and hour', () => {
    expect(byKey(repo.lines(all, 'tool'))).toEqual({
      '': { calls: 4, errors: 0, durationMs: 8 },
      gh__search: { calls: 5, errors: 1, durationMs: 50 },
      mem__notes: { calls: 1, errors: 0, durationMs: 0 },
      mem__read: { calls: 12, errors: 2, durationMs: 120 },
    });
    expect(byKey(repo.lines(all, 'server'))).toEqual({
      '': { calls: 4, errors: 0, durationMs: 8 },
      gh: { calls: 5, errors: 1, durationMs: 50 },
      mem: { calls: 13, errors: 2, durationMs: 120 },
    });
    expect(byKey(repo.lines(all, 'agent'))).toEqual({
      bot: { calls: 13, errors: 1, durationMs: 88 },
      cron: { calls: 9, errors: 2, durationMs: 90 },
    });
    expect(byKey(repo.lines(all, 'method'))).toEqual({
      find_capability: { calls: 4, errors: 0, durationMs: 8 },
      'prompts/get': { calls: 1, errors: 0, durationMs: 0 },
      'tools/call': { calls: 17, errors: 3, durationMs: 170 },
    });
    expect(byKey(repo.lines(all, 'day'))).toEqual({
      '2025-01-15': { calls: 15, errors: 1, durationMs: 108 },
      '2025-01-16': { calls: 7, errors: 2, durationMs: 70 },
    });
    expect(Object.keys(byKey(repo.lines(all, 'hour')))).toEqual([
      '2025-01-15T00:00:00Z',
      '2025-01-15T01:00:00Z',
      '2025-01-16T00:00:00Z',
    ]);
  });

  it('keeps the tool and server of each line (prices need them), ordered by key, tool, server', () => {
    expect(repo.lines({ ...all, to: D + HOUR }, 'agent')).toEqual([
      { key: 'bot', tool: 'gh__search', server: 'gh', calls: 3, errors: 1, durationMs: 30, bytesIn: 0, bytesOut: 0 },
      { key: 'cron', tool: 'gh__search', server: 'gh', calls: 2, errors: 0, durationMs: 20, bytesIn: 0, bytesOut: 0 },
    ]);
  });

  it('filters to one method', () => {
    expect(byKey(repo.lines({ ...all, method: 'find_capability' }, 'tool'))).toEqual({
      '': { calls: 4, errors: 0, durationMs: 8 },
    });
  });

  it('counts from inclusive, to exclusive, widened to whole hours', () => {
    const calls = (from: number, to: number) => repo.totals('acme', from, to).calls;
    expect(calls(D, D + HOUR)).toBe(5); // the first hour alone
    expect(calls(D + HOUR, D + 2 * HOUR)).toBe(10); // the second alone: `to` of the first is exclusive
    expect(calls(D + 30 * 60_000, D + HOUR)).toBe(5); // from inside an hour: floored, the hour counts whole
    expect(calls(D + HOUR - 1, D + HOUR)).toBe(5);
    expect(calls(D, D + 1)).toBe(5); // to inside an hour: raised to its end
    expect(calls(D, D + HOUR + 1)).toBe(15);
    expect(calls(D + 2 * HOUR, D + 24 * HOUR)).toBe(0);
    expect(calls(D + 24 * HOUR, D + 25 * HOUR)).toBe(7);
    expect(calls(D + HOUR, D)).toBe(0); // an empty window
    expect(hourWindow(D + 1, D + HOUR + 1)).toEqual({ from: D, to: D + 2 * HOUR });
    expect(hourWindow(D, D + HOUR)).toEqual({ from: D, to: D + HOUR });
    expect(() => hourWindow(Number.NaN, D)).toThrow(/finite/);
  });

  it("never mixes tenants: a tenant's lines and totals hold only its rows; no tenant means all", () => {
    expect(repo.totals('acme', D, D + 48 * HOUR)).toEqual({
      calls: 22,
      errors: 3,
      durationMs: 178,
      bytesIn: 0,
      bytesOut: 0,
    });
    expect(repo.totals('globex', D, D + 48 * HOUR).calls).toBe(1500);
    expect(repo.totals('nobody', D, D + 48 * HOUR).calls).toBe(0);
    expect(repo.lines({ tenant: 'globex', from: D, to: D + 48 * HOUR }, 'tool').map((l) => l.key)).toEqual([
      '',
      'gh__search',
    ]);
    expect(byKey(repo.lines({ from: D, to: D + 48 * HOUR }, 'method'))['tools/call']?.calls).toBe(1017);
  });
});

describe('prices', () => {
  const table = new PriceTable({
    default: { perCall: 1 },
    servers: { gh: { perCall: 10, perSecond: 100 } },
    tools: { gh__search: { perMb: 1000 } },
  });
  const call = { calls: 1, durationMs: 1000, bytesIn: 600_000, bytesOut: 400_000 };

  it('takes the tool price, else the server price, else the default; the chosen price is used whole', () => {
    // Tool price: 1 MB x 1000; its perCall and perSecond are 0, not the server's.
    expect(table.cost({ ...call, tool: 'gh__search', server: 'gh' })).toBe(1000);
    // Server price: 1 call x 10 + 1 s x 100.
    expect(table.cost({ ...call, tool: 'gh__issues', server: 'gh' })).toBe(110);
    // Default: 1 call x 1.
    expect(table.cost({ ...call, tool: 'mem__read', server: 'mem' })).toBe(1);
    expect(table.cost({ ...call, tool: '', server: '' })).toBe(1);
    // Names that are properties of every object are just unknown names.
    expect(table.cost({ ...call, tool: 'constructor', server: '__proto__' })).toBe(1);
  });

  it('costs nothing without prices; MB are decimal', () => {
    const none = new PriceTable();
    expect(none.free).toBe(true);
    expect(table.free).toBe(false);
    expect(none.cost({ ...call, tool: 'x', server: 'y' })).toBe(0);
    expect(new PriceTable({ default: { perMb: 1 } }).cost({ ...call, tool: '', server: '' })).toBe(1);
  });
});

describe('usage report', () => {
  const { db } = usageDb();
  // Tenant acme, on 2025-01-15:
  insert(db, [
    // github__search at the tool price {perCall 0.01, perMb 0.5}: 10 x 0.01 + (1,000,000 + 500,000) / 1e6 x 0.5
    //   = 0.1 + 0.75 = 0.85 (its server's perSecond does not apply: the tool's price is used whole)
    {
      hour: D,
      tool: 'github__search',
      server: 'github',
      calls: 10,
      errors: 2,
      durationMs: 4000,
      bytesIn: 1_000_000,
      bytesOut: 500_000,
    },
    // github__issues at the server price {perCall 0.002, perSecond 0.01}, in two hours and two agents:
    //   (12 + 8) x 0.002 + (18,000 + 12,000) / 1000 x 0.01 = 0.04 + 0.3 = 0.34
    {
      hour: D + HOUR,
      agent: 'bot',
      tool: 'github__issues',
      server: 'github',
      calls: 12,
      durationMs: 18_000,
      bytesIn: 2_000_000,
    },
    { hour: D + 2 * HOUR, agent: 'cron', tool: 'github__issues', server: 'github', calls: 8, durationMs: 12_000 },
    // memory__read at the default price {perCall 0.001}: 100 x 0.001 = 0.1
    { hour: D + HOUR, tool: 'memory__read', server: 'memory', calls: 100, errors: 1, durationMs: 1000, bytesIn: 5000 },
    // find_capability (no tool, no server) at the default price: 7 x 0.001 = 0.007
    { hour: D + HOUR, method: 'find_capability', calls: 7, durationMs: 70 },
    // Outside the window (the next day) and another tenant: not on the invoice.
    { hour: D + 24 * HOUR, tool: 'github__search', server: 'github', calls: 999 },
    { tenant: 'globex', hour: D, tool: 'github__search', server: 'github', calls: 999 },
  ]);
  // Total: 0.85 + 0.34 + 0.1 + 0.007 = 1.297
  const prices = new PriceTable(
    usageSchema.parse({
      prices: {
        default: { perCall: 0.001 },
        servers: { github: { perCall: 0.002, perSecond: 0.01 } },
        tools: { github__search: { perCall: 0.01, perMb: 0.5 } },
      },
    }).prices,
  );
  const repo = new SqliteUsageRepo(db);
  const request = { tenant: 'acme', from: D, to: D + 24 * HOUR } as const;

  it("matches the hand computation, per tool and in total, in the store's window", () => {
    const report = buildUsageReport(repo, prices, 'USD', { ...request, groupBy: 'tool' });
    expect(report.from).toBe('2025-01-15T00:00:00.000Z');
    expect(report.to).toBe('2025-01-16T00:00:00.000Z');
    expect(report.lines.map((l) => [l.key, l.calls, l.cost])).toEqual([
      ['', 7, 0.007],
      ['github__issues', 20, 0.34],
      ['github__search', 10, 0.85],
      ['memory__read', 100, 0.1],
    ]);
    expect(report.total).toEqual({
      calls: 137,
      errors: 3,
      durationMs: 4000 + 18_000 + 12_000 + 1000 + 70,
      bytesIn: 1_000_000 + 2_000_000 + 5000,
      bytesOut: 500_000,
      cost: 1.297,
    });
  });

  it('prices each tool of a server line by its own price', () => {
    const report = buildUsageReport(repo, prices, 'USD', { ...request, groupBy: 'server' });
    // github: 0.85 + 0.34; memory: 0.1; none: 0.007
    expect(report.lines.map((l) => [l.key, l.cost])).toEqual([
      ['', 0.007],
      ['github', 1.19],
      ['memory', 0.1],
    ]);
    expect(buildUsageReport(repo, prices, 'USD', { ...request, groupBy: 'day' }).lines).toHaveLength(1);
    const agents = buildUsageReport(repo, prices, 'USD', { ...request, groupBy: 'agent' });
    // cron: 8 x 0.002 + 12 s x 0.01 = 0.136; bot: the rest
    expect(agents.lines.map((l) => [l.key, l.cost])).toEqual([
      ['bot', 1.161],
      ['cron', 0.136],
    ]);
    expect(agents.total.cost).toBe(1.297);
  });

  it('groups by tenant: every tenant of the window for the gateway admin, priced alike', () => {
    const everyone = buildUsageReport(repo, prices, 'USD', { from: D, to: D + 24 * HOUR, groupBy: 'tenant' });
    // globex: 999 github__search calls at 0.01 each, no duration or bytes
    expect(everyone.lines.map((l) => [l.key, l.calls, l.cost])).toEqual([
      ['acme', 137, 1.297],
      ['globex', 999, 9.99],
    ]);
    expect(buildUsageReport(repo, prices, 'USD', { ...request, groupBy: 'tenant' }).lines.map((l) => l.key)).toEqual([
      'acme',
    ]);
  });

  it('rounds for display only: costs to 6 decimals, the total from unrounded lines', () => {
    expect(roundTo(0.0000005, 6)).toBe(0.000001);
    expect(roundTo(1.0000004999, 6)).toBe(1);
    expect(roundTo(0.1 + 0.2, 6)).toBe(0.3);
    const { db: tiny } = usageDb();
    // Three tools at 0.0000004 each: each line shows 0, the total 0.000001 (0.0000012 rounded).
    insert(
      tiny,
      ['a', 'b', 'c'].map((tool) => ({ hour: D, tool, server: 's' })),
    );
    const report = buildUsageReport(
      new SqliteUsageRepo(tiny),
      new PriceTable({ default: { perCall: 0.0000004 } }),
      'USD',
      { ...request, groupBy: 'tool' },
    );
    expect(report.lines.map((l) => l.cost)).toEqual([0, 0, 0]);
    expect(report.total.cost).toBe(0.000001);
  });

  it('renders CSV (RFC 4180, formulas defused) and JSON', () => {
    const report: UsageReport = {
      tenant: 'acme',
      groupBy: 'tool',
      from: '2025-01-15T00:00:00.000Z',
      to: '2025-01-16T00:00:00.000Z',
      currency: 'USD',
      lines: [
        { key: '=HYPERLINK("x")', calls: 1, errors: 0, durationMs: 1.5, bytesIn: 2, bytesOut: 3, cost: 0.25 },
        { key: 'a,b', calls: 2, errors: 1, durationMs: 0, bytesIn: 0, bytesOut: 0, cost: 1 },
        { key: '-1', calls: 0, errors: 0, durationMs: 0, bytesIn: 0, bytesOut: 0, cost: 0 },
      ],
      total: { calls: 3, errors: 1, durationMs: 1.5, bytesIn: 2, bytesOut: 3, cost: 1.25 },
    };
    expect(renderCsv(report)).toBe(
      [
        'tool,calls,errors,duration_ms,bytes_in,bytes_out,cost,currency',
        `"'=HYPERLINK(""x"")",1,0,1.500,2,3,0.250000,USD`,
        '"a,b",2,1,0.000,0,0,1.000000,USD',
        "'-1,0,0,0.000,0,0,0.000000,USD",
        '(total),3,1,1.500,2,3,1.250000,USD',
        '',
      ].join('\r\n'),
    );
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell('plain')).toBe('plain');
    expect(JSON.parse(renderJson(report))).toEqual(report);
  });
});

describe('switchboard usage report (the CLI)', () => {
  const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const dir = tempDir();
  // Relative: resolved against the config's folder, not the cwd the CLI runs in.
  const plain = join(dir, 'plain.yaml');
  writeFileSync(plain, 'store:\n  path: data/usage.db\n');
  const priced = join(dir, 'priced.yaml');
  writeFileSync(
    priced,
    [
      'store:',
      '  path: data/usage.db',
      'usage:',
      '  currency: EUR',
      '  prices:',
      '    default: { perCall: 0.001 }',
      '    servers: { github: { perCall: 0.002, perSecond: 0.01 } }',
      '    tools: { github__search: { perCall: 0.01, perMb: 0.5 } }',
      '',
    ].join('\n'),
  );
  const db = openDb(join(dir, 'data/usage.db'));
  insert(db, [
    { hour: D, tool: 'github__search', server: 'github', calls: 10, bytesIn: 1_000_000, bytesOut: 500_000 },
    { hour: D + HOUR, tool: 'github__issues', server: 'github', calls: 20, durationMs: 30_000 },
    { hour: D + 25 * HOUR, tool: 'memory__read', server: 'memory', calls: 100 },
    { tenant: 'globex', hour: D, tool: 'github__search', server: 'github', calls: 5 },
  ]);
  db.close();

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', tsx, join(ROOT, 'src/cli.ts'), 'usage', ...args], {
      cwd: tempDir(),
      encoding: 'utf8',
      timeout: 60_000,
    });
  const window = ['--from', '2025-01-15', '--to', '2025-01-17'];

  it('prints the invoice lines with their cost as CSV (a config with a price table)', () => {
    const run = cli('report', '--config', priced, '--tenant', 'acme', ...window);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // github__search: 10 x 0.01 + 1.5 MB x 0.5 = 0.85; github__issues: 20 x 0.002 + 30 s x 0.01 = 0.34;
    // memory__read: 100 x 0.001 = 0.1; total 1.29
    expect(run.stdout.split('\r\n')).toEqual([
      'tool,calls,errors,duration_ms,bytes_in,bytes_out,cost,currency',
      'github__issues,20,0,30000.000,0,0,0.340000,EUR',
      'github__search,10,0,0.000,1000000,500000,0.850000,EUR',
      'memory__read,100,0,0.000,0,0,0.100000,EUR',
      '(total),130,0,30000.000,1000000,500000,1.290000,EUR',
      '',
    ]);
  });

  it('prints JSON grouped by day, for the tenant asked only', () => {
    const run = cli(
      'report',
      '--config',
      priced,
      '--tenant',
      'acme',
      ...window,
      '--group-by',
      'day',
      '--format',
      'json',
    );
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as UsageReport;
    expect(report.lines.map((l) => [l.key, l.calls, l.cost])).toEqual([
      ['2025-01-15', 30, 1.19],
      ['2025-01-16', 100, 0.1],
    ]);
    expect(report).toMatchObject({ tenant: 'acme', currency: 'EUR', total: { calls: 130, cost: 1.29 } });
    const other = JSON.parse(
      cli('report', '--config', plain, '--tenant', 'globex', ...window, '--format', 'json').stdout,
    );
    // No price table: usage without cost.
    expect(other).toMatchObject({ currency: 'USD', total: { calls: 5, cost: 0 } });
  });

  it('refuses bad dates and flags with one clear line and exit 2', () => {
    const bad = cli('report', '--config', plain, '--tenant', 'acme', '--from', '2025-02-30', '--to', '2025-03-01');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--from must be a date like 2025-01-31 .* got "2025-02-30"/);

    const lines: string[] = [];
    const io = { stdout: (t: string) => lines.push(`out:${t}`), stderr: (t: string) => lines.push(t) };
    const run = (...args: string[]) => {
      lines.length = 0;
      return runUsageCommand(args, io);
    };
    const base = ['report', '--config', plain, '--tenant', 'acme'];
    expect(run(...base, '--from', '2025-01-15T10:00', '--to', '2025-01-16')).toBe(2);
    expect(lines.join('')).toMatch(/--from must be .* with its zone/);
    expect(run(...base, '--from', '2025-01-16', '--to', '2025-01-15')).toBe(2);
    expect(lines.join('')).toMatch(/--to \(2025-01-15\) must be after --from/);
    expect(run(...base, ...window, '--group-by', 'colour')).toBe(2);
    expect(lines.join('')).toMatch(
      /--group-by must be one of tool, server, agent, tenant, day, hour, method, got "colour"/,
    );
    expect(run(...base, ...window, '--format', 'xml')).toBe(2);
    expect(lines.join('')).toMatch(/--format must be csv or json/);
    expect(run('report', '--config', plain, ...window)).toBe(2);
    expect(lines.join('')).toMatch(/--tenant is required/);
    expect(run(...base, '--from', '2025-01-15')).toBe(2);
    expect(lines.join('')).toMatch(/--to is required/);
    expect(run(...base, ...window, '--colour')).toBe(2);
    expect(lines.join('')).toMatch(/--colour/);
    expect(run('summary', '--config', plain)).toBe(2);
    expect(lines.join('')).toMatch(/unknown usage command "summary"/);
    for (const line of lines) expect(line.trimEnd().split('\n')).toHaveLength(1);

    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, 'store:\n  path: nowhere/usage.db\n');
    expect(run('report', '--config', missing, '--tenant', 'acme', ...window)).toBe(2);
    expect(lines.join('')).toMatch(/no store at .*nowhere\/usage.db/);
  });

  it('parses UTC dates and zoned ISO times', () => {
    expect(parseIsoTime('2025-01-15')).toBe(D);
    expect(parseIsoTime('2025-01-15T10:00:00Z')).toBe(D + 10 * HOUR);
    expect(parseIsoTime('2025-01-15T12:00+02:00')).toBe(D + 10 * HOUR);
    expect(parseIsoTime('2025-01-15T10:00:00.5Z')).toBe(D + 10 * HOUR + 500);
    expect(parseIsoTime('2025-01-15T05:00-05:00')).toBe(D + 10 * HOUR);
    for (const bad of [
      '2025-02-30',
      '2025-13-01',
      '2025-01-15T24:00Z',
      'yesterday',
      '1737000000000',
      '2025-01-15T10:00',
    ])
      expect(parseIsoTime(bad), bad).toBeUndefined();
  });
});
