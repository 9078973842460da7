/**
 * The audit trail in SQLite: an append-only, hash-chained table of events (audit-chain.ts has the
 * arithmetic), the retention anchor, and the hourly usage meter filled in the same transactions.
 *
 * Unlike the other repositories this one is not bound to a tenant: it is the one writer for every
 * tenant of the file (one chain, a global seq), and its readers take the tenant as a filter, which
 * the admin edge always passes for a tenant's admin.
 *
 * Each append runs in one BEGIN IMMEDIATE transaction that reads the chain's tail (the last row, or
 * the anchor when retention emptied the table) before numbering the batch, so two processes writing
 * the same file still extend one chain; the read is one primary-key lookup per batch. usage_hourly
 * gets one upsert per distinct (tenant, hour, agent, tool, server, method) of the batch, for every
 * metered event (isMetered: not an admin change, not a refusal), so metered usage is exactly the sum
 * of the audited metered requests (durations are floating-point sums: equal up to rounding). With
 * `rows: false` (audit.enabled off) only the meter is written: usage is kept without a trail.
 *
 * Readers return events oldest first. `query` (the admin API, `audit query`, `audit export`) orders
 * by (time, seq), so every filter is an index range that starts at the cursor (the indexes end in
 * time, and seq breaks ties): a page costs its rows, not the table's. `tail` and `readAfter` (what
 * `audit tail --follow` polls) order by seq, the commit order, so a follower never misses an event
 * committed after one it printed even when its `time` (when the request entered) is earlier; a
 * `query` cursor over a window still being written can, which is why following uses seq.
 *
 * What the chain proves and does not: a changed, inserted or removed row (and a removed head, unless
 * the anchor was forged too) is found by verify; removing the newest rows is not, which is what the
 * JSONL sink (a copy kept elsewhere) is for.
 */
import type { AuditEvent, StoredAuditEvent } from '../core/audit-event.js';
import { eventRow, GENESIS_HASH, rowEvent, rowHash, storedEvent, type AuditRow } from './audit-chain.js';
import type Database from 'better-sqlite3';
import {
  conditions,
  decodeAuditCursor,
  encodeAuditCursor,
  MAX_AUDIT_PAGE,
  pageLimit,
  where,
  type AuditFilter,
  type AuditPage,
  type AuditPageResult,
} from './audit-query.js';
import type { Db } from './db.js';

export { decodeAuditCursor, encodeAuditCursor, MAX_AUDIT_PAGE };
export type { AuditCursor, AuditFilter, AuditPage, AuditPageResult } from './audit-query.js';

/** The outcome of a chain check: every row's hash and link hold, or the first row where one does not. */
export type AuditVerifyResult =
  { readonly ok: true; readonly rows: number } | { readonly ok: false; readonly seq: number; readonly reason: string };

/** The writer's side of the audit store (the port a Postgres store would implement too). */
export interface AuditSink {
  /** Numbers, chains and stores the events (and meters them) in one transaction; returns them as stored. */
  append(events: readonly AuditEvent[]): StoredAuditEvent[];
  /** Removes rows older than `olderThanMs` (oldest first, at most `maxRows`); returns how many. */
  prune(olderThanMs: number, maxRows?: number): number;
}

/** The readers' side of the audit store. */
export interface AuditReader {
  /** One page of matching events in (time, seq) order. */
  query(filter: AuditFilter, page: AuditPage): AuditPageResult;
  /** The newest `n` matching events by seq (at most 1000), oldest first. */
  tail(filter: AuditFilter, n: number): StoredAuditEvent[];
  /** Matching events with a seq above `seq`, in seq order (at most `limit`, capped at 1000). */
  readAfter(filter: AuditFilter, seq: number, limit: number): StoredAuditEvent[];
  verify(): AuditVerifyResult;
}

const COLUMNS =
  'seq, tenant, time, agent, user, session, subject, trace_id, method, tool, server, instance, decision, policies, ' +
  'outcome, error_code, latency_ms, bytes_in, bytes_out, args_hash, args, detail, prev_hash, hash';

const HOUR_MS = 3_600_000;

/**
 * True when an event counts as usage: every request but admin changes, task requests (get_call,
 * cancel_call: reads of a call that is itself billed once, when it ends) and refusals (`denied`,
 * `limited`), which stay in the trail but are never billed or charged against quotas.
 */
export function isMetered(event: Pick<AuditEvent, 'method' | 'outcome'>): boolean {
  return (
    event.method !== 'admin' && event.method !== 'tasks' && event.outcome !== 'denied' && event.outcome !== 'limited'
  );
}

/** Options of the store. */
export interface AuditRepoOptions {
  /** Keep the audit rows (default true); false meters usage only (audit.enabled: false). */
  readonly rows?: boolean;
}

type Statement = Database.Statement<unknown[]>;

interface UsageSum {
  readonly key: readonly [string, number, string, string, string, string];
  calls: number;
  errors: number;
  duration: number;
  bytesIn: number;
  bytesOut: number;
}

/** The audit store on one SQLite file (all tenants). */
export class SqliteAuditRepo implements AuditSink, AuditReader {
  readonly #db: Db;
  readonly #insert: Statement;
  readonly #usage: Statement;
  readonly #last: Statement;
  readonly #anchor: Statement;
  readonly #append: (events: readonly AuditEvent[]) => StoredAuditEvent[];
  readonly #rows: boolean;
  /** Prepared reads by SQL text (a handful of filter shapes). */
  readonly #reads = new Map<string, Statement>();

  constructor(db: Db, options: AuditRepoOptions = {}) {
    this.#db = db;
    this.#rows = options.rows ?? true;
    this.#insert = db.prepare(`INSERT INTO audit_events (${COLUMNS}) VALUES (${COLUMNS.replace(/\w+/g, '?')})`);
    this.#usage = db.prepare(
      `INSERT INTO usage_hourly (tenant, hour, agent, tool, server, method, calls, errors, duration_ms, bytes_in, bytes_out)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, hour, agent, tool, server, method) DO UPDATE SET
         calls = calls + excluded.calls, errors = errors + excluded.errors,
         duration_ms = duration_ms + excluded.duration_ms,
         bytes_in = bytes_in + excluded.bytes_in, bytes_out = bytes_out + excluded.bytes_out`,
    );
    this.#last = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    this.#anchor = db.prepare('SELECT seq, hash FROM audit_anchor WHERE id = 1');
    const tx = db.transaction((events: readonly AuditEvent[]) => this.#write(events));
    this.#append = (events) => tx.immediate(events);
  }

  /** The chain's tail: the last row's seq and hash, else the anchor's, else the genesis. */
  #tail(): { seq: number; hash: string } {
    return (
      (this.#last.get() as { seq: number; hash: string } | undefined) ??
      (this.#anchor.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS_HASH }
    );
  }

  append(events: readonly AuditEvent[]): StoredAuditEvent[] {
    return events.length === 0 ? [] : this.#append(events);
  }

  /** The events as stored (none without rows). */
  #write(events: readonly AuditEvent[]): StoredAuditEvent[] {
    if (!this.#rows) return this.#meterOnly(events);
    let { seq, hash } = this.#tail();
    const stored: StoredAuditEvent[] = [];
    const usage = new Map<string, UsageSum>();
    for (const event of events) {
      const row = eventRow(event) as AuditRow;
      row.seq = ++seq;
      row.prev_hash = hash;
      row.hash = hash = rowHash(row.prev_hash, row);
      this.#insert.run(
        row.seq,
        row.tenant,
        row.time,
        row.agent,
        row.user,
        row.session,
        row.subject,
        row.trace_id,
        row.method,
        row.tool,
        row.server,
        row.instance,
        row.decision,
        row.policies,
        row.outcome,
        row.error_code,
        row.latency_ms,
        row.bytes_in,
        row.bytes_out,
        row.args_hash,
        row.args,
        row.detail,
        row.prev_hash,
        row.hash,
      );
      stored.push(storedEvent(row, event));
      if (isMetered(row as Pick<AuditEvent, 'method' | 'outcome'>)) meter(usage, row);
    }
    this.#meter(usage);
    return stored;
  }

  #meterOnly(events: readonly AuditEvent[]): StoredAuditEvent[] {
    const usage = new Map<string, UsageSum>();
    for (const event of events)
      if (isMetered(event)) meter(usage, { ...eventRow(event), seq: 0, prev_hash: '', hash: '' });
    this.#meter(usage);
    return [];
  }

  #meter(usage: ReadonlyMap<string, UsageSum>): void {
    for (const sum of usage.values())
      this.#usage.run(...sum.key, sum.calls, sum.errors, sum.duration, sum.bytesIn, sum.bytesOut);
  }

  prune(olderThanMs: number, maxRows = Number.POSITIVE_INFINITY): number {
    return this.#db.transaction(() => {
      const bounds = this.#db.prepare('SELECT MIN(seq) AS first, MAX(seq) AS last FROM audit_events').get() as {
        first: number | null;
        last: number | null;
      };
      if (bounds.first === null || bounds.last === null) return 0;
      // Rows go in seq order (a prefix), so the chain stays one piece: the first row kept is the
      // first one not older than the cutoff (a scan from the oldest row, which is what is removed).
      const keep = this.#db
        .prepare('SELECT seq FROM audit_events WHERE +time >= ? ORDER BY seq LIMIT 1')
        .get(Math.floor(olderThanMs)) as { seq: number } | undefined;
      let upTo = keep ? keep.seq - 1 : bounds.last;
      if (Number.isFinite(maxRows)) upTo = Math.min(upTo, bounds.first + Math.max(1, Math.floor(maxRows)) - 1);
      if (upTo < bounds.first) return 0;
      const boundary = this.#db
        .prepare('SELECT seq, hash FROM audit_events WHERE seq <= ? ORDER BY seq DESC LIMIT 1')
        .get(upTo) as { seq: number; hash: string };
      const removed = this.#db.prepare('DELETE FROM audit_events WHERE seq <= ?').run(upTo).changes;
      this.#db
        .prepare(
          'INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
        )
        .run(boundary.seq, boundary.hash);
      return removed;
    })();
  }

  query(filter: AuditFilter, page: AuditPage): AuditPageResult {
    const limit = pageLimit(page.limit);
    const at = page.after === undefined ? undefined : decodeAuditCursor(page.after);
    const { clauses, params } = conditions(filter, false);
    // The cursor replaces `since` as the range's start (its row matched it); one behind the window is moot.
    if (at && (filter.since === undefined || at.time >= filter.since)) {
      const since = clauses.indexOf('time >= ?');
      if (since >= 0) {
        clauses.splice(since, 1);
        params.splice(since, 1);
      }
      clauses.push('(time, seq) > (?, ?)');
      params.push(at.time, at.seq);
    }
    const rows = this.#read(`SELECT ${COLUMNS} FROM audit_events${where(clauses)} ORDER BY time, seq LIMIT ?`).all(
      ...params,
      limit + 1,
    ) as AuditRow[];
    const events = rows.slice(0, limit).map(rowEvent);
    const last = events[events.length - 1];
    return rows.length > limit && last ? { events, nextCursor: encodeAuditCursor(last) } : { events };
  }

  tail(filter: AuditFilter, n: number): StoredAuditEvent[] {
    const { clauses, params } = conditions(filter, true);
    const rows = this.#read(`SELECT ${COLUMNS} FROM audit_events${where(clauses)} ORDER BY seq DESC LIMIT ?`).all(
      ...params,
      pageLimit(n),
    ) as AuditRow[];
    return rows.reverse().map(rowEvent);
  }

  readAfter(filter: AuditFilter, seq: number, limit: number): StoredAuditEvent[] {
    const { clauses, params } = conditions(filter, true);
    clauses.unshift('seq > ?');
    params.unshift(Math.floor(seq));
    const rows = this.#read(`SELECT ${COLUMNS} FROM audit_events${where(clauses)} ORDER BY seq LIMIT ?`).all(
      ...params,
      pageLimit(limit),
    ) as AuditRow[];
    return rows.map(rowEvent);
  }

  /**
   * Walks the whole chain in seq order (one row in memory at a time) and names the first row that
   * breaks it: a missing seq (rows removed), a prev_hash that is not the previous row's (or the
   * anchor's) hash, or a hash that does not match the row's content (the row was edited).
   */
  verify(): AuditVerifyResult {
    const anchor = this.#anchor.get() as { seq: number; hash: string } | undefined;
    let expected = anchor ? anchor.seq + 1 : 1;
    let prev = anchor?.hash ?? GENESIS_HASH;
    let rows = 0;
    const all = this.#db.prepare(`SELECT ${COLUMNS} FROM audit_events ORDER BY seq`);
    for (const row of all.iterate() as IterableIterator<AuditRow>) {
      if (row.seq !== expected)
        return row.seq > expected
          ? { ok: false, seq: expected, reason: `row missing: seq ${expected} to ${row.seq - 1} are not in the table` }
          : { ok: false, seq: row.seq, reason: `seq ${row.seq} is out of order (expected ${expected})` };
      if (row.prev_hash !== prev)
        return {
          ok: false,
          seq: row.seq,
          reason:
            rows > 0
              ? `prev_hash is not the hash of seq ${row.seq - 1}: a row was changed or replaced`
              : anchor
                ? `prev_hash is not the retention anchor's (seq ${anchor.seq}): rows before it were changed or removed`
                : 'prev_hash is not the chain start (64 zeros): rows before it were removed',
        };
      if (rowHash(prev, row) !== row.hash)
        return { ok: false, seq: row.seq, reason: "hash does not match the row's content: the row was edited" };
      prev = row.hash;
      expected++;
      rows++;
    }
    return { ok: true, rows };
  }

  #read(sql: string): Statement {
    let statement = this.#reads.get(sql);
    if (!statement) this.#reads.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }
}

/** Adds a row to its usage bucket (the hour it started in). */
function meter(usage: Map<string, UsageSum>, row: AuditRow): void {
  const hour = Math.floor(row.time / HOUR_MS) * HOUR_MS;
  const tool = row.tool ?? '';
  const server = row.server ?? '';
  const id = `${row.tenant}\u0000${hour}\u0000${row.agent}\u0000${tool}\u0000${server}\u0000${row.method}`;
  let sum = usage.get(id);
  if (!sum) {
    sum = {
      key: [row.tenant, hour, row.agent, tool, server, row.method],
      calls: 0,
      errors: 0,
      duration: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    usage.set(id, sum);
  }
  sum.calls += 1;
  if (row.outcome !== 'success') sum.errors += 1;
  sum.duration += row.latency_ms;
  sum.bytesIn += row.bytes_in;
  sum.bytesOut += row.bytes_out;
}
