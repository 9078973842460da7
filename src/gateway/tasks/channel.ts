/**
 * Where the questions of a task's call go (issue 14, §2: input requests during a task reach the agent
 * that owns it). A task outlives the request that created it, so the request's own channel is gone:
 *
 * - the agent has a session (stdio, a 2025 HTTP session): its session channel, each request tagged
 *   with the related-task key so the agent knows which task asks;
 * - a 2026 agent: the question is parked on the task (input_required, `inputRequests` in tasks/get)
 *   until the agent answers with tasks/update;
 * - any other agent without a session (a call_capability handle; a 2025 task taken up again after a
 *   restart, when its session is gone): nobody can answer, so the question is refused at once with a
 *   reason the upstream can read.
 */
import type { AgentChannel, ClientRequestMethod, LogMessage } from '../../core/channel.js';
import type { TaskOrigin } from '../../core/tasks.js';
import type { TaskRegistry } from './registry.js';

/** The related-task `_meta` key both eras use (the SDKs export it as RELATED_TASK_META_KEY). */
export const RELATED_TASK_KEY = 'io.modelcontextprotocol/related-task';

/** The agent side of a running task. */
export class TaskChannel implements AgentChannel {
  readonly connection: string;

  constructor(
    readonly registry: TaskRegistry,
    readonly taskId: string,
    readonly origin: TaskOrigin,
    /** The agent's session channel, when it has one. */
    readonly session?: AgentChannel | undefined,
  ) {
    this.connection = session?.connection ?? `task:${taskId}`;
  }

  request(
    method: ClientRequestMethod,
    params: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    if (this.session) {
      const meta = {
        ...(params?._meta as Record<string, unknown> | undefined),
        [RELATED_TASK_KEY]: { taskId: this.taskId },
      };
      return this.session.request(method, { ...params, _meta: meta }, signal);
    }
    // Only a 2026 agent reads parked questions (tasks/get inputRequests) and answers them (tasks/update).
    if (this.origin !== '2026-07-28')
      return Promise.reject(
        new Error(`the agent that started this task cannot be asked ${method} now (it has no session to ask on)`),
      );
    return this.registry.ask(this.taskId, method, params, signal);
  }

  log(server: string, message: LogMessage): void {
    this.session?.log(server, message);
  }
}
