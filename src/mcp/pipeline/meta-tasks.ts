/**
 * get_call and cancel_call: the handles of call_capability's `async` calls, for agents that do not
 * speak either era's tasks (docs/design/issue-14-tasks.md §4.5). Same registry, same rules as tasks/*:
 * the caller's owner key is part of every read, so another agent's handle is simply not found.
 */
import { GatewayError } from '../../core/errors.js';
import { isTerminal, ownerKey } from '../../core/tasks.js';
import type { TaskRegistry } from '../../gateway/tasks/registry.js';
import { handleResult } from '../tasks/render.js';
import { errorResult } from '../tool-errors.js';
import type { Terminal } from './chain.js';
import type { ToolResult } from './context.js';

/** Longest get_call wait: long enough to save polls, short enough for any client's request timeout. */
export const MAX_WAIT_MS = 30_000;

const notFound = (handle: string) =>
  errorResult(
    new GatewayError('NOT_FOUND', `no call with handle "${handle.slice(0, 64)}" (it may have expired)`, {
      handle: handle.slice(0, 64),
    }),
  );

/** get_call {handle, waitMs?}: status, progress and the result once done. */
export function getCallTerminal(tasks: TaskRegistry): Terminal<ToolResult> {
  return async (ctx) => {
    const handle = String(ctx.args?.handle);
    const owner = ownerKey(ctx.principal);
    const waitMs = Math.min(MAX_WAIT_MS, Math.max(0, Number(ctx.args?.waitMs ?? 0)));
    ctx.auditDetail = { op: 'get', task: handle };
    const task = tasks.get(handle, owner);
    if (!task) return notFound(handle);
    const seen =
      isTerminal(task.status) || waitMs === 0
        ? task
        : await tasks.waitForChange(handle, owner, task.version, waitMs, ctx.signal);
    return handleResult(seen ?? task);
  };
}

/** cancel_call {handle}: cancels the call; the cancel reaches its upstream. */
export function cancelCallTerminal(tasks: TaskRegistry): Terminal<ToolResult> {
  return async (ctx) => {
    const handle = String(ctx.args?.handle);
    const owner = ownerKey(ctx.principal);
    ctx.auditDetail = { op: 'cancel', task: handle };
    const outcome = tasks.cancel(handle, owner);
    if (!outcome) return notFound(handle);
    if (outcome === 'terminal') {
      const task = tasks.get(handle, owner);
      return task ? handleResult(task) : notFound(handle);
    }
    return handleResult(outcome);
  };
}
