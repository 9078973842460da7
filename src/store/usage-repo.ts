/**
 * The read side of metered usage: sums over `usage_hourly` (db.ts), one row per tenant x hour x agent x
 * tool x server x method, written in the same transaction as the audit rows it counts.
 *
 * Usage is kept by the hour, so a window is widened to whole hours: `from` is floored to its hour's
 * start and `to` (exclusive) is raised to the next hour's start when it falls inside an hour. Every hour
 * the window touches is counted whole; a window on hour boundaries is counted exactly. Readers that show
 * the window (reports, /v1/usage) show the widened one ({@link hourWindow}).
 *
 * Lines keep the tool and server they came from even when grouped by something else, because prices
 * depend on them (usage/prices.ts): a line is one key x tool x server, and usage/report.ts folds them into
 * one invoice line per key. Every method is kept (tools/call, find_capability, prompts/get, ...); `method`
 * filters to one, group by `method` splits them.
 */
import { GatewayError } from '../core/errors.js';
import type { Db } from './db.js';

/** What lines are grouped by (`day` and `hour` are UTC). */
export const usageGroupBys = ['tool', 'server', 'agent', 'tenant', 'day', 'hour', 'method'] as const;
export type UsageGroupBy = (typeof usageGroupBys)[number];

/** Sums of metered requests. `durationMs` is the sum of the requests' durations. */
export interface UsageSums {
  readonly calls: number;
  readonly errors: number;
  readonly durationMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/**
 * One group's sums for one tool and server. `key` is the group's value: a tool id, server, agent or method,
 * a UTC date (`2025-01-31`) or hour (`2025-01-31T10:00:00Z`). `''` in tool or server: requests without
 * one (find_capability, say).
 */
export interface UsageLine extends UsageSums {
  readonly key: string;
  readonly tool: string;
  readonly server: string;
}

/** Which rows: a tenant (absent: every tenant), a window in epoch ms (widened to hours), a method. */
export interface UsageFilter {
  readonly tenant?: string | undefined;
  readonly from: number;
  readonly to: number;
  readonly method?: string | undefined;
}

/** The read port the usage reports and quotas speak; {@link SqliteUsageRepo} is its SQLite implementation. */
export interface UsageReader {
  lines(filter: UsageFilter, groupBy: UsageGroupBy): UsageLine[];
  totals(tenant: string, from: number, to: number): UsageSums;
}

const HOUR_MS = 3_600_000;

/** A window widened to whole hours: `from` floored, `to` raised to an hour boundary. Throws BAD_REQUEST when not finite. */
export function hourWindow(from: number, to: number): { from: number; to: number } {
  if (!Number.isFinite(from) || !Number.isFinite(to))
    throw new GatewayError('BAD_REQUEST', 'a usage window needs finite from and to times (epoch ms)', { from, to });
  return { from: Math.floor(from / HOUR_MS) * HOUR_MS, to: Math.ceil(to / HOUR_MS) * HOUR_MS };
}

/** The SQL of each group's key. */
const KEYS: Record<UsageGroupBy, string> = {
  tool: 'tool',
  server: 'server',
  agent: 'agent',
  tenant: 'tenant',
  method: 'method',
  day: "strftime('%Y-%m-%d', hour / 1000, 'unixepoch')",
  hour: "strftime('%Y-%m-%dT%H:00:00Z', hour / 1000, 'unixepoch')",
};

interface Row {
  key: string;
  tool: string;
  server: string;
  calls: number;
  errors: number;
  duration_ms: number;
  bytes_in: number;
  bytes_out: number;
}

const SUMS =
  'coalesce(sum(calls), 0) AS calls, coalesce(sum(errors), 0) AS errors, coalesce(sum(duration_ms), 0.0) AS duration_ms, ' +
  'coalesce(sum(bytes_in), 0) AS bytes_in, coalesce(sum(bytes_out), 0) AS bytes_out';

type Statement = ReturnType<Db['prepare']>;

/** Usage sums from SQLite (`usage_hourly`). Statements are prepared on first use, one per query shape. */
export class SqliteUsageRepo implements UsageReader {
  readonly #db: Db;
  readonly #statements = new Map<string, Statement>();

  constructor(db: Db) {
    this.#db = db;
  }

  /** Sums per group x tool x server, ordered by key, tool, server. */
  lines(filter: UsageFilter, groupBy: UsageGroupBy): UsageLine[] {
    const key = KEYS[groupBy];
    if (key === undefined) throw new GatewayError('BAD_REQUEST', `usage cannot be grouped by "${String(groupBy)}"`);
    const { from, to } = hourWindow(filter.from, filter.to);
    if (to <= from) return [];
    const where = [
      ...(filter.tenant !== undefined ? ['tenant = @tenant'] : []),
      'hour >= @from AND hour < @to',
      ...(filter.method !== undefined ? ['method = @method'] : []),
    ].join(' AND ');
    const sql = `SELECT ${key} AS key, tool, server, ${SUMS} FROM usage_hourly WHERE ${where} GROUP BY 1, tool, server ORDER BY 1, tool, server`;
    const params = {
      from,
      to,
      ...(filter.tenant !== undefined ? { tenant: filter.tenant } : {}),
      ...(filter.method !== undefined ? { method: filter.method } : {}),
    };
    return (this.#statement(sql).all(params) as Row[]).map((row) => ({
      key: row.key,
      tool: row.tool,
      server: row.server,
      ...sums(row),
    }));
  }

  /** One tenant's sums over a window (widened to hours). */
  totals(tenant: string, from: number, to: number): UsageSums {
    const window = hourWindow(from, to);
    if (window.to <= window.from) return sums(undefined);
    const sql = `SELECT ${SUMS} FROM usage_hourly WHERE tenant = @tenant AND hour >= @from AND hour < @to`;
    return sums(this.#statement(sql).get({ tenant, ...window }) as Row | undefined);
  }

  #statement(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

function sums(row: Row | undefined): UsageSums {
  return {
    calls: row?.calls ?? 0,
    errors: row?.errors ?? 0,
    durationMs: row?.duration_ms ?? 0,
    bytesIn: row?.bytes_in ?? 0,
    bytesOut: row?.bytes_out ?? 0,
  };
}
