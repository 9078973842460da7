/**
 * Audit events as JSONL and CSV, for `switchboard audit export`, the file sink and the admin API.
 *
 * JSONL: one event per line as its canonical JSON (keys sorted, absent fields omitted, times in epoch
 * ms), so a line's hash can be recomputed from the line alone: drop `hash` and `prevHash`, hash
 * prevHash + "\n" + the rest (see store/audit-chain.ts).
 *
 * CSV (RFC 4180): a header row, CRLF line ends, a field quoted when it holds a comma, a quote, CR or
 * LF (quotes doubled). A text cell that a spreadsheet would read as a formula (starting with =, +,
 * -, @, or a tab or CR, per OWASP's CSV injection advice) is prefixed with a single quote. Times are
 * ISO 8601 (UTC); policies are space-separated; args and detail are JSON.
 */
import type { StoredAuditEvent } from '../core/audit-event.js';
import { canonicalJson } from '../store/audit-chain.js';

/** Export formats. */
export type ExportFormat = 'jsonl' | 'csv';

/** One event as a JSONL line (no newline). */
export function toJsonl(event: StoredAuditEvent): string {
  return canonicalJson(event) ?? '{}';
}

/** CSV columns, in order: header name and how the cell is read from the event. */
const CSV_COLUMNS: readonly (readonly [string, (e: StoredAuditEvent) => string | number | undefined])[] = [
  ['seq', (e) => e.seq],
  ['time', (e) => isoTime(e.time)],
  ['tenant', (e) => e.tenant],
  ['agent', (e) => e.agent],
  ['user', (e) => e.user],
  ['session', (e) => e.session],
  ['subject', (e) => e.subject],
  ['trace_id', (e) => e.traceId],
  ['method', (e) => e.method],
  ['tool', (e) => e.tool],
  ['server', (e) => e.server],
  ['instance', (e) => e.instance],
  ['decision', (e) => e.decision],
  ['policies', (e) => e.policies?.join(' ')],
  ['outcome', (e) => e.outcome],
  ['error_code', (e) => e.errorCode],
  ['latency_ms', (e) => e.latencyMs],
  ['bytes_in', (e) => e.bytesIn],
  ['bytes_out', (e) => e.bytesOut],
  ['args_hash', (e) => e.argsHash],
  ['args', (e) => canonicalJson(e.args)],
  ['detail', (e) => canonicalJson(e.detail)],
  ['prev_hash', (e) => e.prevHash],
  ['hash', (e) => e.hash],
];

/** Epoch ms as ISO 8601 (UTC); a value out of Date's range stays a number. */
export function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** The CSV header row (with its CRLF). */
export function csvHeader(): string {
  return `${CSV_COLUMNS.map(([name]) => name).join(',')}\r\n`;
}

/** One event as a CSV row (with its CRLF). */
export function toCsvRow(event: StoredAuditEvent): string {
  return `${CSV_COLUMNS.map(([, read]) => csvCell(read(event))).join(',')}\r\n`;
}

/** One CSV field: empty for absent, formula-guarded text, RFC 4180 quoting where needed. */
export function csvCell(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '';
  let text = String(value);
  if (typeof value !== 'number' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Events in a format: JSONL lines, or CSV rows (with the header when `header` is set). */
export function formatEvents(events: readonly StoredAuditEvent[], format: ExportFormat, header = false): string {
  if (format === 'jsonl') return events.map((e) => `${toJsonl(e)}\n`).join('');
  return (header ? csvHeader() : '') + events.map(toCsvRow).join('');
}
