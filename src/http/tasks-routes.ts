/**
 * The admin side of tasks (issue 14), behind the /v1 guard, for the tenant the request manages:
 *
 * - `GET /v1/tasks?status=&server=&cursor=&limit=`: every owner's tasks, newest first, a page at a time
 *   (`{ enabled, counts, tasks, nextCursor? }`: `counts` has the tenant's tasks per status; `enabled`
 *   false and no tasks when tasks.enabled is false);
 * - `GET /v1/tasks/:id`: one task, with its result or error once it ended;
 * - `DELETE /v1/tasks/:id`: cancels it (the cancel reaches its upstream); 404 when there is none, 400
 *   when it had ended already.
 *
 * A task's view names its owner (the credential's subject, or the agent without auth) and never its
 * arguments (kept only for re-runs, and they may hold secrets). A tenant's admin reaches only its
 * tenant's tasks, because each tenant core has its own registry on its own rows.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../core/errors.js';
import { isTaskId, MAX_TASK_PAGE, TASK_STATUSES, type TaskRecord, type TaskStatus } from '../core/tasks.js';
import type { TaskRegistry } from '../gateway/tasks/registry.js';
import type { AdminGuard } from './auth-hook.js';

type Query = Record<string, string | undefined>;

/** Registers the routes behind `guard`; `tasksOf` gives the registry of the tenant a request manages. */
export function registerTasksRoutes(
  app: FastifyInstance,
  tasksOf: (request: FastifyRequest) => TaskRegistry | undefined,
  guard: AdminGuard,
): void {
  const found = (request: FastifyRequest, id: string): { tasks: TaskRegistry; task: TaskRecord } => {
    const tasks = tasksOf(request);
    const task = tasks && isTaskId(id) ? tasks.get(id) : undefined;
    if (!tasks || !task) throw new GatewayError('NOT_FOUND', `no task "${id.slice(0, 64)}"`);
    return { tasks, task };
  };

  app.get<{ Querystring: Query }>('/v1/tasks', { onRequest: guard }, async (request) => {
    const tasks = tasksOf(request);
    if (!tasks) return { enabled: false, counts: {}, tasks: [] };
    const q = request.query;
    const status = statusOf(q.status);
    const server = q.server ? bounded('server', q.server) : undefined;
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_PAGE)
      throw new GatewayError('BAD_REQUEST', `limit: a whole number from 1 to ${MAX_TASK_PAGE}`);
    const page = tasks.list(
      { ...(status ? { status } : {}), ...(server ? { server } : {}) },
      q.cursor ? bounded('cursor', q.cursor) : undefined,
      limit,
    );
    return {
      enabled: true,
      counts: tasks.store.counts(),
      tasks: page.tasks.map((t) => taskView(t, false)),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  });

  app.get<{ Params: { id: string } }>('/v1/tasks/:id', { onRequest: guard }, async (request) =>
    taskView(found(request, request.params.id).task, true),
  );

  app.delete<{ Params: { id: string } }>('/v1/tasks/:id', { onRequest: guard }, async (request) => {
    const { tasks, task } = found(request, request.params.id);
    const outcome = tasks.cancel(task.id, undefined, 'cancelled by an admin');
    if (outcome === 'terminal')
      throw new GatewayError('BAD_REQUEST', `task "${task.id}" has ended already (${task.status})`, {
        status: task.status,
      });
    if (!outcome) throw new GatewayError('NOT_FOUND', `no task "${task.id}"`);
    return taskView(outcome, false);
  });
}

/** A task as the admin API shows it (`full`: with its result or error). */
export function taskView(task: TaskRecord, full: boolean): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const { principal } = task;
  return {
    id: task.id,
    owner: {
      agent: principal.agent,
      source: principal.source,
      ...(principal.subject ? { subject: principal.subject } : {}),
      ...(principal.user ? { user: principal.user } : {}),
    },
    origin: task.origin,
    method: task.method,
    tool: task.tool,
    server: task.server,
    mode: task.mode,
    status: task.status,
    ...(task.statusMessage !== null ? { statusMessage: task.statusMessage } : {}),
    ...(task.progress !== null
      ? { progress: { progress: task.progress, ...(task.progressTotal !== null ? { total: task.progressTotal } : {}) } }
      : {}),
    createdAt: iso(task.createdAt),
    updatedAt: iso(task.updatedAt),
    deadlineAt: iso(task.deadlineAt),
    expiresAt: iso(task.expiresAt),
    ttlMs: task.ttlMs,
    runs: task.runs,
    rerunSafe: task.rerunSafe,
    ...(task.error ? { error: task.error } : {}),
    ...(full && task.result ? { result: task.result } : {}),
  };
}

function statusOf(value: string | undefined): TaskStatus | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(TASK_STATUSES as readonly string[]).includes(value))
    throw new GatewayError('BAD_REQUEST', `status: one of ${TASK_STATUSES.join(', ')}`);
  return value as TaskStatus;
}

function bounded(name: string, value: string): string {
  if (value.length > 256) throw new GatewayError('BAD_REQUEST', `${name}: at most 256 characters`);
  return value;
}
