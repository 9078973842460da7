/**
 * Tasks across a gateway restart (issue 14, §4): the registry is durable (SQLite), so after a restart
 * an agent finds its tasks again by the same handle. A gateway-run call that was in flight and is not
 * safe to repeat is reported failed (INTERRUPTED), not re-run; one that is read-only or idempotent
 * (server-everything's long-running operation) runs again and completes. Two real hubs, one after
 * the other, on one SQLite file.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { startHub } from '../src/compose.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { cleanup, everythingEntry, fixtureEntry, makeConfig, onCleanup, tempDir, textOf, waitFor } from './helpers.js';
import { connectV1 } from './tasks-agents.js';

afterAll(cleanup);

const ADMIN = 'restart-admin-token-0123456789';

describe('tasks across a restart', () => {
  it('fails the non-idempotent call that was in flight, re-runs the idempotent one, keeps every handle', async () => {
    const store = `${tempDir()}/switchboard.db`;
    const config = () =>
      makeConfig(
        { everything: everythingEntry(), alpha: fixtureEntry('alpha') },
        { store, http: { adminToken: ADMIN } },
      );
    const first = await startHub(config(), { log: silentLogger() });
    onCleanup(() => first.close());
    await first.ready;
    const agent = await connectV1(first.url, 'restart-agent');
    const start = async (name: string, args: Record<string, unknown>) =>
      (
        await agent.request(
          { method: 'tools/call', params: { name, arguments: args, task: { ttl: 300_000 } } },
          CreateTaskResultSchema,
        )
      ).task.taskId;
    const sideEffect = await start('alpha__slow', { ms: 120_000, steps: 120 });
    const idempotent = await start('everything__trigger-long-running-operation', { duration: 3, steps: 3 });
    await waitFor(async () => {
      const stats = (await agent.callTool({ name: 'alpha__stats', arguments: {} })).structuredContent as {
        calls: number;
      };
      return stats.calls > 0;
    });
    await first.close();

    const second = await startHub(config(), { log: silentLogger() });
    onCleanup(() => second.close());
    await second.ready;
    const again = await connectV1(second.url, 'restart-agent');

    const failed = await again.experimental.tasks.getTaskResult(sideEffect, CallToolResultSchema);
    expect(failed.isError).toBe(true);
    expect((failed._meta?.['io.switchboard/error'] as { code?: string }).code).toBe('INTERRUPTED');
    expect(textOf(failed)).toMatch(/restarted while this call ran/);
    expect((await again.experimental.tasks.getTask(sideEffect)).status).toBe('failed');
    // Not re-run: the new alpha process has served no call but this stats call.
    const stats = (await again.callTool({ name: 'alpha__stats', arguments: {} })).structuredContent as {
      calls: number;
    };
    expect(stats.calls).toBe(0);

    const rerun = await again.experimental.tasks.getTaskResult(idempotent, CallToolResultSchema);
    expect(textOf(rerun)).toMatch(/Long running operation completed/);
    const view = await admin(second.url, `/v1/tasks/${idempotent}`);
    expect(view.status).toBe('completed');
    expect(view.runs).toBe(2);
    expect(view.rerunSafe).toBe(true);
    const listed = await admin(second.url, '/v1/tasks?status=failed');
    expect((listed.tasks as { id: string }[]).map((t) => t.id)).toContain(sideEffect);
  }, 90_000);
});

describe('a re-run stopped by the next shutdown', () => {
  it('stays unfinished and runs again at the start after, instead of failing', async () => {
    const store = `${tempDir()}/switchboard.db`;
    const config = () => makeConfig({ everything: everythingEntry() }, { store, http: { adminToken: ADMIN } });
    const start = async () => {
      const hub = await startHub(config(), { log: silentLogger() });
      onCleanup(() => hub.close());
      await hub.ready;
      return hub;
    };
    const first = await start();
    const agent = await connectV1(first.url, 'twice');
    const { task } = await agent.request(
      {
        method: 'tools/call',
        params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 4, steps: 4 }, task: {} },
      },
      CreateTaskResultSchema,
    );
    await first.close();
    const second = await start();
    // The re-run is under way (runs 2), then the second gateway stops too.
    await waitFor(async () => (await admin(second.url, `/v1/tasks/${task.taskId}`)).runs === 2);
    await second.close();
    const third = await start();
    const again = await connectV1(third.url, 'twice');
    const result = await again.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(textOf(result)).toMatch(/Long running operation completed/);
    expect((await admin(third.url, `/v1/tasks/${task.taskId}`)).runs).toBe(3);
  }, 90_000);
});

async function admin(url: string, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}
