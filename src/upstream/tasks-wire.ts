/**
 * The wire shapes of upstream tasks in both protocol eras, read into one neutral `UpstreamTask`
 * (docs/design/issue-14-tasks.md §1.1, §1.2, §4.6).
 *
 * The v2 SDK has the 2025-11-25 task vocabulary but no runtime, and nothing at all for the 2026-07-28
 * tasks extension, so the gateway reads these answers itself. The schemas are loose on purpose: an
 * upstream may add fields, and only what the follower needs is checked. Kept apart from the client
 * (task-client.ts) so a later SDK tasks runtime can replace this file alone.
 */
import { z } from 'zod';
import type { CallToolResult } from '../core/protocol.js';
import type { TaskStatus } from '../core/tasks.js';

/** The 2026-07-28 tasks extension's identifier (capabilities.extensions, per-request client capabilities). */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/**
 * Where TaskClient puts a 2026 `resultType: "task"` answer so it survives the SDK's result decoding
 * (the SDK rejects that result type): `_meta[TASK_MARKER]` of an otherwise empty CallToolResult.
 */
export const TASK_MARKER = 'io.switchboard/upstream-task';

/** A prefix of the progress tokens the gateway sends with task creations (the SDK ignores tokens it did not issue). */
export const TASK_PROGRESS_PREFIX = 'sbt-';

const STATUSES = ['working', 'input_required', 'completed', 'failed', 'cancelled'] as const;

/** One embedded input request of a 2026 `input_required` task (MRTR shape). */
export interface UpstreamInputRequest {
  readonly method: string;
  readonly params?: Record<string, unknown> | undefined;
}

/** A JSON-RPC error as a failed 2026 task inlines it. */
export interface WireError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/** An upstream task as either era reports it, in the gateway's terms. */
export interface UpstreamTask {
  readonly taskId: string;
  readonly status: TaskStatus;
  readonly statusMessage?: string | undefined;
  /** The upstream's suggested poll interval (2025 `pollInterval`, 2026 `pollIntervalMs`). */
  readonly pollIntervalMs?: number | undefined;
  /** 2026 only: the inlined final result of a completed task. */
  readonly result?: CallToolResult | undefined;
  /** 2026 only: the inlined JSON-RPC error of a failed task. */
  readonly error?: WireError | undefined;
  /** 2026 only: the outstanding input requests of an `input_required` task, by key. */
  readonly inputRequests?: Readonly<Record<string, UpstreamInputRequest>> | undefined;
}

const optionalNumber = z.number().nonnegative().optional().catch(undefined);
const optionalText = z.string().optional().catch(undefined);

/** A 2025-11-25 `Task` (tasks/get answers it flat, CreateTaskResult nests it under `task`). */
export const task2025Schema = z.looseObject({
  taskId: z.string().min(1),
  status: z.enum(STATUSES),
  statusMessage: optionalText,
  pollInterval: optionalNumber,
});

/** A 2026-07-28 `Task` / DetailedTask (CreateTaskResult and tasks/get are both flat). */
export const task2026Schema = z.looseObject({
  taskId: z.string().min(1),
  status: z.enum(STATUSES),
  statusMessage: optionalText,
  pollIntervalMs: optionalNumber,
  result: z.looseObject({}).optional(),
  error: z.looseObject({ code: z.number(), message: z.string(), data: z.unknown().optional() }).optional(),
  inputRequests: z
    .record(z.string(), z.looseObject({ method: z.string(), params: z.looseObject({}).optional() }))
    .optional(),
});

/** A tool result as the SDK hands it over (content checked by the SDK's own wire schema first). */
const callToolResultSchema = z.looseObject({});

/** What a 2025 task-augmented tools/call answers: a CreateTaskResult, or (the server decides) a plain result. */
export const create2025Schema = z.union([z.looseObject({ task: task2025Schema }), callToolResultSchema]);

/** What a 2026 tools/call answers through TaskClient: a plain result, or one carrying TASK_MARKER. */
export const create2026Schema = callToolResultSchema;

/** Any result object (tasks/result, tasks/cancel and tasks/update acknowledgements). */
export const anyResultSchema = z.looseObject({});

/** The neutral form of a 2025 Task. */
export function fromTask2025(task: z.infer<typeof task2025Schema>): UpstreamTask {
  return {
    taskId: task.taskId,
    status: task.status,
    ...(task.statusMessage !== undefined ? { statusMessage: task.statusMessage } : {}),
    ...(task.pollInterval !== undefined ? { pollIntervalMs: task.pollInterval } : {}),
  };
}

/** The neutral form of a 2026 Task or DetailedTask. */
export function fromTask2026(task: z.infer<typeof task2026Schema>): UpstreamTask {
  return {
    taskId: task.taskId,
    status: task.status,
    ...(task.statusMessage !== undefined ? { statusMessage: task.statusMessage } : {}),
    ...(task.pollIntervalMs !== undefined ? { pollIntervalMs: task.pollIntervalMs } : {}),
    ...(task.result ? { result: task.result as CallToolResult } : {}),
    ...(task.error ? { error: task.error } : {}),
    ...(task.inputRequests ? { inputRequests: task.inputRequests } : {}),
  };
}

/** Reads a 2025 CreateTaskResult, or undefined when the answer is a plain tool result. */
export function createdTask2025(answer: Record<string, unknown>): UpstreamTask | undefined {
  const parsed = z.looseObject({ task: task2025Schema }).safeParse(answer);
  return parsed.success ? fromTask2025(parsed.data.task) : undefined;
}

/** Reads the 2026 task TaskClient stashed under TASK_MARKER, or undefined for a plain tool result. */
export function createdTask2026(answer: Record<string, unknown>): UpstreamTask | undefined {
  const stashed = (answer._meta as Record<string, unknown> | undefined)?.[TASK_MARKER];
  if (stashed === undefined) return undefined;
  const parsed = task2026Schema.safeParse(stashed);
  if (!parsed.success)
    throw new Error(`the server answered with a task the gateway cannot read: ${parsed.error.message}`);
  return fromTask2026(parsed.data);
}
