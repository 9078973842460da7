/**
 * An in-memory TaskStore (core/tasks.ts) with the SQLite store's semantics (tasks-repo.ts): the same
 * checks and errors (tasks-checks.ts), the same keyset order and cursors, the same unique keys, and JSON
 * columns that round-trip through JSON text, so a record read back equals what SQLite would return and
 * no caller can change a stored record through an object it holds. The second implementation of the
 * port: units run on it, and the contract suite (test/task-store.test.ts) runs on both.
 *
 * Rows live in a {@link MemoryTaskTable}; stores of several tenants may share one table, as SQLite
 * stores share a file, and each still sees only its own tenant's rows. Nothing survives the process:
 * this store is for tests and for a gateway whose store is `:memory:` anyway.
 */
import { GatewayError } from '../core/errors.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import {
  isTaskId,
  isTerminal,
  zeroCounts,
  type NewTask,
  type TaskFilter,
  type TaskPage,
  type TaskPageResult,
  type TaskPatch,
  type TaskRecord,
  type TaskStatus,
  type TaskStore,
} from '../core/tasks.js';
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
  type TaskCursor,
} from './tasks-checks.js';

/** The rows of one or more tenants' memory stores (what a database file is to the SQLite store). */
export class MemoryTaskTable {
  /** By tenant, then id. */
  readonly rows = new Map<string, Map<string, TaskRecord>>();
}

/** Options of the store. */
export interface MemoryTaskStoreOptions {
  readonly tenant?: string;
  /** The clock of `updatedAt` when a patch does not give it (epoch ms; default Date.now). */
  readonly now?: () => number;
  /** Rows shared with other tenants' stores (default: a table of this store's own). */
  readonly table?: MemoryTaskTable;
}

/** (createdAt, id) descending: the list order; negative when `a` comes first. */
function newestFirst(a: TaskCursor, b: TaskCursor): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

const byId = (a: TaskRecord, b: TaskRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Tasks of one tenant in memory. */
export class MemoryTaskStore implements TaskStore {
  readonly tenant: string;
  readonly #now: () => number;
  readonly #rows: Map<string, TaskRecord>;

  constructor(options: MemoryTaskStoreOptions = {}) {
    this.tenant = options.tenant ?? DEFAULT_TENANT;
    this.#now = options.now ?? Date.now;
    const table = options.table ?? new MemoryTaskTable();
    let rows = table.rows.get(this.tenant);
    if (!rows) table.rows.set(this.tenant, (rows = new Map<string, TaskRecord>()));
    this.#rows = rows;
  }

  insert(task: NewTask): TaskRecord {
    const { record, json } = checkNewTask(task, this.tenant);
    if (this.#rows.has(record.id))
      throw new GatewayError('BAD_REQUEST', `a task with id ${record.id} exists already`, { id: record.id });
    this.#checkUpstreamUnique(record);
    this.#rows.set(record.id, {
      ...record,
      principal: JSON.parse(json.principal) as TaskRecord['principal'],
      request: parse(json.request),
      result: parse(json.result),
      error: parse(json.error),
    });
    return this.get(record.id) as TaskRecord;
  }

  get(id: string): TaskRecord | undefined {
    if (typeof id !== 'string' || !isTaskId(id)) return undefined;
    const row = this.#rows.get(id);
    return row ? structuredClone(row) : undefined;
  }

  update(id: string, patch: TaskPatch, expectVersion?: number): boolean {
    checkVersion(expectVersion);
    if (typeof id !== 'string' || !isTaskId(id)) return false;
    const current = this.#rows.get(id);
    if (!current || (expectVersion !== undefined && current.version !== expectVersion)) return false;
    const { record, result, error } = checkPatch(current, patch, this.#now());
    this.#checkUpstreamUnique(record);
    this.#rows.set(id, { ...record, result: parse(result), error: parse(error) });
    return true;
  }

  list(filter: TaskFilter, page: TaskPage): TaskPageResult {
    checkFilter(filter);
    const limit = pageLimit(page.limit);
    const at = page.cursor === undefined ? undefined : decodeTaskCursor(page.cursor);
    const rows = [...this.#rows.values()]
      .filter(
        (row) =>
          (filter.owner === undefined || row.owner === filter.owner) &&
          (filter.status === undefined || row.status === filter.status) &&
          (filter.server === undefined || row.server === filter.server) &&
          (!at || newestFirst(at, row) < 0),
      )
      .sort(newestFirst)
      .slice(0, limit + 1);
    const tasks = rows.slice(0, limit).map((row) => structuredClone(row));
    const last = tasks[tasks.length - 1];
    return rows.length > limit && last ? { tasks, nextCursor: encodeTaskCursor(last) } : { tasks };
  }

  active(): TaskRecord[] {
    return [...this.#rows.values()]
      .filter((row) => !isTerminal(row.status))
      .sort((a, b) => a.createdAt - b.createdAt || byId(a, b))
      .map((row) => structuredClone(row));
  }

  expired(now: number, limit: number): TaskRecord[] {
    checkNow(now);
    const cutoff = Math.floor(now);
    return [...this.#rows.values()]
      .filter((row) => row.expiresAt <= cutoff)
      .sort((a, b) => a.expiresAt - b.expiresAt || byId(a, b))
      .slice(0, batchLimit(limit))
      .map((row) => structuredClone(row));
  }

  delete(ids: readonly string[]): number {
    checkIds(ids);
    let removed = 0;
    for (const id of ids) if (typeof id === 'string' && this.#rows.delete(id)) removed++;
    return removed;
  }

  counts(): Record<TaskStatus, number> {
    const counts = zeroCounts();
    for (const row of this.#rows.values()) counts[row.status]++;
    return counts;
  }

  /**
   * SQLite's tasks_upstream: one gateway task per (server, instance, upstream task id). As in a SQLite
   * unique index, a null in any of the three never conflicts.
   */
  #checkUpstreamUnique(record: TaskRecord): void {
    if (record.upstreamTaskId === null || record.server === null || record.upstreamInstance === null) return;
    for (const row of this.#rows.values())
      if (
        row.id !== record.id &&
        row.upstreamTaskId === record.upstreamTaskId &&
        row.server === record.server &&
        row.upstreamInstance === record.upstreamInstance
      )
        throw new GatewayError('BAD_REQUEST', `another task already follows upstream task ${record.upstreamTaskId}`, {
          id: record.id,
          server: record.server,
          upstreamInstance: record.upstreamInstance,
          upstreamTaskId: record.upstreamTaskId,
        });
  }
}

function parse<T>(json: string | null): T | null {
  return json === null ? null : (JSON.parse(json) as T);
}
