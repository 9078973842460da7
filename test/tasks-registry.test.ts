/**
 * The task registry and its upkeep (gateway/tasks/registry.ts, upkeep.ts) over both TaskStore
 * implementations: how a call's end settles its task, caps, deadlines, cancels that win over late
 * results, waits, the purge, and what recovery does with each kind of unfinished task.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tasksSchema } from '../src/config/tasks-schema.js';
import { GatewayError } from '../src/core/errors.js';
import { anonymousPrincipal } from '../src/core/principal.js';
import { ownerKey, type TaskRecord, type TaskStore } from '../src/core/tasks.js';
import { TaskRegistry, type TaskSpec } from '../src/gateway/tasks/registry.js';
import { purgeTasks, recoverTasks } from '../src/gateway/tasks/upkeep.js';
import { openDb } from '../src/store/db.js';
import { MemoryTaskStore } from '../src/store/tasks-memory.js';
import { SqliteTaskStore } from '../src/store/tasks-repo.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { cleanup, tempDir } from './helpers.js';

afterAll(cleanup);

const ada = anonymousPrincipal('ada');
const bob = anonymousPrincipal('bob');

function spec(principal = ada, extra: Partial<TaskSpec> = {}): TaskSpec {
  return {
    owner: ownerKey(principal),
    principal,
    session: null,
    origin: 'handle',
    method: 'tools/call',
    tool: 'alpha__slow',
    server: 'alpha',
    request: null,
    argsHash: 'h',
    rerunSafe: false,
    ...extra,
  };
}

const stores: [string, () => TaskStore][] = [
  ['memory', () => new MemoryTaskStore()],
  ['sqlite', () => new SqliteTaskStore(openDb(`${tempDir()}/tasks.db`))],
];

const registry = (store: TaskStore, config: Record<string, unknown> = {}) =>
  new TaskRegistry({ store, config: tasksSchema.parse(config), log: silentLogger() });

const never = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe.each(stores)('task registry (%s store)', (_name, makeStore) => {
  it('settles a task by how its call ended: result, isError result, gateway error, JSON-RPC error', async () => {
    const tasks = registry(makeStore());
    const ok = tasks.create(spec()).task;
    await tasks.run(ok, async () => ({ content: [{ type: 'text', text: 'done' }] }));
    expect(tasks.get(ok.id)).toMatchObject({ status: 'completed', result: { content: [{ text: 'done' }] } });
    const soft = tasks.create(spec()).task;
    await tasks.run(soft, async () => ({ content: [], isError: true }));
    expect(tasks.get(soft.id)?.status).toBe('completed'); // both eras: an isError result is a completed task
    const down = tasks.create(spec()).task;
    await expect(
      tasks.run(down, async () => {
        throw new GatewayError('UPSTREAM_UNAVAILABLE', 'alpha is down');
      }),
    ).rejects.toThrow('alpha is down');
    expect(tasks.get(down.id)?.error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    const rpc = tasks.create(spec()).task;
    await expect(
      tasks.run(rpc, async () => {
        throw Object.assign(new Error('no such thing'), { code: -32602, data: { why: 'x' } });
      }),
    ).rejects.toThrow();
    expect(tasks.get(rpc.id)).toMatchObject({ status: 'failed', error: { code: -32602, data: { why: 'x' } } });
  });

  it("reads another owner's task as missing, and lists only the owner's", async () => {
    const tasks = registry(makeStore());
    const mine = tasks.create(spec(ada)).task;
    expect(tasks.get(mine.id, ownerKey(bob))).toBeUndefined();
    expect(tasks.cancel(mine.id, ownerKey(bob))).toBeUndefined();
    expect(tasks.list({ owner: ownerKey(bob) }).tasks).toEqual([]);
    expect(tasks.list({ owner: ownerKey(ada) }).tasks.map((t) => t.id)).toEqual([mine.id]);
    expect(tasks.get(mine.id)?.id).toBe(mine.id); // the admin passes no owner
    tasks.close();
  });

  it('a cancel wins: the task reads cancelled at once, the call is aborted, a late result is dropped', async () => {
    const tasks = registry(makeStore());
    const { task, signal } = tasks.create(spec());
    let finish: (() => void) | undefined;
    const late = new Promise<void>((resolve) => (finish = resolve));
    const run = tasks.run(task, async () => {
      await late;
      return { content: [{ type: 'text', text: 'too late' }] };
    });
    const cancelled = tasks.cancel(task.id, ownerKey(ada));
    expect(cancelled).toMatchObject({ status: 'cancelled' });
    expect(signal.aborted).toBe(true);
    expect((signal.reason as GatewayError).code).toBe('CANCELLED');
    finish?.();
    await run.catch(() => {});
    expect(tasks.get(task.id)).toMatchObject({ status: 'cancelled', result: null });
    expect(tasks.cancel(task.id)).toBe('terminal');
  });

  it('fails a call at its deadline with UPSTREAM_TIMEOUT (the TTL when it is shorter than callTimeoutMs)', async () => {
    const tasks = registry(makeStore(), { callTimeoutMs: 50 });
    const { task } = tasks.create(spec());
    expect(task.deadlineAt - task.createdAt).toBe(50);
    await expect(tasks.run(task, never)).rejects.toThrow(/deadline/);
    expect(tasks.get(task.id)?.error?.code).toBe('UPSTREAM_TIMEOUT');
    const ttl = registry(makeStore(), { defaultTtlMs: 1_000 }).create(spec()).task;
    expect(ttl.deadlineAt - ttl.createdAt).toBe(1_000);
  });

  it('refuses past maxPerOwner and maxActive, and admits again once a task ended', async () => {
    const tasks = registry(makeStore(), { maxPerOwner: 2, maxActive: 3 });
    const a1 = tasks.create(spec(ada)).task;
    tasks.create(spec(ada));
    expect(() => tasks.create(spec(ada))).toThrow(/maxPerOwner/);
    tasks.create(spec(bob));
    expect(() => tasks.create(spec(anonymousPrincipal('cy')))).toThrow(/maxActive/);
    tasks.cancel(a1.id);
    expect(tasks.create(spec(ada)).task.status).toBe('working');
    tasks.close();
  });

  it('waits for a change (progress) and returns early when the signal aborts', async () => {
    const tasks = registry(makeStore());
    const { task } = tasks.create(spec());
    const waiting = tasks.waitForChange(task.id, ownerKey(ada), task.version, 10_000);
    tasks.progress(task.id, { progress: 1, total: 4 });
    const changed = await waiting;
    expect(changed).toMatchObject({ progress: 1, progressTotal: 4, statusMessage: '1/4' });
    const stop = new AbortController();
    const aborted = tasks.waitForChange(task.id, ownerKey(ada), changed!.version, 10_000, stop.signal);
    stop.abort();
    expect((await aborted)?.version).toBe(changed?.version);
    tasks.close();
  });

  it('leaves a task unfinished when the gateway shuts down under it', async () => {
    const tasks = registry(makeStore());
    const { task } = tasks.create(spec());
    const run = tasks.run(task, never);
    // A tasks/result waiting for the end is let go, with the task as it is (the request can be made again).
    const waiting = tasks.waitForEnd(task.id, ownerKey(ada), new AbortController().signal);
    tasks.close();
    await run.catch(() => {});
    expect(tasks.get(task.id)?.status).toBe('working');
    expect((await waiting)?.status).toBe('working');
    expect(() => tasks.create(spec())).toThrow(/shutting down/);
  });

  it('purges ended tasks past their expiry and fails unfinished ones nothing runs', async () => {
    const store = makeStore();
    const tasks = registry(store, { minRetentionMs: 0, defaultTtlMs: 1_000 });
    const ended = tasks.create(spec()).task;
    await tasks.run(ended, async () => ({ content: [] }));
    // Created by an earlier process that crashed: nothing runs it here.
    const orphan = registry(store, { defaultTtlMs: 1_000 }).create(spec()).task;
    const later = Date.now() + 2_000;
    expect(purgeTasks(tasks, later)).toBe(1);
    expect(store.get(ended.id)).toBeUndefined();
    expect(store.get(orphan.id)?.status).toBe('failed');
  });
});

describe('recovery after a restart', () => {
  it('re-runs safe gateway calls, follows upstream tasks, fails the rest INTERRUPTED', async () => {
    const file = `${tempDir()}/tasks.db`;
    const before = registry(new SqliteTaskStore(openDb(file)));
    const safe = before.create(spec(ada, { rerunSafe: true, request: { name: 'alpha__slow', args: { ms: 1 } } })).task;
    const unsafe = before.create(spec()).task;
    const upstream = before.create(spec()).task;
    before.mapUpstream(upstream.id, { upstreamInstance: 'alpha', upstreamTaskId: 'u-1', upstreamEra: '2025-11-25' });
    const never = before.create(spec(ada, { rerunSafe: true, request: { name: 'x', args: {} } })).task;
    const after = registry(new SqliteTaskStore(openDb(file)), { restart: { rerun: 'safe' } });
    const rerun: TaskRecord[] = [];
    const followed: TaskRecord[] = [];
    const counts = recoverTasks(
      after,
      {
        rerun: async (task) => {
          rerun.push(task);
          if (task.id === never.id) return; // refused before it ran (say, the tool is gone)
          await after.run(task, async () => ({ content: [{ type: 'text', text: 'again' }] }));
        },
        follow: async (task) => void followed.push(task),
      },
      silentLogger(),
    );
    expect(counts).toEqual({ rerun: 2, followed: 1, failed: 1 });
    expect(after.get(unsafe.id)?.error?.code).toBe('INTERRUPTED');
    await new Promise((r) => setTimeout(r, 20));
    expect(after.get(safe.id)).toMatchObject({ status: 'completed', runs: 2 });
    expect(rerun.find((t) => t.id === safe.id)?.statusMessage).toMatch(/re-run after a gateway restart/);
    expect(followed.map((t) => t.upstreamTaskId)).toEqual(['u-1']);
    // Not left hanging: a re-run that never started fails.
    expect(after.get(never.id)?.error?.code).toBe('INTERRUPTED');
    // rerun: never fails every gateway call.
    const strict = registry(new SqliteTaskStore(openDb(`${tempDir()}/t.db`)), { restart: { rerun: 'never' } });
    const t = strict.create(spec(ada, { rerunSafe: true, request: { name: 'x', args: {} } })).task;
    const other = registry(strict.store, { restart: { rerun: 'never' } });
    expect(recoverTasks(other, { rerun: async () => {} }, silentLogger()).failed).toBe(1);
    expect(other.get(t.id)?.error?.code).toBe('INTERRUPTED');
  });
});
