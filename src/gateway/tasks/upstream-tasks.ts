/**
 * Upstream tasks (docs/design/issue-14-tasks.md §4.6, §4.8): the gateway starts a call as a task on an
 * upstream that offers tasks (2025-11-25 `params.task`, or the 2026-07-28 tasks extension) and follows
 * it to its end (upstream-follow.ts: pushed statuses and polling with backoff, the upstream's input
 * requests relayed to the agent, cancellation and the deadline sent upstream as `tasks/cancel`).
 *
 * The registry (registry.ts) calls this through Gateway's upstreamTaskSupport / createUpstreamTask /
 * followUpstreamTask and keeps the `UpstreamTaskRef` durable, so a restarted gateway follows the same
 * task again. A plain call of a tool whose upstream requires tasks is served here too (callThrough).
 * What follows a task is bound to the instance that created it: no failover once the creation was sent.
 */
import type { CatalogTool } from '../../catalog/snapshot.js';
import type { AgentChannel } from '../../core/channel.js';
import { GatewayError } from '../../core/errors.js';
import type { CallToolResult } from '../../core/protocol.js';
import type { UpstreamTaskEra } from '../../core/tasks.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Upstream } from '../../upstream/upstream.js';
import type { InstanceSelector, ServerPool } from '../pool.js';
import type { CallOptions } from '../gateway.js';
import { labelOf, statusOf, TaskFollower } from './upstream-follow.js';

/** Where an upstream task lives: enough to follow it again after a gateway restart. */
export interface UpstreamTaskRef {
  readonly server: string;
  readonly instance: string;
  readonly taskId: string;
  readonly era: UpstreamTaskEra;
  /**
   * The progress token the task was created with (2025 progress notifications carry only it). Not needed
   * to follow the task: without it (a ref read back after a restart) progress is not reported, statuses are.
   */
  readonly progressToken?: string | undefined;
}

/** A non-terminal upstream task status as followers report it. */
export interface UpstreamTaskStatus {
  readonly status: 'working' | 'input_required';
  readonly statusMessage?: string;
}

/** What createUpstreamTask answers: the task, or the plain result the upstream chose to give instead. */
export type UpstreamTaskCreated =
  | {
      readonly kind: 'task';
      readonly ref: UpstreamTaskRef;
      readonly status: UpstreamTaskStatus;
      readonly pollIntervalMs?: number;
    }
  | { readonly kind: 'result'; readonly result: CallToolResult };

/** How followUpstreamTask follows (see Gateway.followUpstreamTask). */
export interface FollowOptions {
  /** Cancels: tasks/cancel is sent upstream and the follow rejects with the signal's reason. */
  readonly signal: AbortSignal;
  /** Epoch ms: tasks/cancel is sent upstream and the follow fails UPSTREAM_TIMEOUT. */
  readonly deadlineAt: number;
  readonly poll: { readonly minMs: number; readonly maxMs: number };
  readonly onStatus?: ((status: UpstreamTaskStatus) => void) | undefined;
  readonly onProgress?: ((progress: { progress: number; total?: number; message?: string }) => void) | undefined;
  /** Where the upstream's input requests during the task go. */
  readonly channel?: AgentChannel | undefined;
  /** Stops following without cancelling upstream (gateway shutdown: the task goes on and is followed again later). */
  readonly detach?: AbortSignal | undefined;
}

/** What the runner needs from the Gateway. */
export interface UpstreamTaskDeps {
  pool(server: string): ServerPool | undefined;
  selector(tool: CatalogTool, pool: ServerPool, options: CallOptions): InstanceSelector | undefined;
  readonly log: Logger;
  /** tasks.upstream: `never` offers no upstream tasks to the registry (required tools still use them). */
  readonly mode: () => 'auto' | 'never';
  readonly poll: () => { minMs: number; maxMs: number };
  readonly callTimeoutMs: number;
}

/** Creates and follows upstream tasks for one Gateway. */
export class UpstreamTaskRunner {
  readonly #deps: UpstreamTaskDeps;
  readonly #follower: TaskFollower;

  constructor(deps: UpstreamTaskDeps) {
    this.#deps = deps;
    this.#follower = new TaskFollower((ref) => this.#instanceOf(ref), deps.log);
  }

  /** The era in which the tool's server would run it as a task, else undefined. */
  support(tool: CatalogTool): UpstreamTaskEra | undefined {
    if (this.#deps.mode() === 'never') return undefined;
    return this.#deps.pool(tool.server)?.taskEra(tool.name);
  }

  /** True when a plain call of the tool fails upstream unless it is made as a task (2025 `required`). */
  requiresTask(tool: CatalogTool): boolean {
    const pool = this.#deps.pool(tool.server);
    return !!pool && pool.taskSupport(tool.name) === 'required' && pool.taskEra(tool.name) === '2025-11-25';
  }

  async create(
    tool: CatalogTool,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    options: CallOptions & { ttlMs: number },
  ): Promise<UpstreamTaskCreated> {
    const pool = this.#poolOf(tool.server);
    const { ttlMs, ...forward } = options;
    const { instance, creation } = await pool.createTask(
      tool.name,
      args,
      meta,
      ttlMs,
      forward,
      this.#deps.selector(tool, pool, options),
    );
    if (creation.kind === 'result') return creation;
    const { task } = creation;
    return {
      kind: 'task',
      ref: {
        server: tool.server,
        instance,
        taskId: task.taskId,
        era: creation.era,
        progressToken: creation.progressToken,
      },
      status: statusOf(task),
      ...(task.pollIntervalMs !== undefined ? { pollIntervalMs: task.pollIntervalMs } : {}),
    };
  }

  /** A plain call of a tool that must run as an upstream task: create it, follow it, answer its result. */
  async callThrough(
    tool: CatalogTool,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    options: CallOptions,
  ): Promise<CallToolResult> {
    const pool = this.#poolOf(tool.server);
    const timeoutMs = options.timeoutMs ?? pool.spec.instances[0]?.timeoutMs ?? this.#deps.callTimeoutMs;
    const deadlineAt = Date.now() + timeoutMs;
    const created = await this.create(tool, args, meta, { ...options, ttlMs: timeoutMs });
    if (created.kind === 'result') return created.result;
    return this.follow(created.ref, {
      signal: options.signal ?? new AbortController().signal,
      deadlineAt,
      poll: this.#deps.poll(),
      onProgress: options.onprogress,
      channel: options.channel,
    });
  }
  /** Follows the task to its end (see Gateway.followUpstreamTask for the contract). */
  follow(ref: UpstreamTaskRef, options: FollowOptions): Promise<CallToolResult> {
    return this.#follower.follow(ref, options);
  }

  #poolOf(server: string): ServerPool {
    const pool = this.#deps.pool(server);
    if (!pool)
      throw new GatewayError('UPSTREAM_UNAVAILABLE', `server "${server}" has been removed`, { server, sent: false });
    return pool;
  }

  /** The instance holding the task; UPSTREAM_UNAVAILABLE (retryable) once the server or instance is gone. */
  #instanceOf(ref: UpstreamTaskRef): Upstream {
    const upstream = this.#deps.pool(ref.server)?.instance(ref.instance);
    if (!upstream || upstream.state === 'closed' || upstream.state === 'draining')
      throw new GatewayError(
        'UPSTREAM_UNAVAILABLE',
        `${labelOf(ref)} is gone, and its task with it; try the call again`,
        {
          server: ref.server,
          instance: ref.instance,
        },
      );
    return upstream;
  }
}
