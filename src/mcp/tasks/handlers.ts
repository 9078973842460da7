/**
 * The agent-facing task methods of both protocol eras (docs/design/issue-14-tasks.md §1, §4.5),
 * installed on every agent-facing server next to the pass-through: 2025-11-25 `tasks/get`,
 * `tasks/result`, `tasks/list`, `tasks/cancel`; 2026-07-28 (the `io.modelcontextprotocol/tasks`
 * extension) `tasks/get`, `tasks/update`, `tasks/cancel`. What each does is ops.ts; every one runs
 * the tasks chain, so it is traced and audited (method `tasks`) like any agent request.
 *
 * The handlers are registered in the SDK's custom-schema form, the one its 2026 era gate lets through
 * for the names the extension re-defines; 2025-only names asked on a 2026 connection never reach them.
 */
import { CLIENT_CAPABILITIES_META_KEY, type Server, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { TASKS_EXTENSION } from './render.js';

/** Runs one task request (its method and checked params) through the tasks chain. */
export type TaskRequestRunner = (
  method: TaskMethod,
  params: Record<string, unknown>,
  ctx: ServerContext,
) => Promise<Record<string, unknown>>;

/** The task methods of both eras. */
export type TaskMethod = 'tasks/get' | 'tasks/cancel' | 'tasks/update' | 'tasks/result' | 'tasks/list';

const MAX_ID = 64;
const idParams = z.looseObject({ taskId: z.string().max(MAX_ID), _meta: z.record(z.string(), z.unknown()).optional() });
const listParams = z.looseObject({
  cursor: z.string().max(512).optional(),
  _meta: z.record(z.string(), z.unknown()).optional(),
});
const updateParams = z.looseObject({
  taskId: z.string().max(MAX_ID),
  inputResponses: z.record(z.string(), z.unknown()).optional(),
  _meta: z.record(z.string(), z.unknown()).optional(),
});

/** True when a 2026 request declares the tasks extension in its client capabilities. */
export function declaresTasks(ctx: ServerContext): boolean {
  const caps = ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY as never] as
    { extensions?: Record<string, unknown> } | undefined;
  return caps?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/** Registers the task methods on `server`; each runs the tasks chain (trace, audit, errors, ops.ts). */
export function installTaskHandlers(server: Server, run: TaskRequestRunner): void {
  for (const [method, params] of [
    ['tasks/get', idParams],
    ['tasks/cancel', idParams],
    ['tasks/update', updateParams],
    ['tasks/result', idParams],
    ['tasks/list', listParams.optional()],
  ] as const)
    server.setRequestHandler(method, { params: params as typeof idParams }, (p, ctx) =>
      run(method, (p ?? {}) as Record<string, unknown>, ctx),
    );
}

/** The capabilities an agent-facing server declares for tasks (each era reads its own). */
export const TASK_CAPABILITIES = {
  tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
  extensions: { [TASKS_EXTENSION]: {} },
} as const;
