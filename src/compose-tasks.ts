/**
 * Composition of the tasks (issue 14): how a tenant core takes up, after a restart, the tasks the last
 * run left unfinished (gateway/tasks/upkeep.ts decides which way):
 *
 * - a gateway-run call that is safe to repeat goes through the tool chain again, with the principal
 *   that started it (so scopes and policy are checked again, and limits count it), but with no agent
 *   request behind it: no progress token, no session, and the existing task instead of a new one;
 * - an upstream task is followed again where the record says it lives; its questions are parked on
 *   the task (the agent's session did not survive the restart).
 */
import type { TaskRecord } from './core/tasks.js';
import { GatewayError } from './core/errors.js';
import { TaskChannel } from './gateway/tasks/channel.js';
import type { TaskRegistry } from './gateway/tasks/registry.js';
import type { AgentServerDeps } from './mcp/agent-server.js';
import type { RequestContext } from './mcp/pipeline/context.js';
import { upstreamPlan } from './mcp/pipeline/stages/task.js';
import type { Gateway } from './gateway/gateway.js';

/** The re-run of an unfinished task's call; resolves when the call has ended (or was refused). */
export function rerunner(deps: AgentServerDeps): (task: TaskRecord) => Promise<unknown> {
  return async (task) => {
    const { request, principal } = task;
    if (!request) return;
    const ctx: RequestContext = {
      method: task.method === 'call_capability' ? 'call_capability' : 'tools/call',
      principal,
      units: { agent: principal.agent, user: principal.user, session: task.session ?? `task:${task.id}` },
      view: deps.access.view(principal, deps.gateway.catalog),
      name: request.name,
      args: { ...request.args },
      meta: request.meta ? { ...request.meta } : undefined,
      signal: new AbortController().signal, // the task stage replaces it with the task's own
      startedAt: performance.now(),
      decisionId: request.decisionId,
      version: request.version,
      task: { origin: task.origin, resume: task, created: () => {} },
    };
    return deps.chains.tool(ctx);
  };
}

/** Follows an unfinished upstream task again; resolves when it has ended. */
export function follower(gateway: Gateway, tasks: TaskRegistry): (task: TaskRecord) => Promise<unknown> {
  return (task) =>
    tasks.run(task, (signal) => {
      const { server, upstreamInstance: instance, upstreamTaskId: taskId, upstreamEra: era } = task;
      if (!server || !instance || !taskId || !era)
        throw new GatewayError('UPSTREAM_FAILED', 'the task names no upstream task to follow', { task: task.id });
      tasks.following(task.id);
      const plan = upstreamPlan(tasks, task);
      return gateway.followUpstreamTask(
        { server, instance, taskId, era },
        {
          signal,
          deadlineAt: plan.deadlineAt,
          poll: plan.poll,
          detach: plan.detach,
          onStatus: plan.onStatus,
          onProgress: (p) => tasks.progress(task.id, p),
          channel: new TaskChannel(tasks, task.id, task.origin),
        },
      );
    });
}
