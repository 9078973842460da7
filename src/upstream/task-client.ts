/**
 * The gateway as a task *client* of its upstreams (docs/design/issue-14-tasks.md §1.3 blockers B and C,
 * §4.6): the SDK client with two corrections at the wire, and the task operations of one upstream.
 *
 * - `TaskClient` extends the SDK's `Client`. A 2026-07-28 `resultType: "task"` answer is rewritten,
 *   before the SDK decodes it (it would reject the result type and drop the body), into an empty
 *   CallToolResult carrying the task under `_meta[TASK_MARKER]`. Progress notifications with the
 *   gateway's own `sbt-…` tokens (the SDK forgets a request's progress handler once it is answered,
 *   but a task reports progress long after) and `notifications/tasks/status` are taken here too.
 * - `UpstreamTasks` runs tasks/* on one upstream through the upstream's own forwarding (its timeout,
 *   in-flight count and error translation), and routes each task's status and progress to whoever
 *   follows it (gateway/tasks/upstream-tasks.ts). Upstream task ids never leave the gateway: the
 *   related-task key is stripped from results, and errors never name the id.
 */
import { randomBytes } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  Client,
  ProtocolError,
  ProtocolErrorCode,
  RELATED_TASK_META_KEY,
  type JSONRPCNotification,
  type JSONRPCResponse,
  type MessageExtraInfo,
} from '@modelcontextprotocol/client';
import type { AgentChannel } from '../core/channel.js';
import { GatewayError } from '../core/errors.js';
import type { CallToolResult } from '../core/protocol.js';
import type { UpstreamTaskEra } from '../core/tasks.js';
import type { ClientRelay } from './client-relay.js';
import type { Progress } from './notify-limits.js';
import type { ForwardOptions } from './upstream.js';
import {
  anyResultSchema,
  create2025Schema,
  create2026Schema,
  createdTask2025,
  createdTask2026,
  fromTask2025,
  fromTask2026,
  task2025Schema,
  task2026Schema,
  TASK_MARKER,
  TASK_PROGRESS_PREFIX,
  TASKS_EXTENSION,
  type UpstreamTask,
  type WireError,
} from './tasks-wire.js';

/** Where TaskClient hands what it takes off the wire. */
export interface TaskClientHooks {
  progress(token: string, progress: Progress): void;
  /** A pushed task status (2025 `notifications/tasks/status`); params are the raw Task. */
  status(params: unknown): void;
}

/** The SDK client with the task corrections described in the header. */
export class TaskClient extends Client {
  readonly #hooks: TaskClientHooks;

  constructor(
    info: ConstructorParameters<typeof Client>[0],
    options: ConstructorParameters<typeof Client>[1],
    hooks: TaskClientHooks,
  ) {
    super(info, options);
    this.#hooks = hooks;
  }

  protected override _onresponse(response: JSONRPCResponse): void {
    const result = (response as { result?: Record<string, unknown> }).result;
    if (result && result.resultType === 'task') {
      const { resultType: _, ...task } = result;
      return super._onresponse({
        ...response,
        result: { resultType: 'complete', content: [], _meta: { [TASK_MARKER]: task } },
      });
    }
    super._onresponse(response);
  }

  protected override _onnotification(raw: JSONRPCNotification, extra?: MessageExtraInfo): void {
    const params = (raw.params ?? {}) as Record<string, unknown>;
    if (raw.method === 'notifications/progress') {
      const token = params.progressToken;
      if (typeof token === 'string' && token.startsWith(TASK_PROGRESS_PREFIX) && typeof params.progress === 'number') {
        this.#hooks.progress(token, {
          progress: params.progress,
          ...(typeof params.total === 'number' ? { total: params.total } : {}),
          ...(typeof params.message === 'string' ? { message: params.message } : {}),
        });
        return;
      }
    } else if (raw.method === 'notifications/tasks/status') {
      this.#hooks.status(params);
      return;
    }
    super._onnotification(raw, extra);
  }

  /** `meta` declaring the tasks extension in this request's client capabilities (2026: per request, not per session). */
  withTasksExtension(meta: Record<string, unknown> | undefined): Record<string, unknown> {
    const envelope = (this._outboundMetaEnvelope() ?? {}) as Record<string, unknown>;
    const caps = (envelope[CLIENT_CAPABILITIES_META_KEY] ?? {}) as Record<string, unknown>;
    const extensions = (caps.extensions ?? {}) as Record<string, unknown>;
    // The caller's _meta key replaces the envelope's whole value, so the declared capabilities are copied in.
    return {
      ...meta,
      [CLIENT_CAPABILITIES_META_KEY]: { ...caps, extensions: { ...extensions, [TASKS_EXTENSION]: {} } },
    };
  }
}

/** What UpstreamTasks needs of its Upstream. */
export interface TaskForwarding {
  readonly server: string;
  readonly instance: string;
  /** The upstream's forwarding (state check, timeout, in-flight count, error translation). */
  forward<T>(
    method: string,
    run: (client: TaskClient, options: object) => Promise<T>,
    options: ForwardOptions,
  ): Promise<T>;
  /** The connected client, if any. */
  client(): TaskClient | undefined;
  readonly relay: ClientRelay;
}

/** The answer to a task creation: a task, or a plain result (the server decides). */
export type TaskCreation =
  | {
      readonly kind: 'task';
      readonly task: UpstreamTask;
      readonly era: UpstreamTaskEra;
      readonly progressToken: string;
    }
  | { readonly kind: 'result'; readonly result: CallToolResult };

/** Who follows one upstream task: told of its pushed statuses and its progress. */
export interface TaskWatcher {
  status?(task: UpstreamTask): void;
  progress?(progress: Progress): void;
}

/** Progress tokens of created tasks nobody follows yet: at most this many kept (their latest progress). */
const MAX_UNWATCHED = 1_000;

/** The task operations of one upstream (see the header). */
export class UpstreamTasks {
  readonly #up: TaskForwarding;
  readonly #watchers = new Map<string, TaskWatcher>();
  readonly #byToken = new Map<string, TaskWatcher>();
  /** Latest progress of tokens not yet watched (it may arrive before the creation's answer is read). */
  readonly #unwatched = new Map<string, Progress>();

  constructor(up: TaskForwarding) {
    this.#up = up;
  }

  /** Hooks for this upstream's TaskClient (every connection's). */
  readonly hooks: TaskClientHooks = {
    progress: (token, progress) => {
      const watcher = this.#byToken.get(token);
      if (watcher) return watcher.progress?.(progress);
      this.#unwatched.delete(token);
      this.#unwatched.set(token, progress);
      if (this.#unwatched.size > MAX_UNWATCHED) this.#unwatched.delete(this.#unwatched.keys().next().value as string);
    },
    status: (params) => {
      const parsed = task2025Schema.safeParse(params);
      if (parsed.success) this.#watchers.get(parsed.data.taskId)?.status?.(fromTask2025(parsed.data));
    },
  };

  /**
   * The era in which this server would run `taskSupport`'s tool as a task: 2025 when it declares tasks for
   * tools/call and the tool says optional or required; 2026 when it declares the tasks extension.
   */
  era(taskSupport: string | undefined): UpstreamTaskEra | undefined {
    const client = this.#up.client();
    const caps = client?.getServerCapabilities() as
      { extensions?: Record<string, unknown>; tasks?: { requests?: { tools?: { call?: unknown } } } } | undefined;
    if (!client || !caps) return undefined;
    if (client.getProtocolEra() === 'modern') return caps.extensions?.[TASKS_EXTENSION] ? '2026-07-28' : undefined;
    const declared = caps.tasks?.requests?.tools?.call !== undefined;
    return declared && (taskSupport === 'optional' || taskSupport === 'required') ? '2025-11-25' : undefined;
  }

  /** Calls the tool as a task (2025: `params.task`; 2026: the extension declared on this request). */
  async create(
    name: string,
    args: Record<string, unknown> | undefined,
    meta: Record<string, unknown> | undefined,
    ttlMs: number,
    options: ForwardOptions,
  ): Promise<TaskCreation> {
    const progressToken = `${TASK_PROGRESS_PREFIX}${randomBytes(12).toString('base64url')}`;
    const base = { name, ...(args ? { arguments: args } : {}) };
    // No onprogress: the SDK would replace the token with its own, forgotten once the creation is answered.
    const answer = await this.#up.forward<{ era: UpstreamTaskEra; r: unknown }>(
      'tools/call',
      async (client, o) => {
        if (client.getProtocolEra() !== 'modern') {
          const params = { ...base, task: { ttl: ttlMs }, _meta: { ...meta, progressToken } };
          return { era: '2025-11-25', r: await client.request({ method: 'tools/call', params }, create2025Schema, o) };
        }
        const params = { ...base, _meta: client.withTasksExtension(meta) };
        return { era: '2026-07-28', r: await client.request({ method: 'tools/call', params }, create2026Schema, o) };
      },
      { ...options, onprogress: undefined },
    );
    const raw = answer.r as Record<string, unknown>;
    let task: UpstreamTask | undefined;
    try {
      task = answer.era === '2025-11-25' ? createdTask2025(raw) : createdTask2026(raw);
    } catch (error) {
      throw this.#failed(`tools/call: ${(error as Error).message}`);
    }
    if (!task) {
      this.#unwatched.delete(progressToken);
      return { kind: 'result', result: raw as CallToolResult };
    }
    return { kind: 'task', task, era: answer.era, progressToken };
  }

  /** tasks/get. An id the server does not know fails UPSTREAM_FAILED with `details.notFound`. */
  async get(era: UpstreamTaskEra, taskId: string, options: ForwardOptions): Promise<UpstreamTask> {
    return this.#known(async () => {
      if (era === '2025-11-25') {
        const task = await this.#up.forward(
          'tasks/get',
          (c, o) => c.request({ method: 'tasks/get', params: { taskId } }, task2025Schema, o),
          options,
        );
        return fromTask2025(task);
      }
      const task = await this.#up.forward(
        'tasks/get',
        (c, o) =>
          c.request(
            { method: 'tasks/get', params: { taskId, _meta: c.withTasksExtension(undefined) } },
            task2026Schema,
            o,
          ),
        options,
      );
      return {
        ...fromTask2026(task),
        ...(task.result ? { result: withoutTaskId(task.result as CallToolResult) } : {}),
      };
    });
  }

  /** 2025 tasks/result: blocks until the task ends; the server delivers its related-task requests meanwhile. */
  async result(taskId: string, options: ForwardOptions): Promise<CallToolResult> {
    return this.#known(async () => {
      const result = await this.#up.forward(
        'tasks/result',
        (c, o) => c.request({ method: 'tasks/result', params: { taskId } }, anyResultSchema, o),
        options,
      );
      return withoutTaskId(result as CallToolResult);
    });
  }

  /** tasks/cancel (cooperative; the server may already have finished). */
  async cancel(era: UpstreamTaskEra, taskId: string, options: ForwardOptions): Promise<void> {
    await this.#up.forward(
      'tasks/cancel',
      (c, o) =>
        c.request(
          {
            method: 'tasks/cancel',
            params: { taskId, ...(era === '2026-07-28' ? { _meta: c.withTasksExtension(undefined) } : {}) },
          },
          anyResultSchema,
          o,
        ),
      options,
    );
  }

  /** 2026 tasks/update: answers to the task's input requests, by key. */
  async update(taskId: string, inputResponses: Record<string, unknown>, options: ForwardOptions): Promise<void> {
    await this.#known(() =>
      this.#up.forward(
        'tasks/update',
        (c, o) =>
          c.request(
            { method: 'tasks/update', params: { taskId, inputResponses, _meta: c.withTasksExtension(undefined) } },
            anyResultSchema,
            o,
          ),
        options,
      ),
    );
  }

  /** Routes the task's pushed statuses and its progress (by the token it was created with) to `watcher`. */
  watch(taskId: string, progressToken: string | undefined, watcher: TaskWatcher): () => void {
    this.#watchers.set(taskId, watcher);
    if (progressToken) {
      this.#byToken.set(progressToken, watcher);
      const early = this.#unwatched.get(progressToken);
      this.#unwatched.delete(progressToken);
      if (early) watcher.progress?.(early);
    }
    return () => {
      if (this.#watchers.get(taskId) === watcher) this.#watchers.delete(taskId);
      if (progressToken && this.#byToken.get(progressToken) === watcher) this.#byToken.delete(progressToken);
    };
  }

  /** Sends the server's requests tagged with this task (related-task `_meta`) to `channel`. */
  bind(taskId: string, channel: AgentChannel): () => void {
    return this.#up.relay.bindTask(taskId, channel);
  }

  /** Runs a tasks/* request; the server's "no such task" (-32602) becomes UPSTREAM_FAILED with `notFound`. */
  async #known<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ProtocolError && error.code === (ProtocolErrorCode.InvalidParams as number))
        throw new GatewayError(
          'UPSTREAM_FAILED',
          `${this.#label} no longer knows this task (it may have restarted or expired it): ${error.message.replace(/[0-9a-f-]{16,}/gi, '…')}`,
          { server: this.#up.server, instance: this.#up.instance, notFound: true, sent: true },
          { cause: error },
        );
      throw error;
    }
  }

  #failed(message: string): GatewayError {
    return new GatewayError('UPSTREAM_FAILED', `${this.#label} failed during ${message}`, {
      server: this.#up.server,
      instance: this.#up.instance,
      sent: true,
    });
  }

  get #label(): string {
    const { server, instance } = this.#up;
    return server === instance ? `server "${server}"` : `server "${server}" (instance ${instance})`;
  }
}

/** The JSON-RPC error a failed 2026 task inlined, as the error a plain call would have thrown. */
export function taskFailure(error: WireError): Error {
  return new ProtocolError(error.code, error.message, error.data);
}

/** `result` without the related-task key (it names the upstream's task id, which stays inside the gateway). */
export function withoutTaskId(result: CallToolResult): CallToolResult {
  const meta = result._meta;
  if (!meta || !(RELATED_TASK_META_KEY in meta)) return result;
  const { [RELATED_TASK_META_KEY]: _, ...rest } = meta;
  const { _meta: __, ...body } = result;
  return Object.keys(rest).length > 0 ? { ...body, _meta: rest } : body;
}
