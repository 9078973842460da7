/**
 * Usage reports: invoice lines (one per tool, server, agent, day, hour or method) with their cost, a
 * total, and CSV and JSON renderings, for `switchboard usage report` and `GET /v1/usage`.
 *
 * Cost is computed in full double precision per key x tool x server line (usage/prices.ts) and summed
 * unrounded; only the report shown is rounded: costs to {@link COST_DECIMALS} decimal places (a millionth
 * of the currency unit, since per-call prices are often fractions of a cent) and durations to whole
 * microseconds (3 decimals of ms), half away from zero. So the total is the rounded sum of the unrounded
 * lines and may differ from the sum of the rounded lines by at most half a millionth per line.
 */
import { hourWindow, type UsageGroupBy, type UsageLine, type UsageReader } from '../store/usage-repo.js';
import type { PriceTable } from './prices.js';

/** Decimal places of costs in reports. */
export const COST_DECIMALS = 6;
const DURATION_DECIMALS = 3;

/** One invoice line: a group's sums and cost. */
export interface InvoiceLine {
  readonly key: string;
  readonly calls: number;
  readonly errors: number;
  readonly durationMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly cost: number;
}

/** A report as shown: lines ordered by key, the total, the window as counted (widened to whole hours). */
export interface UsageReport {
  /** The tenant reported on; absent: every tenant together. */
  readonly tenant?: string;
  readonly groupBy: UsageGroupBy;
  /** ISO 8601 UTC; `to` is exclusive. */
  readonly from: string;
  readonly to: string;
  readonly currency: string;
  readonly lines: readonly InvoiceLine[];
  readonly total: Omit<InvoiceLine, 'key'>;
}

/** What to report on; `from` and `to` are epoch ms (to exclusive) and are widened to whole hours. */
export interface ReportRequest {
  readonly tenant?: string | undefined;
  readonly from: number;
  readonly to: number;
  readonly groupBy: UsageGroupBy;
  readonly method?: string | undefined;
}

/** Rounds half away from zero to `decimals` places (the epsilon keeps 0.0000005 from reading as 0.00000049...). */
export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return (Math.sign(value) * Math.round(Math.abs(value) * factor * (1 + Number.EPSILON))) / factor;
}

/** Folds key x tool x server lines into one line per key with its cost, in full precision. */
export function priceLines(lines: readonly UsageLine[], prices: PriceTable): InvoiceLine[] {
  const byKey = new Map<string, { -readonly [K in keyof InvoiceLine]: InvoiceLine[K] }>();
  for (const line of lines) {
    let sum = byKey.get(line.key);
    if (!sum) {
      sum = { key: line.key, calls: 0, errors: 0, durationMs: 0, bytesIn: 0, bytesOut: 0, cost: 0 };
      byKey.set(line.key, sum);
    }
    sum.calls += line.calls;
    sum.errors += line.errors;
    sum.durationMs += line.durationMs;
    sum.bytesIn += line.bytesIn;
    sum.bytesOut += line.bytesOut;
    sum.cost += prices.cost(line);
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The total of full-precision lines. */
export function totalOf(lines: readonly InvoiceLine[]): Omit<InvoiceLine, 'key'> {
  const total = { calls: 0, errors: 0, durationMs: 0, bytesIn: 0, bytesOut: 0, cost: 0 };
  for (const line of lines) {
    total.calls += line.calls;
    total.errors += line.errors;
    total.durationMs += line.durationMs;
    total.bytesIn += line.bytesIn;
    total.bytesOut += line.bytesOut;
    total.cost += line.cost;
  }
  return total;
}

function rounded<T extends Omit<InvoiceLine, 'key'>>(line: T): T {
  return {
    ...line,
    durationMs: roundTo(line.durationMs, DURATION_DECIMALS),
    cost: roundTo(line.cost, COST_DECIMALS),
  };
}

/** Builds the report of a tenant (or of every tenant) over a window, rounded for display. */
export function buildUsageReport(
  reader: UsageReader,
  prices: PriceTable,
  currency: string,
  request: ReportRequest,
): UsageReport {
  const window = hourWindow(request.from, request.to);
  const lines = priceLines(
    reader.lines({ tenant: request.tenant, from: window.from, to: window.to, method: request.method }, request.groupBy),
    prices,
  );
  return {
    ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
    groupBy: request.groupBy,
    from: new Date(window.from).toISOString(),
    to: new Date(window.to).toISOString(),
    currency,
    lines: lines.map(rounded),
    total: rounded(totalOf(lines)),
  };
}

/** The report as pretty-printed JSON. */
export function renderJson(report: UsageReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** The first cell of the CSV's total row (no tool, server, agent, method or date reads like it). */
export const TOTAL_ROW_KEY = '(total)';

/**
 * A text cell for CSV: one starting with = + - @ (or a tab or carriage return) is prefixed with `'` so a
 * spreadsheet does not run it as a formula; then RFC 4180 quoting (a cell with a comma, quote, CR or LF is
 * quoted, quotes doubled).
 */
export function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/**
 * The report as CSV (RFC 4180: CRLF line ends, a header row): one row per line, then a `(total)` row.
 * The first column is named after the grouping; costs have {@link COST_DECIMALS} decimals.
 */
export function renderCsv(report: UsageReport): string {
  const header = [report.groupBy, 'calls', 'errors', 'duration_ms', 'bytes_in', 'bytes_out', 'cost', 'currency'];
  const row = (key: string, line: Omit<InvoiceLine, 'key'>) =>
    [
      csvCell(key),
      String(line.calls),
      String(line.errors),
      line.durationMs.toFixed(DURATION_DECIMALS),
      String(line.bytesIn),
      String(line.bytesOut),
      line.cost.toFixed(COST_DECIMALS),
      csvCell(report.currency),
    ].join(',');
  const rows = [header.join(','), ...report.lines.map((line) => row(line.key, line)), row(TOTAL_ROW_KEY, report.total)];
  return `${rows.join('\r\n')}\r\n`;
}
