/**
 * What each task method does (the terminal of the tasks chain; handlers.ts registers the methods and
 * checks their params). The caller's owner key comes from the request's principal, so another owner's
 * task, an expired one and an id that never existed all answer the same -32602 "not found"; a 2026
 * request that does not declare the tasks extension is refused with -32021, as the extension says.
 *
 * - 2025-11-25: `tasks/get` (the Task), `tasks/result` (waits for the end, then the call's result with
 *   the related-task `_meta`, or the upstream's JSON-RPC error), `tasks/list` (the caller's own tasks,
 *   newest first), `tasks/cancel` (the cancelled Task; -32602 once it has ended).
 * - 2026-07-28: `tasks/get` (the detailed task: result, error or inputRequests inlined),
 *   `tasks/update` (answers to inputRequests), `tasks/cancel` (an acknowledgement).
 */
import {
  MissingRequiredClientCapabilityError,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { isTerminal, ownerKey, type TaskRecord } from '../../core/tasks.js';
import type { TaskRegistry } from '../../gateway/tasks/registry.js';
import type { Terminal } from '../pipeline/chain.js';
import type { RequestContext } from '../pipeline/context.js';
import { declaresTasks } from './handlers.js';
import { detailed2026, jsonRpcErrorOf, outcomeResult, relatedTask, task2025, TASKS_EXTENSION } from './render.js';

type Answer = Record<string, unknown>;

/** True when the request is a 2026-07-28 (or later) one: its envelope names the revision. */
export function isModernRequest(ctx: ServerContext | undefined): boolean {
  const version = ctx?.mcpReq.envelope?.[PROTOCOL_VERSION_META_KEY as never] as unknown;
  return typeof version === 'string' && version >= '2026-07-28';
}

const notFound = () => new ProtocolError(ProtocolErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');

/** The tasks chain's terminal: runs the method `ctx.name` with `ctx.params`. */
export function taskOpsTerminal(registry: TaskRegistry): Terminal<Answer> {
  return async (ctx) => {
    const sdk = ctx.sdk;
    if (!sdk) throw new ProtocolError(ProtocolErrorCode.InternalError, 'a task request needs its agent request');
    const params = ctx.params ?? {};
    const modern = isModernRequest(sdk);
    const owner = ownerKey(ctx.principal);
    const taskId = typeof params.taskId === 'string' ? params.taskId : undefined;
    ctx.auditDetail = { op: ctx.name.slice('tasks/'.length), ...(taskId ? { task: taskId } : {}) };
    /** The caller's task, after the era's rules. */
    const find = (): TaskRecord => {
      if (modern && !declaresTasks(sdk))
        throw new MissingRequiredClientCapabilityError(
          { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
          `tasks need the ${TASKS_EXTENSION} extension declared in the request's client capabilities`,
        );
      const task = taskId === undefined ? undefined : registry.get(taskId, owner);
      if (!task) throw notFound();
      return task;
    };
    const legacyOnly = () => {
      if (modern) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `${ctx.name} is a 2025-11-25 method`);
    };
    switch (ctx.name) {
      case 'tasks/get': {
        const task = find();
        return modern ? detailed2026(task, registry.asks(task.id)) : task2025(task);
      }
      case 'tasks/cancel': {
        const task = find();
        const outcome = registry.cancel(task.id, owner);
        if (modern) return {}; // cooperative: an acknowledgement; tasks/get tells the outcome
        if (outcome === 'terminal')
          throw new ProtocolError(
            ProtocolErrorCode.InvalidParams,
            `Cannot cancel task in terminal status: ${task.status}`,
          );
        if (!outcome) throw notFound();
        return task2025(outcome);
      }
      case 'tasks/update': {
        if (!modern) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found');
        const task = find();
        // Answers to the questions tasks/get showed; unknown keys are ignored, as the extension says. The
        // SDK lifts a 2026 request's `inputResponses` out of its params into the context.
        registry.answer(task.id, sdk.mcpReq.inputResponses ?? (params.inputResponses as Answer | undefined) ?? {});
        return {};
      }
      case 'tasks/result':
        legacyOnly();
        return result(registry, find(), sdk.mcpReq.signal);
      case 'tasks/list':
        legacyOnly();
        return list(registry, ctx, owner);
      default:
        throw new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found');
    }
  };
}

/** 2025 tasks/result: waits for the end, then the call's result (or the upstream's JSON-RPC error). */
async function result(registry: TaskRegistry, task: TaskRecord, signal: AbortSignal): Promise<Answer> {
  const ended = isTerminal(task.status) ? task : await registry.waitForEnd(task.id, task.owner, signal);
  if (!ended) throw notFound();
  if (!isTerminal(ended.status))
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      'the task has not ended: the wait was cut short (the request was cancelled, or the gateway is shutting down); ask again',
    );
  if (ended.status === 'failed' && ended.error && typeof ended.error.code === 'number') {
    const { code, message, data } = jsonRpcErrorOf(ended.error);
    throw new ProtocolError(code, message, data);
  }
  const done = outcomeResult(ended) ?? { content: [] };
  return { ...done, _meta: { ...done._meta, ...relatedTask(ended) } };
}

/** 2025 tasks/list: the caller's own tasks, newest first. */
function list(registry: TaskRegistry, ctx: RequestContext, owner: TaskRecord['owner']): Answer {
  const cursor = typeof ctx.params?.cursor === 'string' ? ctx.params.cursor : undefined;
  let page;
  try {
    page = registry.list({ owner }, cursor);
  } catch {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid cursor');
  }
  return { tasks: page.tasks.map(task2025), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
}
