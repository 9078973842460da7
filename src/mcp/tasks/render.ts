/**
 * A task record as each surface shows it (docs/design/issue-14-tasks.md §1, §4.5): the 2025-11-25
 * `Task` (ISO times, `ttl`, `pollInterval`), the 2026-07-28 task of the tasks extension (`ttlMs`,
 * `pollIntervalMs`, the result or error inlined once it ended), and the handle of call_capability's
 * `async` calls with get_call.
 *
 * The upstream's own task id never appears: the gateway's id is the only handle an agent sees.
 */
import { RELATED_TASK_META_KEY, type CallToolResult } from '@modelcontextprotocol/server';
import type { TaskError, TaskRecord } from '../../core/tasks.js';
import { errorResult } from '../tool-errors.js';
import { GatewayError, type ErrorCode, ErrorCodes } from '../../core/errors.js';

/** The extension's key, in capabilities and in a request's client capabilities. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** The 2025-11-25 `Task`. */
export function task2025(task: TaskRecord): Record<string, unknown> {
  return {
    taskId: task.id,
    status: task.status,
    ttl: task.ttlMs,
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.updatedAt).toISOString(),
    pollInterval: task.pollIntervalMs,
    ...(task.statusMessage !== null ? { statusMessage: task.statusMessage } : {}),
  };
}

/** The 2026-07-28 `Task` (what a tools/call answers with `resultType: "task"`). */
export function task2026(task: TaskRecord): Record<string, unknown> {
  return {
    taskId: task.id,
    status: task.status,
    ...(task.statusMessage !== null ? { statusMessage: task.statusMessage } : {}),
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.updatedAt).toISOString(),
    ttlMs: task.ttlMs,
    pollIntervalMs: task.pollIntervalMs,
  };
}

/**
 * The 2026-07-28 `tasks/get` answer: the task, with its result (completed) or error (failed) inlined,
 * or the questions it waits on (`inputRequests`, input_required), each answered with tasks/update.
 */
export function detailed2026(task: TaskRecord, inputRequests: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resultType: 'complete',
    ...task2026(task),
    ...(task.status === 'input_required' && Object.keys(inputRequests).length > 0 ? { inputRequests } : {}),
    ...(task.status === 'completed' && task.result ? { result: task.result } : {}),
    ...(task.status === 'failed' && task.error ? { error: jsonRpcErrorOf(task.error) } : {}),
  };
}

/**
 * A stored error as a JSON-RPC error: an upstream's keeps its own code; a gateway fault is -32603 with
 * the gateway's code and retryability in `data`, the way every other gateway error reads.
 */
export function jsonRpcErrorOf(error: TaskError): { code: number; message: string; data?: unknown } {
  if (typeof error.code === 'number')
    return { code: error.code, message: error.message, ...(error.data !== undefined ? { data: error.data } : {}) };
  return {
    code: -32603,
    message: error.message,
    data: {
      code: error.code,
      retryable: error.retryable,
      ...(error.data !== undefined ? { details: error.data } : {}),
    },
  };
}

/**
 * What the task's call produced, as a tool result: the result itself (completed), or a tool error
 * naming why it has none (failed with a gateway code, cancelled). 2025's tasks/result and get_call
 * answer with it; an upstream's JSON-RPC failure is not a tool result (see `rpcFailure`).
 */
export function outcomeResult(task: TaskRecord): CallToolResult | undefined {
  if (task.status === 'completed') return task.result ?? { content: [] };
  if (task.status === 'cancelled')
    return errorResult(
      new GatewayError('CANCELLED', `the task was ${task.statusMessage ?? 'cancelled'}`, { task: task.id }),
    );
  if (task.status === 'failed' && task.error) {
    const { code } = task.error;
    const known = typeof code === 'string' && code in ErrorCodes ? (code as ErrorCode) : 'UPSTREAM_FAILED';
    return errorResult(
      new GatewayError(known, task.error.message, {
        task: task.id,
        ...(typeof code === 'number' ? { rpcCode: code } : {}),
      }),
    );
  }
  return undefined;
}

/** The related-task `_meta` entry every message tied to a task carries. */
export function relatedTask(task: TaskRecord): Record<string, unknown> {
  return { [RELATED_TASK_META_KEY]: { taskId: task.id } };
}

/** The handle of an `async` call and get_call's answer: status, progress, and the result once it ended. */
export function handleResult(task: TaskRecord): CallToolResult {
  const done = outcomeResult(task);
  const progress =
    task.progress !== null
      ? { progress: task.progress, ...(task.progressTotal !== null ? { total: task.progressTotal } : {}) }
      : undefined;
  const structured = {
    handle: task.id,
    status: task.status,
    ...(task.statusMessage !== null ? { statusMessage: task.statusMessage } : {}),
    ...(progress ? { progress } : {}),
    pollIntervalMs: task.pollIntervalMs,
    createdAt: new Date(task.createdAt).toISOString(),
    updatedAt: new Date(task.updatedAt).toISOString(),
    ...(done ? { result: done } : {}),
  };
  const line = done
    ? `Call ${task.id} ${task.status}.`
    : `Call ${task.id} is ${task.status}${task.statusMessage ? ` (${task.statusMessage})` : ''}; ask get_call with this handle for its result.`;
  return { content: [{ type: 'text', text: line }], structuredContent: structured };
}
