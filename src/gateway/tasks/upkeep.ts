/**
 * What becomes of tasks across restarts and over time (docs/design/issue-14-tasks.md §4.8):
 *
 * - Recovery, once per start, when the upstreams have been tried: every task the store still holds
 *   unfinished was running when the gateway stopped (crashed, or shut down: shutdown leaves them
 *   unfinished on purpose). A task that follows an upstream task is followed again; a gateway-run call
 *   that is safe to repeat (read-only or idempotent) runs again, with the principal that started it,
 *   so policy is checked again; every other one fails INTERRUPTED, saying it may have taken effect.
 *   No task is left unfinished with nothing running it.
 * - The purge, every tasks.purgeIntervalMs: tasks past their expiry are deleted (a settled task is
 *   kept at least tasks.minRetentionMs after it ended); an unfinished one past its TTL with nothing
 *   running it fails UPSTREAM_TIMEOUT first, so its agent still reads why.
 */
import { GatewayError } from '../../core/errors.js';
import { isTerminal, MAX_TASK_BATCH, type TaskRecord } from '../../core/tasks.js';
import type { Logger } from '../../telemetry/logger.js';
import type { TaskRegistry } from './registry.js';

/** How recovery runs a task again; each resolves when the task's call has ended (or was refused). */
export interface TaskResumers {
  /** Runs a gateway-run call again through the tool chain (absent: none is re-run). */
  readonly rerun?: ((task: TaskRecord) => Promise<unknown>) | undefined;
  /** Follows an upstream task again (absent: upstream tasks fail as no longer known). */
  readonly follow?: ((task: TaskRecord) => Promise<unknown>) | undefined;
}

/** What recovery did, for the log and tests. */
export interface Recovered {
  readonly rerun: number;
  readonly followed: number;
  readonly failed: number;
}

/** Decides and starts what becomes of every unfinished task; returns at once with the counts. */
export function recoverTasks(registry: TaskRegistry, resumers: TaskResumers, log: Logger): Recovered {
  let rerun = 0;
  let followed = 0;
  let failed = 0;
  const now = Date.now();
  for (const task of registry.store.active()) {
    if (registry.isLive(task.id)) continue; // started in this process already
    if (task.deadlineAt <= now) {
      registry.fail(
        task.id,
        new GatewayError('UPSTREAM_TIMEOUT', 'the task passed its deadline while the gateway was down', {
          task: task.id,
        }),
      );
      failed++;
      continue;
    }
    const resume =
      task.mode === 'upstream'
        ? resumers.follow
        : task.rerunSafe && task.request && registry.config.restart.rerun === 'safe'
          ? resumers.rerun
          : undefined;
    if (!resume) {
      registry.fail(task.id, interrupted(task));
      failed++;
      continue;
    }
    if (task.mode === 'upstream') followed++;
    else rerun++;
    const again = registry.restarted(task);
    void resume(again)
      .catch(() => {})
      .then(() => {
        // Refused before it could run (the tool is gone, policy now says no): still not left hanging.
        if (!registry.isLive(task.id) && !isTerminal(registry.store.get(task.id)?.status ?? 'failed'))
          registry.fail(
            task.id,
            new GatewayError('INTERRUPTED', 'the task could not be started again after a gateway restart', {
              task: task.id,
            }),
          );
      });
  }
  if (rerun + followed + failed > 0) log.info({ rerun, followed, failed }, 'tasks recovered after a restart');
  return { rerun, followed, failed };
}

/** The failure of a call that was running when the gateway stopped and is not repeated. */
function interrupted(task: TaskRecord): GatewayError {
  if (task.mode === 'upstream')
    return new GatewayError('UPSTREAM_FAILED', 'the upstream task can no longer be followed after a gateway restart', {
      task: task.id,
    });
  return new GatewayError(
    'INTERRUPTED',
    'the gateway restarted while this call ran; it may have taken effect, so it was not repeated: check before retrying',
    { task: task.id, ...(task.server ? { server: task.server } : {}) },
  );
}

/** Deletes expired tasks (see the module comment); returns how many went. */
export function purgeTasks(registry: TaskRegistry, now = Date.now()): number {
  const expired = registry.store.expired(now, MAX_TASK_BATCH);
  const gone: string[] = [];
  for (const task of expired) {
    if (isTerminal(task.status)) gone.push(task.id);
    else if (!registry.isLive(task.id))
      registry.fail(task.id, new GatewayError('UPSTREAM_TIMEOUT', 'the task ran past its TTL', { task: task.id }));
  }
  return gone.length > 0 ? registry.store.delete(gone) : 0;
}

/** Runs the purge every tasks.purgeIntervalMs; returns the stop. */
export function schedulePurge(registry: TaskRegistry, log: Logger): () => void {
  const timer = setInterval(() => {
    try {
      const n = purgeTasks(registry);
      if (n > 0) log.debug({ purged: n }, 'expired tasks purged');
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'purging expired tasks failed');
    }
  }, registry.config.purgeIntervalMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
