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
  if (registry.closed) return { rerun, followed, failed }; // shut down before start-up finished
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
        // Refused before it could run (the tool is gone, policy now says no): still not left hanging. A
        // run that a shutdown stopped stays unfinished on purpose (the next start takes it up).
        if (registry.closed || registry.isLive(task.id)) return;
        const status = registry.store.get(task.id)?.status;
        if (status && !isTerminal(status))
          registry.fail(
            task.id,
            new GatewayError('INTERRUPTED', 'the task could not be started again after a gateway restart', {
              task: task.id,
            }),
          );
      })
      .catch((error: Error) =>
        log.warn({ task: task.id, err: error.message }, 'a recovered task could not be settled'),
      );
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

/** Most batches one purge runs (each at most MAX_TASK_BATCH rows), so a backlog is worked off but a sweep stays short. */
const MAX_BATCHES = 20;

/**
 * Deletes expired tasks (see the module comment), a batch at a time until none is left or a batch
 * changed nothing (every row in it still runs here); returns how many went.
 */
export function purgeTasks(registry: TaskRegistry, now = Date.now()): number {
  let deleted = 0;
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const expired = registry.store.expired(now, MAX_TASK_BATCH);
    const gone: string[] = [];
    let failed = 0;
    for (const task of expired) {
      if (isTerminal(task.status)) gone.push(task.id);
      else if (!registry.isLive(task.id)) {
        registry.fail(task.id, new GatewayError('UPSTREAM_TIMEOUT', 'the task ran past its TTL', { task: task.id }));
        failed++;
      }
    }
    if (gone.length > 0) deleted += registry.store.delete(gone);
    if (expired.length < MAX_TASK_BATCH || gone.length + failed === 0) break;
  }
  return deleted;
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
