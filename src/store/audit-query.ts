/**
 * What audit readers ask for: filters, pages and their cursors, and the SQL conditions a filter
 * becomes (used by audit-repo.ts; a Postgres store would share the types and the cursor).
 *
 * A cursor is opaque to callers: `a1.<time>.<seq>` in base 36, the (time, seq) of the last row of a
 * page, so the next page is an index range starting right after it.
 */
import type { AuditMethod, AuditOutcome, StoredAuditEvent } from '../core/audit-event.js';
import { GatewayError } from '../core/errors.js';

/** What a query selects; every field narrows (absent: any). `since` is inclusive, `until` exclusive. */
export interface AuditFilter {
  readonly tenant?: string | undefined;
  readonly agent?: string | undefined;
  readonly user?: string | undefined;
  readonly tool?: string | undefined;
  readonly server?: string | undefined;
  readonly method?: AuditMethod | undefined;
  readonly outcome?: AuditOutcome | undefined;
  /** Epoch ms, inclusive. */
  readonly since?: number | undefined;
  /** Epoch ms, exclusive. */
  readonly until?: number | undefined;
}

/** A page request: the rows after a cursor (the previous page's `nextCursor`; absent: from the start). */
export interface AuditPage {
  readonly after?: string | undefined;
  /** Rows per page, 1 to 1000 (larger is capped). */
  readonly limit: number;
}

/** One page of events, oldest first; `nextCursor` is present when more rows match. */
export interface AuditPageResult {
  readonly events: StoredAuditEvent[];
  readonly nextCursor?: string;
}

/** Largest page a query returns. */
export const MAX_AUDIT_PAGE = 1000;

const CURSOR = /^a1\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})$/;

/** A query position: the (time, seq) of the last row returned. */
export interface AuditCursor {
  readonly time: number;
  readonly seq: number;
}

/** The opaque cursor for "rows after this one" in query order. */
export function encodeAuditCursor(at: AuditCursor): string {
  return `a1.${at.time.toString(36)}.${at.seq.toString(36)}`;
}

/** The position a cursor stands for; BAD_REQUEST for one this store did not issue. */
export function decodeAuditCursor(cursor: string): AuditCursor {
  const match = CURSOR.exec(cursor);
  const time = match ? parseInt(match[1] ?? '', 36) : NaN;
  const seq = match ? parseInt(match[2] ?? '', 36) : NaN;
  if (!Number.isSafeInteger(time) || !Number.isSafeInteger(seq))
    throw new GatewayError('BAD_REQUEST', 'cursor is not one this server issued: pass nextCursor from the last page');
  return { time, seq };
}

/** Filter fields that compare a column for equality, and their columns. */
const EQUALS: readonly (readonly [keyof AuditFilter, string])[] = [
  ['tenant', 'tenant'],
  ['agent', 'agent'],
  ['user', 'user'],
  ['tool', 'tool'],
  ['server', 'server'],
  ['method', 'method'],
  ['outcome', 'outcome'],
];

/** A page size within 1..MAX_AUDIT_PAGE. */
export function pageLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.min(Math.max(Math.floor(limit), 1), MAX_AUDIT_PAGE) : MAX_AUDIT_PAGE;
}

/**
 * The WHERE conditions of a filter. `bySeq` marks the columns with a unary `+`, which keeps SQLite
 * off their indexes: a seq-ordered read walks the primary key from its end instead of sorting every
 * matching row of an index.
 */
export function conditions(filter: AuditFilter, bySeq: boolean): { clauses: string[]; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const column = (name: string) => (bySeq ? `+${name}` : name);
  for (const [field, name] of EQUALS) {
    const value = filter[field];
    if (value === undefined) continue;
    clauses.push(`${column(name)} = ?`);
    params.push(String(value));
  }
  // Times are integers: time >= 10.5 is time >= 11, time < 10.5 is time < 11.
  if (filter.since !== undefined) {
    clauses.push(`${column('time')} >= ?`);
    params.push(Math.ceil(filter.since));
  }
  if (filter.until !== undefined) {
    clauses.push(`${column('time')} < ?`);
    params.push(Math.ceil(filter.until));
  }
  return { clauses, params };
}

/** ` WHERE a AND b`, or nothing. */
export function where(clauses: readonly string[]): string {
  return clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '';
}
