/**
 * Durable tasks (issue 14; docs/design/issue-14-tasks.md §4.1, §4.2, §4.7, §4.9): the shape of one task
 * as the registry keeps it, its state machine, who owns it, and the `TaskStore` port behind which task
 * state lives (SQLite in store/tasks-repo.ts, memory in store/tasks-memory.ts; one contract suite).
 *
 * Types and pure functions only (plus the id generator), so the store below the registry and the
 * registry above it (gateway/) agree on one definition without importing each other. Nothing here
 * knows a protocol era's wire shape: rendering a record as a 2025 `Task` or a 2026 `DetailedTask` is
 * mcp/'s job.
 */
import { randomBytes } from 'node:crypto';
import type { Principal } from './principal.js';
import type { CallToolResult } from './protocol.js';

/** Every status a task can be in: the five both protocol eras share. */
export const TASK_STATUSES = ['working', 'input_required', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The statuses a task never leaves. */
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

/** True when the task has ended (its record is final: no field of it changes again). */
export function isTerminal(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/**
 * The allowed status changes (§4.7): `working ⇄ input_required → completed | failed | cancelled`, and
 * a non-terminal task may stay where it is (a progress or status-message write). A terminal task never
 * changes at all, not even to its own status, so a late upstream result after a cancel is refused.
 */
const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  working: ['working', 'input_required', 'completed', 'failed', 'cancelled'],
  input_required: ['input_required', 'working', 'completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

/** True when a task in `from` may be written with status `to` (`to === from`: an update of other fields). */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Which surface created the task: a 2025-11-25 agent, a 2026-07-28 agent, or a call_capability handle. */
export type TaskOrigin = '2025-11-25' | '2026-07-28' | 'handle';
export const TASK_ORIGINS: readonly TaskOrigin[] = ['2025-11-25', '2026-07-28', 'handle'];

/** Who runs the call: the gateway itself (any tool), or an upstream task it follows. */
export type TaskMode = 'gateway' | 'upstream';
export const TASK_MODES: readonly TaskMode[] = ['gateway', 'upstream'];

/** The protocol era of an upstream task (how the follower speaks to it). */
export type UpstreamTaskEra = '2025-11-25' | '2026-07-28';
export const UPSTREAM_TASK_ERAS: readonly UpstreamTaskEra[] = ['2025-11-25', '2026-07-28'];

declare const ownerBrand: unique symbol;

/**
 * Whose task it is: {@link ownerKey} of the principal that created it. Every read of the registry
 * takes one, and a task of another owner reads exactly like a missing one. Branded so an agent name or
 * a principalKey cannot be passed by mistake.
 */
export type TaskOwner = string & { readonly [ownerBrand]: true };

/**
 * The owner key of a principal: JSON `[tenant, source, subject ?? agent, user ?? null]`.
 *
 * It is the credential's identity, not its grants (unlike `principalKey`), so it is stable across a
 * restart and across a change of the key's scopes or the JWT's groups: the same credential finds its
 * tasks again. With a credential the subject (API key id, JWT `sub`, certificate subject) names it, and
 * the user (a JWT's end user) separates the users of one agent credential.
 *
 * Without auth (`auth.mode: none`, source `none`) there is no subject, so the owner is the agent name
 * the client declared itself (`clientInfo.name`), without the user hint: weak, since any local client may claim any name and
 * two clients of one name share their tasks. What still protects a task then is its id, 128 random
 * bits that both protocol eras treat as a bearer secret; hubs that serve more than one person should
 * turn auth on.
 */
export function ownerKey(principal: Principal): TaskOwner {
  return JSON.stringify([
    principal.tenant,
    principal.source,
    principal.subject ?? principal.agent,
    // Without auth the user is a per-request `_meta` hint that task requests do not repeat.
    principal.source === 'none' ? null : (principal.user ?? null),
  ]) as TaskOwner;
}

/** What a gateway-run task needs to run again after a restart (kept only when it is safe to re-run). */
export interface TaskRequest {
  /** The exposed tool id, or the meta-tool name for call_capability. */
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** The request's `_meta` as the chain saw it (no progress token: that belonged to the old connection). */
  readonly meta?: Readonly<Record<string, unknown>> | undefined;
  /** A version pin (call_capability `version`). */
  readonly version?: string | undefined;
  readonly decisionId?: string | undefined;
  /** call_capability's fan-out settings (`strategy`, `quorum`), when the call fanned out. */
  readonly fanout?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * How a task failed: a gateway code (`UPSTREAM_TIMEOUT`, `INTERRUPTED`, ...) or, for an upstream's
 * JSON-RPC error, its numeric code; `data` carries the upstream's error data.
 */
export interface TaskError {
  readonly code: string | number;
  readonly message: string;
  readonly data?: unknown;
  readonly retryable: boolean;
}

/** One task: every column of the `tasks` table (store/db.ts), camelCase; times are epoch milliseconds. */
export interface TaskRecord {
  readonly tenant: string;
  /** The handle: `sbt_` + 16 random bytes in base64url ({@link newTaskId}). */
  readonly id: string;
  readonly owner: TaskOwner;
  /** The creating principal (never holds a secret), for re-runs: policy is checked again with it. */
  readonly principal: Principal;
  /** The agent session that created it, where there is one (notifications go there). */
  readonly session: string | null;
  readonly origin: TaskOrigin;
  /** The agent method that started it (`tools/call`, `call_capability`). */
  readonly method: string;
  /** The exposed tool id (or the meta-tool) called. */
  readonly tool: string;
  /** The server the call went to; null for a fan-out or a virtual tool. */
  readonly server: string | null;
  /** Present only when `rerunSafe`: the stored arguments may hold secrets, so nothing else keeps them. */
  readonly request: TaskRequest | null;
  readonly argsHash: string;
  /** The call may run again after a restart (read-only or idempotent, as resilience/retry.ts decides). */
  readonly rerunSafe: boolean;
  readonly mode: TaskMode;
  /** The upstream instance, task id and era an upstream task is followed at (null for gateway-run). */
  readonly upstreamInstance: string | null;
  readonly upstreamTaskId: string | null;
  readonly upstreamEra: UpstreamTaskEra | null;
  readonly status: TaskStatus;
  readonly statusMessage: string | null;
  readonly progress: number | null;
  readonly progressTotal: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When the call is aborted (or the upstream task cancelled) and the task fails UPSTREAM_TIMEOUT. */
  readonly deadlineAt: number;
  /** The effective TTL (the agent's, clamped to `tasks.maxTtlMs`), as both eras report it. */
  readonly ttlMs: number;
  /** When the purge removes the row: `max(created + ttl, settled + minRetention)` once settled. */
  readonly expiresAt: number;
  readonly pollIntervalMs: number;
  /** The tool result of a completed task (an `isError` result is completed too). */
  readonly result: CallToolResult | null;
  readonly error: TaskError | null;
  /** How many times the call was started (a re-run after a restart adds one). */
  readonly runs: number;
  /** Incremented by every update: the optimistic lock of {@link TaskStore.update}. */
  readonly version: number;
}

/** What `insert` takes: the store adds its tenant, `version` 0 and (unless given) `runs` 1. */
export type NewTask = Omit<TaskRecord, 'tenant' | 'version' | 'runs'> & { readonly runs?: number };

/** The fields an update may change (the rest is fixed at creation); `null` clears a nullable one. */
export type TaskPatch = Partial<
  Pick<
    TaskRecord,
    | 'status'
    | 'statusMessage'
    | 'progress'
    | 'progressTotal'
    | 'updatedAt'
    | 'deadlineAt'
    | 'ttlMs'
    | 'expiresAt'
    | 'pollIntervalMs'
    | 'result'
    | 'error'
    | 'runs'
    | 'mode'
    | 'upstreamInstance'
    | 'upstreamTaskId'
    | 'upstreamEra'
  >
>;

/** What `list` selects; every field narrows (absent: any). */
export interface TaskFilter {
  readonly owner?: TaskOwner | undefined;
  readonly status?: TaskStatus | undefined;
  readonly server?: string | undefined;
}

/** A page request: tasks after `cursor` (the previous page's `nextCursor`; absent: the newest). */
export interface TaskPage {
  readonly cursor?: string | undefined;
  /** Tasks per page, 1 to {@link MAX_TASK_PAGE} (larger is capped, smaller raised to 1). */
  readonly limit: number;
}

/** One page, newest first; `nextCursor` is present when more tasks match. */
export interface TaskPageResult {
  readonly tasks: TaskRecord[];
  readonly nextCursor?: string;
}

/**
 * The port task state lives behind. Synchronous, like the other repositories (SQLite calls are), and
 * bound to one tenant: it never reads or writes another tenant's rows. Invalid input (a value out of
 * bounds, a cursor it did not issue, a status change the state machine forbids) is a BAD_REQUEST
 * GatewayError, the same from every implementation.
 */
export interface TaskStore {
  /** The tenant this store reads and writes. */
  readonly tenant: string;
  /** Writes a new task (status must be non-terminal) and returns it as stored. */
  insert(task: NewTask): TaskRecord;
  /** The task, or undefined when there is none (an id of any shape reads as missing). */
  get(id: string): TaskRecord | undefined;
  /**
   * Applies `patch` and increments `version` (so the new version is the old one + 1); `updatedAt`
   * is the store's clock unless the patch gives it. Returns false, changing nothing, when the task is
   * missing or (with `expectVersion`) its version is not that one: the caller's view is stale, so it
   * reads again and decides again. Throws BAD_REQUEST for a change the state machine forbids.
   */
  update(id: string, patch: TaskPatch, expectVersion?: number): boolean;
  /** Matching tasks newest first (`createdAt`, then id, both descending), one keyset page at a time. */
  list(filter: TaskFilter, page: TaskPage): TaskPageResult;
  /** Every non-terminal task, oldest first: what recovery resumes or fails after a restart. */
  active(): TaskRecord[];
  /** Tasks whose `expiresAt` is at or before `now`, soonest first, at most `limit` (capped). */
  expired(now: number, limit: number): TaskRecord[];
  /** Removes these tasks (ids it does not hold are skipped); returns how many went. */
  delete(ids: readonly string[]): number;
  /** Tasks per status (every status present, zeros included): gauges and caps. */
  counts(): Record<TaskStatus, number>;
}

/** Largest page `list` returns: a page holds results, which may be megabytes each. */
export const MAX_TASK_PAGE = 500;
/** Most rows `expired` returns and `delete` takes in one call. */
export const MAX_TASK_BATCH = 1000;

/**
 * Longest strings a store accepts (characters). Upstream-controlled values (`upstreamTaskId`,
 * `statusMessage`) are bounded too; the registry truncates a status message to fit before writing.
 */
export const TASK_TEXT_LIMITS = {
  owner: 4096,
  session: 512,
  method: 64,
  tool: 1024,
  server: 256,
  argsHash: 128,
  upstreamInstance: 512,
  upstreamTaskId: 1024,
  statusMessage: 4096,
} as const;

/** Largest JSON text of `principal` (characters). */
export const MAX_TASK_PRINCIPAL_JSON = 64 * 1024;
/** Largest JSON text of `request`, `result` or `error` (characters); results are already capped by gateway.maxResultBytes. */
export const MAX_TASK_JSON = 64 * 1024 * 1024;

const TASK_ID = /^sbt_[A-Za-z0-9_-]{22}$/;

/** A new task handle: `sbt_` + 16 random bytes (128 bits) in base64url, 26 characters. */
export function newTaskId(): string {
  return `sbt_${randomBytes(16).toString('base64url')}`;
}

/** True for a string of the handle's shape (what a store accepts as an id). */
export function isTaskId(value: string): boolean {
  return TASK_ID.test(value);
}

/** A count of zero for every status (what `counts` starts from). */
export function zeroCounts(): Record<TaskStatus, number> {
  return { working: 0, input_required: 0, completed: 0, failed: 0, cancelled: 0 };
}
