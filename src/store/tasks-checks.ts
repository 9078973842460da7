/**
 * The checks both TaskStore implementations (tasks-repo.ts, tasks-memory.ts) run on their inputs, and
 * the list cursor they share, so the two refuse the same things with the same BAD_REQUEST and page the
 * same way: every string and JSON column bounded, numbers finite and whole where the column is, enums
 * closed, the status change allowed by core/tasks.ts's state machine.
 *
 * A list cursor is opaque to callers: `t1.<createdAt in base 36>.<id>`, the position of the last task
 * of a page (tasks are listed by createdAt, then id, both descending, so ties in createdAt are broken
 * by id and every task is on exactly one page).
 */
import { GatewayError } from '../core/errors.js';
import {
  MAX_TASK_BATCH,
  MAX_TASK_JSON,
  MAX_TASK_PAGE,
  MAX_TASK_PRINCIPAL_JSON,
  TASK_MODES,
  TASK_ORIGINS,
  TASK_STATUSES,
  TASK_TEXT_LIMITS,
  UPSTREAM_TASK_ERAS,
  canTransition,
  isTaskId,
  isTerminal,
  type NewTask,
  type TaskFilter,
  type TaskPatch,
  type TaskRecord,
  type TaskStatus,
} from '../core/tasks.js';

/** The JSON columns of a record as the text a store keeps. */
export interface TaskJson {
  readonly principal: string;
  readonly request: string | null;
  readonly result: string | null;
  readonly error: string | null;
}

/** A new record that passed the checks, and its JSON columns' text. */
export interface CheckedTask {
  readonly record: TaskRecord;
  readonly json: TaskJson;
}

const PATCH_KEYS: ReadonlySet<string> = new Set<keyof TaskPatch>([
  'status',
  'statusMessage',
  'progress',
  'progressTotal',
  'updatedAt',
  'deadlineAt',
  'ttlMs',
  'expiresAt',
  'pollIntervalMs',
  'result',
  'error',
  'runs',
  'mode',
  'upstreamInstance',
  'upstreamTaskId',
  'upstreamEra',
]);

function bad(message: string, details?: Record<string, unknown>): GatewayError {
  return new GatewayError('BAD_REQUEST', message, details);
}

type Check = (field: string, value: unknown) => void;

/** A bounded string column (`nullable`: or null); required ones may not be empty. */
function text(nullable: boolean): Check {
  return (field, value) => {
    if (value === null && nullable) return;
    if (typeof value !== 'string') throw bad(`task ${field} must be a string${nullable ? ' or null' : ''}`);
    const max = TASK_TEXT_LIMITS[field as keyof typeof TASK_TEXT_LIMITS] ?? 0;
    if (value.length > max) throw bad(`task ${field} is ${value.length} characters; at most ${max}`);
    if (!nullable && value.length === 0) throw bad(`task ${field} is empty`);
  };
}

function oneOf(allowed: readonly string[], nullable = false): Check {
  return (field, value) => {
    if (value === null && nullable) return;
    if (typeof value !== 'string' || !allowed.includes(value))
      throw bad(`task ${field} must be one of ${allowed.join(', ')}${nullable ? ' or null' : ''}`);
  };
}

/** A whole number (a time or a duration in ms, a count) of at least `min`. */
function whole(min = 0): Check {
  return (field, value) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
      throw bad(`task ${field} must be a whole number of at least ${min}`);
  };
}

const finite: Check = (field, value) => {
  if (value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(`task ${field} must be a finite number or null`);
};

/** A JSON column: an object or null (its size is checked when it is encoded). */
const object: Check = (field, value) => {
  if (value !== null && (typeof value !== 'object' || Array.isArray(value)))
    throw bad(`task ${field} must be a JSON object or null`);
};

/** Every column's check; the keys are exactly TaskRecord's. */
const CHECKS: { readonly [K in keyof TaskRecord]-?: Check } = {
  tenant: (field, value) => {
    if (typeof value !== 'string' || value.length === 0) throw bad(`task ${field} must be a tenant name`);
  },
  id: (_field, value) => {
    if (typeof value !== 'string' || !isTaskId(value))
      throw bad('task id must be a handle made by newTaskId ("sbt_" + 22 base64url characters)');
  },
  owner: text(false),
  principal: (field, value) => {
    const tenant = (value as { tenant?: unknown } | null)?.tenant;
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof tenant !== 'string')
      throw bad(`task ${field} must be a Principal object`);
  },
  session: text(true),
  origin: oneOf(TASK_ORIGINS),
  method: text(false),
  tool: text(false),
  server: text(true),
  request: object,
  argsHash: text(false),
  rerunSafe: (field, value) => {
    if (typeof value !== 'boolean') throw bad(`task ${field} must be a boolean`);
  },
  mode: oneOf(TASK_MODES),
  upstreamInstance: text(true),
  upstreamTaskId: text(true),
  upstreamEra: oneOf(UPSTREAM_TASK_ERAS, true),
  status: oneOf(TASK_STATUSES),
  statusMessage: text(true),
  progress: finite,
  progressTotal: finite,
  createdAt: whole(),
  updatedAt: whole(),
  deadlineAt: whole(),
  ttlMs: whole(),
  expiresAt: whole(),
  pollIntervalMs: whole(),
  result: object,
  error: object,
  runs: whole(1),
  version: whole(),
};

/** The JSON text of a column's value (null stays null), at most `max` characters. */
function encode(field: string, value: unknown, max: number): string | null {
  if (value === null) return null;
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(value);
  } catch (error) {
    throw bad(`task ${field} is not JSON-serialisable: ${(error as Error).message}`);
  }
  if (typeof encoded !== 'string') throw bad(`task ${field} must be a JSON object or null`);
  if (encoded.length > max) throw bad(`task ${field} is ${encoded.length} characters of JSON; at most ${max}`);
  return encoded;
}

/** A new task for `tenant`, checked: status non-terminal, version 0, runs 1 unless given. */
export function checkNewTask(task: NewTask, tenant: string): CheckedTask {
  if (typeof task !== 'object' || task === null) throw bad('task must be an object');
  const record: TaskRecord = { ...task, tenant, runs: task.runs ?? 1, version: 0 };
  for (const [field, check] of Object.entries(CHECKS)) check(field, record[field as keyof TaskRecord]);
  if (isTerminal(record.status))
    throw bad(`a task is created running (working or input_required), not ${record.status}`, {
      status: record.status,
    });
  if (record.principal.tenant !== tenant)
    throw bad(`task principal is of tenant "${record.principal.tenant}", not this store's "${tenant}"`);
  return {
    record,
    json: {
      principal: encode('principal', record.principal, MAX_TASK_PRINCIPAL_JSON) ?? '',
      request: encode('request', record.request, MAX_TASK_JSON),
      result: encode('result', record.result, MAX_TASK_JSON),
      error: encode('error', record.error, MAX_TASK_JSON),
    },
  };
}

/** An updated record and the JSON text of its two mutable JSON columns. */
export interface CheckedPatch {
  readonly record: TaskRecord;
  readonly result: string | null;
  readonly error: string | null;
}

/**
 * `current` with `patch` applied, checked: only mutable fields (each checked like at insert), a status
 * change the state machine allows (BAD_REQUEST naming both statuses otherwise), `version` + 1,
 * `updatedAt` = `now` unless the patch gives it. Undefined patch values leave their field as it is.
 */
export function checkPatch(current: TaskRecord, patch: TaskPatch, now: number): CheckedPatch {
  if (typeof patch !== 'object' || patch === null) throw bad('task patch must be an object');
  const fixed = Object.keys(patch).filter((key) => !PATCH_KEYS.has(key));
  if (fixed.length > 0)
    throw bad(`task ${fixed.join(', ')} cannot be updated; an update may change ${[...PATCH_KEYS].join(', ')}`);
  const changes = Object.entries(patch).filter(([, value]) => value !== undefined);
  for (const [field, value] of changes) CHECKS[field as keyof TaskRecord](field, value);
  const to: TaskStatus = patch.status ?? current.status;
  if (!canTransition(current.status, to))
    throw bad(
      isTerminal(current.status)
        ? `task ${current.id} is ${current.status}, which is final: it cannot change (asked: ${to})`
        : `task ${current.id} cannot go from ${current.status} to ${to}`,
      { id: current.id, from: current.status, to },
    );
  const record: TaskRecord = {
    ...current,
    updatedAt: Math.floor(now),
    ...(Object.fromEntries(changes) as TaskPatch),
    version: current.version + 1,
  };
  CHECKS.updatedAt('updatedAt', record.updatedAt);
  return {
    record,
    result: encode('result', record.result, MAX_TASK_JSON),
    error: encode('error', record.error, MAX_TASK_JSON),
  };
}

/** An `expectVersion` argument: absent, or a whole number 0 or more. */
export function checkVersion(expectVersion: number | undefined): void {
  if (expectVersion !== undefined) whole()('expectVersion', expectVersion);
}

/** A list filter, checked (owner and server bounded, status closed). */
export function checkFilter(filter: TaskFilter): void {
  if (typeof filter !== 'object' || filter === null) throw bad('task filter must be an object');
  if (filter.owner !== undefined) CHECKS.owner('owner', filter.owner);
  if (filter.status !== undefined) CHECKS.status('status', filter.status);
  if (filter.server !== undefined) text(false)('server', filter.server);
}

/** A page size within 1..MAX_TASK_PAGE (larger capped, smaller raised, NaN the maximum). */
export function pageLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.min(Math.max(Math.floor(limit), 1), MAX_TASK_PAGE) : MAX_TASK_PAGE;
}

/** A batch size within 1..MAX_TASK_BATCH (as pageLimit). */
export function batchLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.min(Math.max(Math.floor(limit), 1), MAX_TASK_BATCH) : MAX_TASK_BATCH;
}

/** A `now` argument: a finite number of epoch milliseconds. */
export function checkNow(now: number): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw bad('now must be a finite number of epoch milliseconds');
}

/** The ids of one delete: an array of at most MAX_TASK_BATCH strings. */
export function checkIds(ids: readonly string[]): void {
  if (!Array.isArray(ids)) throw bad('ids must be an array of task ids');
  if (ids.length > MAX_TASK_BATCH) throw bad(`at most ${MAX_TASK_BATCH} ids per delete; got ${ids.length}`);
}

/** A list position: the (createdAt, id) of the last task returned. */
export interface TaskCursor {
  readonly createdAt: number;
  readonly id: string;
}

const CURSOR = /^t1\.([0-9a-z]{1,11})\.(sbt_[A-Za-z0-9_-]{22})$/;

/** The opaque cursor for "tasks after this one" in list order. */
export function encodeTaskCursor(at: TaskCursor): string {
  return `t1.${at.createdAt.toString(36)}.${at.id}`;
}

/** The position a cursor stands for; BAD_REQUEST for one no task store issued. */
export function decodeTaskCursor(cursor: string): TaskCursor {
  const match = typeof cursor === 'string' && cursor.length <= 64 ? CURSOR.exec(cursor) : null;
  const createdAt = match ? parseInt(match[1] ?? '', 36) : NaN;
  if (!match || !Number.isSafeInteger(createdAt))
    throw bad('cursor is not one this server issued: pass nextCursor from the last page');
  return { createdAt, id: match[2] ?? '' };
}
