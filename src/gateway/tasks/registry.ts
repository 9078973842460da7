/**
 * The task registry of one tenant core (issue 14; docs/design/issue-14-tasks.md §4.4, §4.7, §4.8): it
 * creates tasks, runs their calls to the end and settles them, and answers reads, waits and cancels.
 *
 * State lives in the TaskStore (durable: a task's row is written before its handle is returned, every
 * status change is written through, progress at most once a second); what cannot be persisted is kept
 * here per live task: the controller that aborts the call, and the waiters of a change. Every read
 * takes the owner, and a task of another owner reads exactly like a missing one, so isolation holds in
 * one place for every surface (both eras' tasks/*, get_call, cancel_call; the admin passes no owner).
 *
 * How a call ends decides the status: a result is `completed` (an `isError` result too, as both eras
 * say), a thrown error `failed` with its code, a cancel `cancelled`, the deadline `failed
 * UPSTREAM_TIMEOUT`. A shutdown aborts the call but leaves the task unfinished, so the next start's
 * recovery (recovery.ts) decides what becomes of it.
 */
import { asGatewayError, GatewayError } from '../../core/errors.js';
import type { CallToolResult } from '../../core/protocol.js';
import {
  isTerminal,
  MAX_TASK_PAGE,
  newTaskId,
  TASK_TEXT_LIMITS,
  type NewTask,
  type TaskError,
  type TaskFilter,
  type TaskOwner,
  type TaskPageResult,
  type TaskPatch,
  type TaskRecord,
  type TaskStatus,
  type TaskStore,
} from '../../core/tasks.js';
import type { TasksConfig } from '../../config/tasks-schema.js';
import type { Logger } from '../../telemetry/logger.js';

/**
 * What a new task is: everything fixed at creation but its id and time (the registry adds those, the
 * TTL, deadline and status; it starts gateway-run, and mapUpstream records an upstream task later).
 */
export type TaskSpec = Omit<NewTask, keyof TaskPatch | 'id' | 'createdAt'> & {
  /** The TTL the agent asked for; absent: tasks.defaultTtlMs. Clamped to tasks.maxTtlMs. */
  readonly ttlMs?: number | undefined;
};

/** Why a live task's call was aborted. */
type AbortCause = 'cancelled' | 'deadline' | 'shutdown';

/** A question the task's call asks its agent, parked until the agent answers (2026: tasks/update). */
interface Ask {
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  readonly resolve: (answer: Record<string, unknown>) => void;
  readonly reject: (error: Error) => void;
}

interface Live {
  readonly controller: AbortController;
  cause?: AbortCause;
  timer?: NodeJS.Timeout;
  progressWrittenAt: number;
  /** Progress newer than the last write, written by `progressTimer` (at most one write a second). */
  pendingProgress?: TaskPatch;
  progressTimer?: NodeJS.Timeout;
  /** Follows an upstream task: a shutdown detaches it instead of aborting (the upstream task goes on). */
  upstream?: boolean;
  /** Parked questions by key (unique for the task's life). */
  readonly asks: Map<string, Ask>;
  askCount: number;
}

/** A change of a task, for its watchers (status notifications to 2025 sessions). */
export type TaskListener = (task: TaskRecord) => void;

/** Options of the registry. */
export interface TaskRegistryOptions {
  readonly store: TaskStore;
  readonly config: TasksConfig;
  readonly log: Logger;
  /** Epoch ms (default Date.now); tests inject a clock. */
  readonly now?: () => number;
}

/** The tasks of one tenant core. */
export class TaskRegistry {
  readonly store: TaskStore;
  readonly config: TasksConfig;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #live = new Map<string, Live>();
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Who hears of each change of a task (2025 sessions' status notifications), by task id. */
  readonly #watchers = new Map<string, Set<TaskListener>>();
  /**
   * Unfinished tasks per owner, for the caps: counted once from the store, then kept current by
   * create and settle, so admitting a task reads no rows.
   */
  #unfinished: Map<string, number> | undefined;
  #unfinishedTotal = 0;
  #closed = false;
  /** Aborted at shutdown: followers of upstream tasks stop without cancelling them. */
  readonly #detach = new AbortController();

  constructor(options: TaskRegistryOptions) {
    this.store = options.store;
    this.config = options.config;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
  }

  /** True once the registry has closed (shutdown): nothing new starts. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Aborted when the registry closes: what a follower of an upstream task detaches on. */
  get detachSignal(): AbortSignal {
    return this.#detach.signal;
  }

  /** True while the task's call runs in this process. */
  isLive(id: string): boolean {
    return this.#live.has(id);
  }

  /**
   * Marks an unfinished task as started again after a restart (one more run, and a status message
   * saying so) and returns it as it is now; the caller runs it with {@link run}.
   */
  restarted(task: TaskRecord): TaskRecord {
    const message =
      task.mode === 'upstream' ? 'followed again after a gateway restart' : 're-run after a gateway restart';
    this.#patch(task.id, { runs: task.runs + (task.mode === 'upstream' ? 0 : 1), statusMessage: message });
    return this.store.get(task.id) ?? task;
  }

  /**
   * Writes a new task (durably, before anyone learns its handle) and returns it with the signal its
   * call must run under. Refused with TASK_LIMIT past tasks.maxActive or tasks.maxPerOwner.
   */
  create(spec: TaskSpec): { task: TaskRecord; signal: AbortSignal } {
    if (this.#closed) throw new GatewayError('SHUTTING_DOWN', 'the gateway is shutting down; start the task again');
    const { maxActive, maxPerOwner } = this.config;
    const unfinished = this.#counted();
    if (this.#unfinishedTotal >= maxActive)
      throw new GatewayError('TASK_LIMIT', `this gateway runs ${maxActive} unfinished tasks already (tasks.maxActive)`);
    const mine = unfinished.get(spec.owner) ?? 0;
    if (mine >= maxPerOwner)
      throw new GatewayError(
        'TASK_LIMIT',
        `you have ${maxPerOwner} unfinished tasks already (tasks.maxPerOwner); wait for one to end or cancel one`,
      );
    const now = this.#now();
    const ttlMs = Math.floor(Math.max(1_000, Math.min(spec.ttlMs ?? this.config.defaultTtlMs, this.config.maxTtlMs)));
    const { ttlMs: _asked, ...rest } = spec;
    const task = this.store.insert({
      ...rest,
      id: newTaskId(),
      status: 'working',
      statusMessage: null,
      progress: null,
      progressTotal: null,
      createdAt: now,
      updatedAt: now,
      deadlineAt: now + Math.min(ttlMs, this.config.callTimeoutMs),
      ttlMs,
      expiresAt: now + ttlMs,
      pollIntervalMs: this.config.pollIntervalMs,
      result: null,
      error: null,
      mode: 'gateway',
      upstreamInstance: null,
      upstreamTaskId: null,
      upstreamEra: null,
    });
    unfinished.set(spec.owner, mine + 1);
    this.#unfinishedTotal++;
    return { task, signal: this.#track(task).controller.signal };
  }

  /**
   * Runs `work` as the call of `task` (created by {@link create}, or an unfinished one being re-run) and
   * settles the task by how it ends. Returns or throws what `work` did, so the stages around a task's
   * call (audit, learning, experiments) see the real outcome.
   */
  async run<T extends CallToolResult>(task: TaskRecord, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const live = this.#live.get(task.id) ?? this.#track(task);
    try {
      const result = await work(live.controller.signal);
      if (live.cause === 'deadline') throw live.controller.signal.reason;
      this.#settle(task.id, { status: 'completed', result, statusMessage: null });
      return result;
    } catch (error) {
      this.#settleFailure(task.id, live, error);
      throw error;
    } finally {
      clearTimeout(live.timer);
      clearTimeout(live.progressTimer);
      for (const ask of live.asks.values()) ask.reject(new Error('the task ended before its agent answered'));
      this.#live.delete(task.id);
    }
  }

  /** The task, when `owner` owns it (no owner: the admin, who sees every task of the tenant). */
  get(id: string, owner?: TaskOwner): TaskRecord | undefined {
    const task = this.store.get(id);
    if (!task || (owner !== undefined && task.owner !== owner)) return undefined;
    if (task.expiresAt <= this.#now() && isTerminal(task.status)) return undefined; // expired: as if purged
    return task;
  }

  /** A page of tasks, newest first (an agent passes its owner; the admin may filter by anything). */
  list(filter: TaskFilter, cursor?: string, limit = 50): TaskPageResult {
    return this.store.list(filter, { cursor, limit: Math.min(limit, MAX_TASK_PAGE) });
  }

  /**
   * Cancels the task: it is `cancelled` at once (the agent's view is final), and its call is aborted,
   * which reaches the upstream (an abort, `notifications/cancelled`, or `tasks/cancel`). Returns the
   * task, 'terminal' when it had ended already, or undefined when there is no such task of `owner`.
   */
  cancel(id: string, owner?: TaskOwner, reason = 'cancelled by its agent'): TaskRecord | 'terminal' | undefined {
    const task = this.get(id, owner);
    if (!task) return undefined;
    if (isTerminal(task.status)) return 'terminal';
    const settled = this.#settle(id, { status: 'cancelled', statusMessage: reason });
    const live = this.#live.get(id);
    if (live && !live.controller.signal.aborted) {
      live.cause = 'cancelled';
      live.controller.abort(new GatewayError('CANCELLED', `the task was ${reason}`, { task: id }));
    }
    return settled ?? this.store.get(id);
  }

  /**
   * Records progress, at most one write a second: an update sooner than that is kept and written when
   * the second is up (the latest one wins), so a reader never sees progress older than a second.
   */
  progress(id: string, p: { progress: number; total?: number | undefined; message?: string | undefined }): void {
    const live = this.#live.get(id);
    if (!live || this.#closed) return; // closed: the store may be gone; the task is taken up again after the restart
    const statusMessage = p.message ?? (p.total !== undefined ? `${p.progress}/${p.total}` : `${p.progress}`);
    live.pendingProgress = {
      progress: p.progress,
      progressTotal: p.total ?? null,
      statusMessage: statusMessage.slice(0, TASK_TEXT_LIMITS.statusMessage),
    };
    const wait = live.progressWrittenAt + 1_000 - this.#now();
    if (wait <= 0) this.#flushProgress(id, live);
    else if (!live.progressTimer) {
      live.progressTimer = setTimeout(() => this.#flushProgress(id, live), wait);
      live.progressTimer.unref?.();
    }
  }

  #flushProgress(id: string, live: Live): void {
    clearTimeout(live.progressTimer);
    live.progressTimer = undefined;
    const patch = live.pendingProgress;
    live.pendingProgress = undefined;
    if (!patch || this.#closed || !this.#live.has(id)) return;
    live.progressWrittenAt = this.#now();
    this.#patch(id, patch);
  }

  /** Records a status change of an unfinished task (working ⇄ input_required) and its message. */
  status(id: string, status: 'working' | 'input_required', statusMessage?: string): void {
    const live = this.#live.get(id);
    if (!live || this.#closed) return;
    this.#patch(id, {
      // While a question waits for the agent, the task reads input_required whatever the upstream says.
      status: live.asks.size > 0 ? 'input_required' : status,
      ...(statusMessage !== undefined ? { statusMessage: statusMessage.slice(0, TASK_TEXT_LIMITS.statusMessage) } : {}),
    });
  }

  /** Records the upstream task a gateway task follows (so a restart can follow it again). */
  mapUpstream(id: string, patch: Pick<TaskPatch, 'upstreamInstance' | 'upstreamTaskId' | 'upstreamEra'>): void {
    this.following(id);
    this.#patch(id, { ...patch, mode: 'upstream' });
  }

  /** Marks a live task as following an upstream task (a shutdown detaches it, see close). */
  following(id: string): void {
    const live = this.#live.get(id);
    if (live) live.upstream = true;
  }

  /**
   * Parks a question of the task's call for its agent: the task reads input_required, the question
   * shows in 2026's tasks/get `inputRequests`, and {@link answer} resolves it. Rejects when the task
   * ends, or `signal` aborts, first.
   */
  ask(
    id: string,
    method: string,
    params: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const live = this.#live.get(id);
    if (!live) return Promise.reject(new Error('the task is not running'));
    const key = `q${++live.askCount}`;
    return new Promise((resolve, reject) => {
      const done = () => {
        live.asks.delete(key);
        signal?.removeEventListener('abort', onAbort);
        if (live.asks.size === 0) this.#patch(id, { status: 'working' });
      };
      const onAbort = () => {
        done();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('the question was withdrawn'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      live.asks.set(key, {
        method,
        params,
        resolve: (answer) => {
          done();
          resolve(answer);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.#patch(id, { status: 'input_required' });
    });
  }

  /** The questions the task waits on, by key (2026 `inputRequests`). */
  asks(id: string): Record<string, { method: string; params?: Record<string, unknown> }> {
    const asks = this.#live.get(id)?.asks;
    if (!asks) return {};
    return Object.fromEntries(
      [...asks].map(([key, a]) => [key, { method: a.method, ...(a.params ? { params: a.params } : {}) }]),
    );
  }

  /** Answers parked questions (2026 tasks/update `inputResponses`); unknown keys are ignored. */
  answer(id: string, responses: Readonly<Record<string, unknown>>): void {
    const asks = this.#live.get(id)?.asks;
    if (!asks) return;
    for (const [key, response] of Object.entries(responses)) {
      const ask = asks.get(key);
      if (ask && typeof response === 'object' && response !== null) ask.resolve(response as Record<string, unknown>);
    }
  }

  /**
   * Waits until the task's version is past `version` (or it is terminal), at most `ms`; resolves with
   * the task as it is then (undefined: not found). An aborted `signal` ends the wait early.
   */
  async waitForChange(
    id: string,
    owner: TaskOwner | undefined,
    version: number,
    ms: number,
    signal?: AbortSignal,
  ): Promise<TaskRecord | undefined> {
    const first = this.get(id, owner);
    if (!first || first.version > version || isTerminal(first.status) || ms <= 0 || signal?.aborted) return first;
    await new Promise<void>((resolve) => {
      const waiters = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, waiters);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
    return this.get(id, owner);
  }

  /**
   * Waits until the task has ended (tasks/result): the task as it is then, unfinished when `signal`
   * aborted or the registry closed first; undefined when it is not found.
   */
  async waitForEnd(id: string, owner: TaskOwner | undefined, signal: AbortSignal): Promise<TaskRecord | undefined> {
    for (let task = this.get(id, owner); task;) {
      if (isTerminal(task.status) || signal.aborted || this.#closed) return task;
      task = await this.waitForChange(id, owner, task.version, 60_000, signal);
    }
    return undefined;
  }

  /**
   * Hears every change of task `id` until it has ended or the returned unsubscribe is called; a task
   * that has ended already is told once, at once (its call may fail before the watcher comes).
   */
  watch(id: string, listener: TaskListener): () => void {
    const now = this.store.get(id);
    if (!now || isTerminal(now.status)) {
      if (now) listener(now);
      return () => {};
    }
    const set = this.#watchers.get(id) ?? new Set<TaskListener>();
    this.#watchers.set(id, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#watchers.get(id) === set) this.#watchers.delete(id);
    };
  }

  /**
   * Stops: no new task is created, and every live call is aborted with a shutdown reason, its task left
   * unfinished for the next start's recovery (recovery.ts).
   */
  close(): void {
    this.#closed = true;
    for (const live of this.#live.values()) {
      clearTimeout(live.timer);
      live.cause ??= 'shutdown';
    }
    // Followers stop first, without a tasks/cancel upstream (the upstream task goes on); then the
    // calls the gateway runs itself are aborted.
    this.#detach.abort(new GatewayError('SHUTTING_DOWN', 'the gateway is shutting down'));
    for (const live of this.#live.values())
      if (!live.upstream) live.controller.abort(new GatewayError('SHUTTING_DOWN', 'the gateway is shutting down'));
    for (const waiters of this.#waiters.values()) for (const wake of [...waiters]) wake();
  }

  /** Settles a task now (recovery, the purge): a no-op when it has ended already. */
  fail(id: string, error: GatewayError): void {
    this.#settle(id, { status: 'failed', error: errorOf(error), statusMessage: error.message });
  }

  #track(task: TaskRecord): Live {
    const live: Live = { controller: new AbortController(), progressWrittenAt: 0, asks: new Map(), askCount: 0 };
    const wait = task.deadlineAt - this.#now();
    live.timer = setTimeout(
      () => {
        live.cause ??= 'deadline';
        live.controller.abort(
          new GatewayError(
            'UPSTREAM_TIMEOUT',
            `the task did not end by its deadline (${Math.round((task.deadlineAt - task.createdAt) / 1000)} s after it started); the call was cancelled`,
            { task: task.id, ...(task.server ? { server: task.server } : {}) },
          ),
        );
      },
      Math.max(0, Math.min(wait, 2_147_483_647)),
    );
    live.timer.unref?.();
    this.#live.set(task.id, live);
    return live;
  }

  #settleFailure(id: string, live: Live, error: unknown): void {
    if (live.cause === 'cancelled') return; // cancel settled it already
    if (live.cause === 'shutdown') return; // left unfinished: recovery decides after the restart
    if (live.cause === 'deadline') {
      this.fail(id, live.controller.signal.reason as GatewayError);
      return;
    }
    const rpc = jsonRpcError(error);
    if (rpc) {
      this.#settle(id, { status: 'failed', error: rpc, statusMessage: rpc.message });
      return;
    }
    this.fail(id, asGatewayError(error));
  }

  /** Writes a terminal status (and the expiry it implies); false when the task had ended already. */
  #settle(id: string, patch: TaskPatch & { status: TaskStatus }): TaskRecord | undefined {
    for (let attempt = 0; attempt < 5; attempt++) {
      const task = this.store.get(id);
      if (!task || isTerminal(task.status)) {
        if (task) this.#log.debug({ task: id, status: task.status }, 'a late outcome of an ended task was dropped');
        return undefined;
      }
      const now = this.#now();
      const expiresAt = Math.max(task.createdAt + task.ttlMs, now + this.config.minRetentionMs);
      const statusMessage =
        typeof patch.statusMessage === 'string'
          ? patch.statusMessage.slice(0, TASK_TEXT_LIMITS.statusMessage)
          : patch.statusMessage;
      if (this.store.update(id, { ...patch, statusMessage, updatedAt: now, expiresAt }, task.version)) {
        this.#ended(task.owner);
        return this.#changed(id);
      }
    }
    this.#log.warn({ task: id }, 'a task could not be settled: it kept changing');
    return undefined;
  }

  /** The unfinished counts, read from the store the first time. */
  #counted(): Map<string, number> {
    if (this.#unfinished) return this.#unfinished;
    const counts = new Map<string, number>();
    const active = this.store.active();
    for (const task of active) counts.set(task.owner, (counts.get(task.owner) ?? 0) + 1);
    this.#unfinishedTotal = active.length;
    this.#unfinished = counts;
    return counts;
  }

  /** One task of `owner` ended. */
  #ended(owner: TaskOwner): void {
    const counts = this.#unfinished;
    if (!counts) return; // not counted yet: the first count reads the store as it is then
    const n = (counts.get(owner) ?? 0) - 1;
    if (n > 0) counts.set(owner, n);
    else counts.delete(owner);
    this.#unfinishedTotal = Math.max(0, this.#unfinishedTotal - 1);
  }

  #patch(id: string, patch: TaskPatch): void {
    const task = this.store.get(id);
    if (!task || isTerminal(task.status)) return;
    if (this.store.update(id, patch, task.version)) this.#changed(id);
  }

  #changed(id: string): TaskRecord | undefined {
    const task = this.store.get(id);
    const waiters = this.#waiters.get(id);
    if (waiters) for (const wake of [...waiters]) wake();
    const watchers = this.#watchers.get(id);
    if (task && watchers) {
      for (const listener of [...watchers]) {
        try {
          listener(task);
        } catch (error) {
          this.#log.warn({ task: id, err: (error as Error).message }, 'a task listener failed');
        }
      }
      if (isTerminal(task.status)) this.#watchers.delete(id); // an ended task changes no more
    }
    return task;
  }
}

/** A gateway error as a task's stored error. */
export function errorOf(error: GatewayError): TaskError {
  return {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    ...(error.details ? { data: error.details } : {}),
  };
}

/**
 * An upstream's JSON-RPC error (the SDK's ProtocolError: a numeric code), kept as it came, so the agent
 * sees the upstream's own code, message and data.
 */
function jsonRpcError(error: unknown): TaskError | undefined {
  if (!(error instanceof Error) || error instanceof GatewayError) return undefined;
  const { code, data } = error as Error & { code?: unknown; data?: unknown };
  if (typeof code !== 'number' || !Number.isInteger(code)) return undefined;
  return { code, message: error.message, retryable: false, ...(data !== undefined ? { data } : {}) };
}
