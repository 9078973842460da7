/**
 * SQLite implementation of the TaskStore port (core/tasks.ts): the durable task registry's rows, table
 * `tasks` (store/db.ts, migration 11). A store is bound to one tenant and reads and writes only that
 * tenant's rows; ids are unique per tenant.
 *
 * Every statement is prepared once (list's sixteen filter shapes lazily, by SQL text). Lists are keyset
 * pages ordered by (created_at, id) descending, so a page is an index range that starts right after
 * the cursor: an owner's list walks tasks_owner, an admin's walks tasks_created or tasks_status
 * backwards. An update reads the row and writes it in one BEGIN IMMEDIATE transaction, so two
 * gateways on one file cannot both apply a change from the same version. Inputs are checked by
 * tasks-checks.ts, exactly as the in-memory store checks them.
 */
import { GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import {
  TASK_STATUSES,
  isTaskId,
  zeroCounts,
  type NewTask,
  type TaskFilter,
  type TaskOwner,
  type TaskPage,
  type TaskPageResult,
  type TaskPatch,
  type TaskRecord,
  type TaskStatus,
  type TaskStore,
} from '../core/tasks.js';
import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import {
  batchLimit,
  checkFilter,
  checkIds,
  checkNewTask,
  checkNow,
  checkPatch,
  checkVersion,
  decodeTaskCursor,
  encodeTaskCursor,
  pageLimit,
} from './tasks-checks.js';

/** A row as SQLite returns it. */
interface Row {
  tenant: string;
  id: string;
  owner: string;
  principal: string;
  session: string | null;
  origin: TaskRecord['origin'];
  method: string;
  tool: string;
  server: string | null;
  request: string | null;
  args_hash: string;
  rerun_safe: number;
  mode: TaskRecord['mode'];
  upstream_instance: string | null;
  upstream_task_id: string | null;
  upstream_era: TaskRecord['upstreamEra'];
  status: TaskStatus;
  status_message: string | null;
  progress: number | null;
  progress_total: number | null;
  created_at: number;
  updated_at: number;
  deadline_at: number;
  ttl_ms: number;
  expires_at: number;
  poll_interval_ms: number;
  result: string | null;
  error: string | null;
  runs: number;
  version: number;
}

const COLUMNS =
  'tenant, id, owner, principal, session, origin, method, tool, server, request, args_hash, rerun_safe, mode, ' +
  'upstream_instance, upstream_task_id, upstream_era, status, status_message, progress, progress_total, ' +
  'created_at, updated_at, deadline_at, ttl_ms, expires_at, poll_interval_ms, result, error, runs, version';

/** The columns an update writes (everything a TaskPatch may change, and the version). */
const MUTABLE =
  'mode = ?, upstream_instance = ?, upstream_task_id = ?, upstream_era = ?, status = ?, status_message = ?, ' +
  'progress = ?, progress_total = ?, updated_at = ?, deadline_at = ?, ttl_ms = ?, expires_at = ?, ' +
  'poll_interval_ms = ?, result = ?, error = ?, runs = ?, version = ?';

/** JSON columns are checked by json_valid on write, so parsing them back cannot fail. */
function parsed<T>(json: string | null): T | null {
  return json === null ? null : (JSON.parse(json) as T);
}

function fromRow(row: Row): TaskRecord {
  return {
    tenant: row.tenant,
    id: row.id,
    owner: row.owner as TaskOwner,
    principal: JSON.parse(row.principal) as TaskRecord['principal'],
    session: row.session,
    origin: row.origin,
    method: row.method,
    tool: row.tool,
    server: row.server,
    request: parsed<NonNullable<TaskRecord['request']>>(row.request),
    argsHash: row.args_hash,
    rerunSafe: row.rerun_safe === 1,
    mode: row.mode,
    upstreamInstance: row.upstream_instance,
    upstreamTaskId: row.upstream_task_id,
    upstreamEra: row.upstream_era,
    status: row.status,
    statusMessage: row.status_message,
    progress: row.progress,
    progressTotal: row.progress_total,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deadlineAt: row.deadline_at,
    ttlMs: row.ttl_ms,
    expiresAt: row.expires_at,
    pollIntervalMs: row.poll_interval_ms,
    result: parsed<NonNullable<TaskRecord['result']>>(row.result),
    error: parsed<NonNullable<TaskRecord['error']>>(row.error),
    runs: row.runs,
    version: row.version,
  };
}

/** A unique-key failure (a second task of one id, or of one upstream task) as the store's BAD_REQUEST. */
function conflict(error: unknown, task: NewTask | TaskRecord): never {
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    throw new GatewayError('BAD_REQUEST', `a task with id ${task.id} exists already`, { id: task.id });
  if (code === 'SQLITE_CONSTRAINT_UNIQUE')
    throw new GatewayError('BAD_REQUEST', `another task already follows upstream task ${task.upstreamTaskId}`, {
      id: task.id,
      server: task.server,
      upstreamInstance: task.upstreamInstance,
      upstreamTaskId: task.upstreamTaskId,
    });
  throw error;
}

/** Options of the store. */
export interface SqliteTaskStoreOptions {
  /** The tenant this instance is bound to (default `default`). */
  readonly tenant?: string;
  /** The clock of `updatedAt` when a patch does not give it (epoch ms; default Date.now). */
  readonly now?: () => number;
}

type Statement = Database.Statement<unknown[], Row>;

/** Durable tasks of one tenant in SQLite. */
export class SqliteTaskStore implements TaskStore {
  readonly tenant: string;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #insert;
  readonly #get;
  readonly #update;
  readonly #active;
  readonly #expired;
  readonly #delete;
  readonly #counts;
  readonly #apply: (id: string, patch: TaskPatch, expectVersion: number | undefined) => boolean;
  readonly #remove: (ids: readonly string[]) => number;
  /** Prepared list reads by SQL text (sixteen filter shapes at most). */
  readonly #lists = new Map<string, Statement>();

  constructor(db: Db, options: SqliteTaskStoreOptions = {}) {
    this.#db = db;
    this.tenant = options.tenant ?? DEFAULT_TENANT;
    this.#now = options.now ?? Date.now;
    this.#insert = db.prepare<unknown[]>(`INSERT INTO tasks (${COLUMNS}) VALUES (${COLUMNS.replace(/\w+/g, '?')})`);
    this.#get = db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM tasks WHERE tenant = ? AND id = ?`);
    this.#update = db.prepare<unknown[]>(`UPDATE tasks SET ${MUTABLE} WHERE tenant = ? AND id = ? AND version = ?`);
    this.#active = db.prepare<[string], Row>(
      // No ORDER BY: SQLite would walk the tenant's whole tasks_created (finished tasks too) to avoid a
      // sort; this reads the two status ranges of tasks_status, and active() sorts the few rows.
      `SELECT ${COLUMNS} FROM tasks WHERE tenant = ? AND status IN ('working', 'input_required')`,
    );
    this.#expired = db.prepare<[string, number, number], Row>(
      `SELECT ${COLUMNS} FROM tasks WHERE tenant = ? AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
    );
    this.#delete = db.prepare<[string, string]>('DELETE FROM tasks WHERE tenant = ? AND id = ?');
    this.#counts = db.prepare<[string], { status: TaskStatus; n: number }>(
      'SELECT status, count(*) AS n FROM tasks WHERE tenant = ? GROUP BY status',
    );
    const apply = db.transaction((id: string, patch: TaskPatch, expectVersion: number | undefined) =>
      this.#applyNow(id, patch, expectVersion),
    );
    this.#apply = (id, patch, expectVersion) => apply.immediate(id, patch, expectVersion);
    const remove = db.transaction((ids: readonly string[]) => {
      let removed = 0;
      for (const id of ids)
        if (typeof id === 'string' && isTaskId(id)) removed += this.#delete.run(this.tenant, id).changes;
      return removed;
    });
    this.#remove = (ids) => remove.immediate(ids);
  }

  insert(task: NewTask): TaskRecord {
    const { record, json } = checkNewTask(task, this.tenant);
    try {
      this.#insert.run(
        record.tenant,
        record.id,
        record.owner,
        json.principal,
        record.session,
        record.origin,
        record.method,
        record.tool,
        record.server,
        json.request,
        record.argsHash,
        record.rerunSafe ? 1 : 0,
        record.mode,
        record.upstreamInstance,
        record.upstreamTaskId,
        record.upstreamEra,
        record.status,
        record.statusMessage,
        record.progress,
        record.progressTotal,
        record.createdAt,
        record.updatedAt,
        record.deadlineAt,
        record.ttlMs,
        record.expiresAt,
        record.pollIntervalMs,
        json.result,
        json.error,
        record.runs,
        record.version,
      );
    } catch (error) {
      conflict(error, record);
    }
    return this.get(record.id) as TaskRecord;
  }

  get(id: string): TaskRecord | undefined {
    if (typeof id !== 'string' || !isTaskId(id)) return undefined;
    const row = this.#get.get(this.tenant, id);
    return row ? fromRow(row) : undefined;
  }

  update(id: string, patch: TaskPatch, expectVersion?: number): boolean {
    checkVersion(expectVersion);
    if (typeof id !== 'string' || !isTaskId(id)) return false;
    return this.#apply(id, patch, expectVersion);
  }

  /** The update's body, inside its transaction. */
  #applyNow(id: string, patch: TaskPatch, expectVersion: number | undefined): boolean {
    const row = this.#get.get(this.tenant, id);
    if (!row || (expectVersion !== undefined && row.version !== expectVersion)) return false;
    const { record, result, error } = checkPatch(fromRow(row), patch, this.#now());
    try {
      const changes = this.#update.run(
        record.mode,
        record.upstreamInstance,
        record.upstreamTaskId,
        record.upstreamEra,
        record.status,
        record.statusMessage,
        record.progress,
        record.progressTotal,
        record.updatedAt,
        record.deadlineAt,
        record.ttlMs,
        record.expiresAt,
        record.pollIntervalMs,
        result,
        error,
        record.runs,
        record.version,
        this.tenant,
        id,
        row.version,
      ).changes;
      return changes === 1;
    } catch (failure) {
      return conflict(failure, record);
    }
  }

  list(filter: TaskFilter, page: TaskPage): TaskPageResult {
    checkFilter(filter);
    const limit = pageLimit(page.limit);
    const at = page.cursor === undefined ? undefined : decodeTaskCursor(page.cursor);
    const clauses = ['tenant = ?'];
    const params: unknown[] = [this.tenant];
    const where = (clause: string, ...values: unknown[]) => {
      clauses.push(clause);
      params.push(...values);
    };
    if (filter.owner !== undefined) where('owner = ?', filter.owner);
    if (filter.status !== undefined) where('status = ?', filter.status);
    if (filter.server !== undefined) where('server = ?', filter.server);
    // A row value: the range starts right after the cursor's (created_at, id) in the descending order.
    if (at) where('(created_at, id) < (?, ?)', at.createdAt, at.id);
    const sql = `SELECT ${COLUMNS} FROM tasks WHERE ${clauses.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`;
    let statement = this.#lists.get(sql);
    if (!statement) this.#lists.set(sql, (statement = this.#db.prepare<unknown[], Row>(sql)));
    const rows = statement.all(...params, limit + 1);
    const tasks = rows.slice(0, limit).map(fromRow);
    const last = tasks[tasks.length - 1];
    return rows.length > limit && last ? { tasks, nextCursor: encodeTaskCursor(last) } : { tasks };
  }

  active(): TaskRecord[] {
    return this.#active
      .all(this.tenant)
      .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(fromRow);
  }

  expired(now: number, limit: number): TaskRecord[] {
    checkNow(now);
    return this.#expired.all(this.tenant, Math.floor(now), batchLimit(limit)).map(fromRow);
  }

  delete(ids: readonly string[]): number {
    checkIds(ids);
    return ids.length === 0 ? 0 : this.#remove(ids);
  }

  counts(): Record<TaskStatus, number> {
    const counts = zeroCounts();
    for (const { status, n } of this.#counts.all(this.tenant)) if (TASK_STATUSES.includes(status)) counts[status] = n;
    return counts;
  }
}
