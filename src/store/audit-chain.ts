/**
 * The audit chain's arithmetic: canonical JSON, the row form of an event, and the hash that links
 * each row to the one before it (see audit-repo.ts for the table and docs/architecture.md).
 *
 *   hash(row) = sha256_hex(prevHash + "\n" + canonicalJson(event fields, seq included))
 *
 * where the first row's prevHash is 64 zeros, or the retention anchor (the hash of the last row
 * removed). Canonical JSON is JSON.stringify's output with object keys sorted (by UTF-16 code
 * units) at every level and undefined members omitted; absent (NULL) columns are omitted too.
 *
 * It lives in store/, not audit/, because the repository computes and checks hashes and store/ may
 * not import from above it; audit/ re-uses it (arguments hashes). Normalising an event into its row
 * first (integers rounded, non-finite numbers zeroed, JSON columns as canonical text) makes the hash
 * a function of exactly what is stored, so verify recomputes it from the row without re-parsing.
 */
import { hash } from 'node:crypto';
import type { AuditEvent, StoredAuditEvent } from '../core/audit-event.js';

/** The prevHash of the first row of a chain that never lost a row to retention. */
export const GENESIS_HASH = '0'.repeat(64);

/** Nesting below this depth is written as a marker, so hostile or cyclic values cannot recurse forever. */
export const CANONICAL_MAX_DEPTH = 256;

/**
 * Canonical JSON of a value: JSON.stringify semantics (toJSON honoured; undefined, functions and
 * symbols omitted in objects and null in arrays; NaN and Infinity as null) with keys sorted. A
 * bigint becomes its decimal string; nesting past CANONICAL_MAX_DEPTH becomes "[depth limit]".
 * Returns undefined where JSON.stringify would (undefined, a function, a symbol).
 */
export function canonicalJson(value: unknown): string | undefined {
  return write(value, '', 0);
}

function write(value: unknown, key: string, depth: number): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function')
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object':
      break;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  if (depth >= CANONICAL_MAX_DEPTH) return '"[depth limit]"';
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) parts.push(write(value[i], String(i), depth + 1) ?? 'null');
    return `[${parts.join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const name of Object.keys(record).sort()) {
    const text = write(record[name], name, depth + 1);
    if (text !== undefined) parts.push(`${JSON.stringify(name)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

/** sha256 (hex) of a string (UTF-8). */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/** One audit_events row, as stored (snake_case columns; NULL for absent). */
export interface AuditRow {
  seq: number;
  tenant: string;
  time: number;
  agent: string;
  user: string | null;
  session: string | null;
  subject: string | null;
  trace_id: string | null;
  method: string;
  tool: string | null;
  server: string | null;
  instance: string | null;
  decision: string;
  /** Canonical JSON text of the deciding policy ids. */
  policies: string | null;
  outcome: string;
  error_code: string | null;
  latency_ms: number;
  bytes_in: number;
  bytes_out: number;
  args_hash: string | null;
  /** Canonical JSON text of the (redacted) arguments. */
  args: string | null;
  /** Canonical JSON text of the detail object. */
  detail: string | null;
  prev_hash: string;
  hash: string;
}

type Kind = 'string' | 'number' | 'json';

/** The hashed fields in canonical (sorted) order: event name, column, how the column is written. */
const FIELDS: readonly (readonly [keyof StoredAuditEvent, keyof AuditRow, Kind])[] = (
  [
    ['agent', 'agent', 'string'],
    ['args', 'args', 'json'],
    ['argsHash', 'args_hash', 'string'],
    ['bytesIn', 'bytes_in', 'number'],
    ['bytesOut', 'bytes_out', 'number'],
    ['decision', 'decision', 'string'],
    ['detail', 'detail', 'json'],
    ['errorCode', 'error_code', 'string'],
    ['instance', 'instance', 'string'],
    ['latencyMs', 'latency_ms', 'number'],
    ['method', 'method', 'string'],
    ['outcome', 'outcome', 'string'],
    ['policies', 'policies', 'json'],
    ['seq', 'seq', 'number'],
    ['server', 'server', 'string'],
    ['session', 'session', 'string'],
    ['subject', 'subject', 'string'],
    ['tenant', 'tenant', 'string'],
    ['time', 'time', 'number'],
    ['tool', 'tool', 'string'],
    ['traceId', 'trace_id', 'string'],
    ['user', 'user', 'string'],
  ] as const
)
  .slice()
  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * The canonical JSON of a row's event fields (what its hash covers), built from the stored columns.
 * One JSON.stringify of the scalar columns, keys in sorted order (undefined ones omitted), with the
 * JSON columns' canonical text spliced in where their `0` placeholders are: a quoted key followed by
 * `":` cannot occur inside a string value (its quotes are escaped), so among the scalars the first
 * match is the key, and splicing from the last key back keeps other JSON text after the search.
 */
export function rowCanonicalJson(row: AuditRow): string {
  let json = JSON.stringify({
    agent: row.agent,
    args: row.args === null ? undefined : 0,
    argsHash: row.args_hash ?? undefined,
    bytesIn: row.bytes_in,
    bytesOut: row.bytes_out,
    decision: row.decision,
    detail: row.detail === null ? undefined : 0,
    errorCode: row.error_code ?? undefined,
    instance: row.instance ?? undefined,
    latencyMs: row.latency_ms,
    method: row.method,
    outcome: row.outcome,
    policies: row.policies === null ? undefined : 0,
    seq: row.seq,
    server: row.server ?? undefined,
    session: row.session ?? undefined,
    subject: row.subject ?? undefined,
    tenant: row.tenant,
    time: row.time,
    tool: row.tool ?? undefined,
    traceId: row.trace_id ?? undefined,
    user: row.user ?? undefined,
  });
  // Last key first: each search then runs over scalars and text spliced in after its placeholder.
  if (row.policies !== null) json = splice(json, '"policies":0', row.policies);
  if (row.detail !== null) json = splice(json, '"detail":0', row.detail);
  if (row.args !== null) json = splice(json, '"args":0', row.args);
  return json;
}

function splice(json: string, placeholder: string, text: string): string {
  const at = json.indexOf(placeholder) + placeholder.length - 1;
  return json.slice(0, at) + text + json.slice(at + 1);
}

/** The hash a row must carry, given the hash before it. */
export function rowHash(prevHash: string, row: AuditRow): string {
  return sha256Hex(`${prevHash}\n${rowCanonicalJson(row)}`);
}

const MAX_INT = Number.MAX_SAFE_INTEGER;

/** A lone surrogate would be stored as U+FFFD (SQLite text is UTF-8): replace it first, so the hash covers what is kept. */
function wellFormed(value: string): string {
  return /[\uD800-\uDFFF]/.test(value)
    ? value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    : value;
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return wellFormed(value);
  const scalar = typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint';
  return wellFormed(scalar ? String(value) : (canonicalJson(value) ?? ''));
}

function integer(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(Math.max(Math.round(n), 0), MAX_INT) : 0;
}

function real(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function json(value: unknown): string | null {
  return value === undefined ? null : (canonicalJson(value) ?? null);
}

/**
 * The row an event becomes (without seq and hashes), tolerant of malformed input: strings coerced,
 * integers rounded and clamped to [0, 2^53), negative or non-finite numbers zeroed. A row that the
 * table accepts is worth more than an exception on the writer's timer.
 */
export function eventRow(event: AuditEvent): Omit<AuditRow, 'seq' | 'prev_hash' | 'hash'> {
  return {
    tenant: text(event.tenant) ?? '',
    time: integer(event.time),
    agent: text(event.agent) ?? '',
    user: text(event.user),
    session: text(event.session),
    subject: text(event.subject),
    trace_id: text(event.traceId),
    method: text(event.method) ?? '',
    tool: text(event.tool),
    server: text(event.server),
    instance: text(event.instance),
    decision: text(event.decision) ?? '',
    policies: event.policies === undefined || event.policies === null ? null : json([...event.policies]),
    outcome: text(event.outcome) ?? '',
    error_code: text(event.errorCode),
    latency_ms: real(event.latencyMs),
    bytes_in: integer(event.bytesIn),
    bytes_out: integer(event.bytesOut),
    args_hash: text(event.argsHash),
    args: json(event.args),
    detail: json(event.detail),
  };
}

/** Parses a JSON column; a column edited into invalid JSON reads as its raw text instead of failing. */
function parsed(value: string | null): unknown {
  if (value === null) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** A stored row as an event (absent columns omitted). */
export function rowEvent(row: AuditRow): StoredAuditEvent {
  const event: Record<string, unknown> = {};
  for (const [name, column, kind] of FIELDS) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    event[name] = kind === 'json' ? parsed(value as string) : value;
  }
  event.prevHash = row.prev_hash;
  event.hash = row.hash;
  return event as unknown as StoredAuditEvent;
}

/**
 * The event as a row was stored, without re-parsing its JSON columns: scalar fields from the row
 * (normalised), JSON fields as the event gave them (their canonical JSON is the stored text).
 */
export function storedEvent(row: AuditRow, event: AuditEvent): StoredAuditEvent {
  const out: Record<string, unknown> = {};
  for (const [name, column, kind] of FIELDS) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    out[name] = kind === 'json' ? event[name as keyof AuditEvent] : value;
  }
  out.prevHash = row.prev_hash;
  out.hash = row.hash;
  return out as unknown as StoredAuditEvent;
}
