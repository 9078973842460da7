/**
 * Follows one upstream task to its end (docs/design/issue-14-tasks.md §4.6, §4.8): statuses pushed by the
 * upstream (2025 `notifications/tasks/status`) and `tasks/get` polling at the upstream's interval,
 * clamped and doubled while nothing changes; a 2025 task's questions and result through one background
 * `tasks/result`, a 2026 task's `inputRequests` answered with `tasks/update` (upstream-input.ts);
 * `tasks/cancel` upstream when the follower's signal aborts or the deadline passes. Connection trouble
 * is polled through; a server or instance that is gone, or an upstream that no longer knows the task,
 * ends the follow with a retryable error.
 */
import { GatewayError } from '../../core/errors.js';
import type { CallToolResult } from '../../core/protocol.js';
import { isTerminal } from '../../core/tasks.js';
import type { Logger } from '../../telemetry/logger.js';
import { taskFailure } from '../../upstream/task-client.js';
import type { UpstreamTask } from '../../upstream/tasks-wire.js';
import type { ForwardOptions, Upstream } from '../../upstream/upstream.js';
import { InputRelay } from './upstream-input.js';
import type { FollowOptions, UpstreamTaskRef, UpstreamTaskStatus } from './upstream-tasks.js';

/** Longest a single tasks/get or tasks/update may take (the deadline still bounds it). */
const REQUEST_TIMEOUT_MS = 30_000;
/** Longest the gateway waits for an upstream to acknowledge tasks/cancel. */
const CANCEL_TIMEOUT_MS = 5_000;
/** The longest a Node timer waits (longer fires at once). */
const MAX_TIMER_MS = 2_147_483_647;

/** The one 2025 tasks/result call of a follow, and how it ended. */
interface Background {
  done?: { result: CallToolResult } | { error: unknown };
  promise: Promise<void>;
}

/** Follows upstream tasks; `instanceOf` finds a ref's instance or throws UPSTREAM_UNAVAILABLE. */
export class TaskFollower {
  readonly #instanceOf: (ref: UpstreamTaskRef) => Upstream;
  readonly #log: Logger;

  constructor(instanceOf: (ref: UpstreamTaskRef) => Upstream, log: Logger) {
    this.#instanceOf = instanceOf;
    this.#log = log;
  }

  /** Follows the task to its end (see Gateway.followUpstreamTask for the contract). */
  async follow(ref: UpstreamTaskRef, options: FollowOptions): Promise<CallToolResult> {
    const upstream = this.#instanceOf(ref);
    const stop = new AbortController();
    let wake: (() => void) | undefined;
    let pushed: UpstreamTask | undefined;
    const unwatch = upstream.tasks.watch(ref.taskId, ref.progressToken, {
      status: (task) => {
        pushed = task;
        wake?.();
      },
      progress: (p) => options.onProgress?.(p),
    });
    const unbind = options.channel ? upstream.tasks.bind(ref.taskId, options.channel) : () => {};
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    let onDetach: (() => void) | undefined;
    const ended = new Promise<never>((_, reject) => {
      const cancelThen = (error: unknown) => {
        stop.abort(error);
        void this.#cancel(upstream, ref).finally(() => reject(error));
      };
      onAbort = () => cancelThen(options.signal.reason);
      onDetach = () => {
        stop.abort(options.detach?.reason);
        reject(options.detach?.reason);
      };
      const timeout = () =>
        cancelThen(
          new GatewayError(
            'UPSTREAM_TIMEOUT',
            `${labelOf(ref)} did not finish the task by its deadline; the task was cancelled upstream`,
            { server: ref.server, instance: ref.instance, sent: true },
          ),
        );
      if (options.signal.aborted) return onAbort();
      if (options.detach?.aborted) return onDetach();
      options.signal.addEventListener('abort', onAbort, { once: true });
      options.detach?.addEventListener('abort', onDetach, { once: true });
      const left = options.deadlineAt - Date.now();
      if (left <= 0) return timeout();
      timer = setTimeout(timeout, Math.min(left, MAX_TIMER_MS));
    });
    /** Sleeps `ms`, or less when a status is pushed, the background result lands, or the follow ends. */
    const waitChange = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          stop.signal.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const t = setTimeout(done, ms);
        wake = done;
        stop.signal.addEventListener('abort', done, { once: true });
      });
    const takePushed = () => {
      const p = pushed;
      pushed = undefined;
      return p;
    };
    const loop = this.#loop(upstream, ref, options, stop.signal, { waitChange, nudge: () => wake?.(), takePushed });
    // Once the follow has ended (cancel, deadline, detach) the loop's own failure is noise: `ended` decides.
    const guarded = loop.catch((error: unknown) =>
      stop.signal.aborted ? new Promise<never>(() => {}) : Promise.reject(error),
    );
    try {
      return await Promise.race([ended, guarded]);
    } finally {
      stop.abort();
      clearTimeout(timer);
      if (onAbort) options.signal.removeEventListener('abort', onAbort);
      if (onDetach) options.detach?.removeEventListener('abort', onDetach);
      unwatch();
      unbind();
    }
  }

  /** Polls (and reads pushed statuses) until the task ends; answers its result or throws its failure. */
  async #loop(
    upstream: Upstream,
    ref: UpstreamTaskRef,
    options: FollowOptions,
    stop: AbortSignal,
    io: {
      readonly waitChange: (ms: number) => Promise<void>;
      readonly nudge: () => void;
      readonly takePushed: () => UpstreamTask | undefined;
    },
  ): Promise<CallToolResult> {
    const { waitChange, takePushed } = io;
    const { minMs, maxMs } = options.poll;
    const clamp = (ms: number) => Math.min(maxMs, Math.max(minMs, ms));
    const request = (cap = REQUEST_TIMEOUT_MS): ForwardOptions => ({
      signal: stop,
      timeoutMs: Math.max(1, Math.min(cap, options.deadlineAt - Date.now(), MAX_TIMER_MS)),
    });
    let base = minMs;
    let interval = minMs;
    let last: string | undefined;
    let background: Background | undefined;
    const inputs = new InputRelay(upstream, ref, options.channel, this.#log, stop, () => request());
    for (;;) {
      if (stop.aborted) throw stop.reason;
      if (background?.done) {
        if ('error' in background.done) throw background.done.error;
        return background.done.result;
      }
      let task = takePushed();
      if (!task) {
        try {
          task = await upstream.tasks.get(ref.era, ref.taskId, request());
        } catch (error) {
          if (stop.aborted) throw error;
          if (!this.#transient(error, ref)) throw error;
          await waitChange(interval);
          interval = Math.min(maxMs, interval * 2);
          continue;
        }
      }
      if (task.pollIntervalMs !== undefined) base = clamp(task.pollIntervalMs);
      const seen = JSON.stringify([task.status, task.statusMessage ?? null]);
      const changed = seen !== last;
      last = seen;
      if (isTerminal(task.status))
        return this.#finish(upstream, ref, task, background?.promise, () => background?.done, request);
      if (changed) options.onStatus?.(statusOf(task));
      if (task.status === 'input_required') {
        if (ref.era === '2026-07-28') inputs.answer(task.inputRequests ?? {});
        else if (!background) {
          // v1 servers deliver a task's questions on the tasks/result stream, which then answers the result.
          const b: Background = { promise: Promise.resolve() };
          b.promise = upstream.tasks
            .result(ref.taskId, {
              ...request(Number.MAX_SAFE_INTEGER),
              ...(options.channel ? { channel: options.channel } : {}),
            })
            .then(
              (result) => void (b.done = { result }),
              (error: unknown) => void (b.done = { error }),
            );
          background = b;
          void b.promise.then(() => io.nudge());
        }
      }
      interval = changed ? base : Math.min(maxMs, interval * 2);
      await waitChange(interval);
    }
  }

  /** The end of a task: its result, its JSON-RPC error, or a gateway error for a task the server cancelled. */
  async #finish(
    upstream: Upstream,
    ref: UpstreamTaskRef,
    task: UpstreamTask,
    background: Promise<void> | undefined,
    done: () => { result: CallToolResult } | { error: unknown } | undefined,
    request: (cap?: number) => ForwardOptions,
  ): Promise<CallToolResult> {
    if (task.status === 'cancelled')
      throw new GatewayError(
        'UPSTREAM_FAILED',
        `${labelOf(ref)} cancelled the task itself${task.statusMessage ? `: ${task.statusMessage}` : ''}`,
        {
          server: ref.server,
          instance: ref.instance,
          sent: true,
        },
      );
    if (ref.era === '2026-07-28') {
      if (task.status === 'completed' && task.result) return task.result;
      if (task.error) throw taskFailure(task.error);
      throw new GatewayError(
        'UPSTREAM_FAILED',
        `${labelOf(ref)} ended the task (${task.status}) without a result${task.statusMessage ? `: ${task.statusMessage}` : ''}`,
        {
          server: ref.server,
          instance: ref.instance,
          sent: true,
        },
      );
    }
    if (background) {
      await background;
      const settled = done();
      if (settled && 'result' in settled) return settled.result;
      if (settled && 'error' in settled) throw settled.error;
    }
    return upstream.tasks.result(ref.taskId, request(Number.MAX_SAFE_INTEGER));
  }

  /** True for a failure that another poll may get past: the connection, not the task. */
  #transient(error: unknown, ref: UpstreamTaskRef): boolean {
    if (!(error instanceof GatewayError) || error.details?.notFound === true) return false;
    if (!['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_FAILED'].includes(error.code)) return false;
    this.#instanceOf(ref); // gone (server removed, gateway closing): fail instead of polling forever
    return true;
  }

  /** Best-effort tasks/cancel upstream (logged, never thrown). */
  async #cancel(upstream: Upstream, ref: UpstreamTaskRef): Promise<void> {
    try {
      await upstream.tasks.cancel(ref.era, ref.taskId, { timeoutMs: CANCEL_TIMEOUT_MS });
    } catch (error) {
      this.#log.warn(
        { server: ref.server, instance: ref.instance, err: (error as Error).message },
        'tasks/cancel upstream failed',
      );
    }
  }
}

export function statusOf(task: UpstreamTask): UpstreamTaskStatus {
  return {
    status: task.status === 'input_required' ? 'input_required' : 'working',
    ...(task.statusMessage !== undefined ? { statusMessage: task.statusMessage } : {}),
  };
}

export function labelOf(ref: UpstreamTaskRef): string {
  return ref.server === ref.instance ? `server "${ref.server}"` : `server "${ref.server}" (instance ${ref.instance})`;
}
