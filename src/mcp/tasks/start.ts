/**
 * Starting a call as a task at an edge (tools/call with a task, call_capability `async`): the chain
 * runs with a task intent, and the edge answers as soon as the task stage has written the task, while
 * the call goes on. A call refused before the task stage (unknown tool, policy, limits, arguments)
 * never becomes a task: its plain answer comes back instead, as it would without a task.
 */
import type { TaskRecord } from '../../core/tasks.js';
import type { TaskIntent } from '../pipeline/context.js';

/** How a started call came back: as a task (still running or not), or with its plain answer. */
export type Started<R> = { readonly task: TaskRecord } | { readonly result: R };

/** Runs `run` with a task intent made of `base`; resolves once the task exists or the call answered. */
export async function startAsTask<R>(
  base: Omit<TaskIntent, 'created'>,
  run: (intent: TaskIntent) => Promise<R>,
): Promise<Started<R>> {
  let created: (task: TaskRecord) => void = () => {};
  const written = new Promise<TaskRecord>((resolve) => (created = resolve));
  const call = run({ ...base, created });
  const first = await Promise.race([call.then((result) => ({ result })), written.then((task) => ({ task }))]);
  // From here the registry owns the outcome (the task is settled however the call ends).
  if ('task' in first) call.catch(() => {});
  return first;
}
