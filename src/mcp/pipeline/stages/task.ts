/**
 * The task stage (issue 14; docs/design/issue-14-tasks.md §4.4): the last stage before `invoke`. When
 * the agent asked for a task (`ctx.task`, set by the edge), it writes the task, hands it to the edge at
 * once (which answers with the handle), and then runs the rest of the call under the task's own signal,
 * deadline and progress sink, settling the task when the call ends.
 *
 * Why here and not outermost: the cheap refusals before it (unknown tool, scopes and policy, limits,
 * size, schema) stay plain answers, so no task is ever created for a call that could not run; and the
 * stages that record outcomes (audit, learning, experiments) still wrap the real call, because this
 * stage returns only when the call has ended. The edge stops waiting for it once it has the handle.
 *
 * A task outlives its request, so the stage detaches the call from it: the agent's abort signal no
 * longer cancels it (only a cancel of the task does), and the upstream's questions no longer ride the
 * request that was answered.
 */
import { argsHash } from '../../../audit/redact.js';
import { ownerKey, type TaskRecord, type TaskRequest } from '../../../core/tasks.js';
import type { Gateway } from '../../../gateway/gateway.js';
import type { TaskRegistry } from '../../../gateway/tasks/registry.js';
import { TaskChannel } from '../../../gateway/tasks/channel.js';
import type { Stage } from '../chain.js';
import { resolvedTool, type RequestContext, type ToolResult, type UpstreamTaskPlan } from '../context.js';

/** Runs a call that asked for a task as a task of `registry`. */
export function taskStage(gateway: Gateway, registry: TaskRegistry): Stage<ToolResult> {
  return {
    name: 'task',
    async run(ctx, next) {
      const intent = ctx.task;
      if (!intent) return next();
      const tool = ctx.target ?? resolvedTool(ctx);
      const task =
        intent.resume ??
        registry.create({
          owner: ownerKey(ctx.principal),
          principal: ctx.principal,
          session: intent.session ?? null,
          origin: intent.origin,
          method: ctx.method,
          tool: tool.id,
          server: tool.server,
          ...rerunOf(ctx, gateway.isRetrySafe(tool)),
          argsHash: argsHash(ctx.args ?? {}),
          ttlMs: intent.ttlMs,
        }).task;
      intent.created(task);
      // Where the server runs it as a task of its own, the gateway follows that task (a virtual tool's
      // fan-out never does: its branches are plain calls).
      const era = gateway.upstreamTaskSupport(tool);
      // A 2026 agent is never asked outside a request (that era has no server-to-client requests): its
      // task's questions are parked for tasks/update, even on a stdio connection.
      const session =
        intent.session && task.origin !== '2026-07-28' ? gateway.agents.channelOf(intent.session) : undefined;
      return registry.run(task, (signal) => {
        ctx.signal = signal;
        ctx.detached = { channel: new TaskChannel(registry, task.id, task.origin, session) };
        ctx.timeoutMs = Math.max(1, task.deadlineAt - Date.now());
        ctx.progress = (p) => {
          registry.progress(task.id, p);
          intent.progress?.(p);
        };
        if (era) ctx.upstreamTask = upstreamPlan(registry, task);
        return next();
      });
    },
  };
}

/** How invoke follows the upstream task of `task`, recording each step on it. */
export function upstreamPlan(registry: TaskRegistry, task: TaskRecord): UpstreamTaskPlan {
  return {
    ttlMs: task.ttlMs,
    deadlineAt: task.deadlineAt,
    poll: registry.config.upstreamPoll,
    detach: registry.detachSignal,
    created: (ref) =>
      registry.mapUpstream(task.id, {
        upstreamInstance: ref.instance,
        upstreamTaskId: ref.taskId,
        upstreamEra: ref.era,
      }),
    onStatus: (s) => registry.status(task.id, s.status, s.statusMessage),
  };
}

/**
 * What a re-run after a restart needs. Kept only when the call is safe to repeat: arguments may hold
 * secrets, so a call that will never run again keeps only their hash.
 */
function rerunOf(ctx: RequestContext, safe: boolean): { rerunSafe: boolean; request: TaskRequest | null } {
  if (!safe) return { rerunSafe: false, request: null };
  const { progressToken: _token, ...meta } = ctx.meta ?? {};
  return {
    rerunSafe: true,
    request: {
      name: ctx.name,
      args: ctx.args ?? {},
      ...(Object.keys(meta).length > 0 ? { meta } : {}),
      ...(ctx.version !== undefined ? { version: ctx.version } : {}),
      ...(ctx.decisionId !== undefined ? { decisionId: ctx.decisionId } : {}),
    },
  };
}
