/**
 * Gateway tasks (issue 14): any catalog tool runs as a task for an agent of either era, with the
 * handle at once, progress seen by polling and by notifications, and the result retrieved; cancel
 * and deadline reach the upstream; a fan-out task's cancel reaches every branch. Real processes:
 * server-everything and the fixture server as upstreams, a hub on loopback, v1 (2025) and raw 2026
 * agents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTaskResultSchema,
  ProgressNotificationSchema,
  TaskStatusNotificationSchema,
  CallToolResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1Stdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Hub } from '../src/compose.js';
import {
  cleanup,
  everythingEntry,
  fixtureEntry,
  makeConfig,
  onCleanup,
  ROOT,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
} from './helpers.js';
import { connectV1, post2026 } from './tasks-agents.js';

afterAll(cleanup);

const LONG = 'everything__trigger-long-running-operation';

describe('gateway tasks', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub(
      makeConfig(
        {
          everything: everythingEntry(),
          alpha: fixtureEntry('alpha'),
          beta: fixtureEntry('beta'),
        },
        { virtualTools: { hang_all: { tools: ['alpha__hang', 'beta__hang'], strategy: 'merge' } } },
      ),
    );
  }, 60_000);

  it('a 2025 agent runs the long-running operation as a task: handle at once, progress, status, result', async () => {
    const agent = await connectV1(hub.url);
    const listed = await agent.listTools();
    expect(listed.tools.find((t) => t.name === LONG)?.execution?.taskSupport).toBe('optional');
    expect(agent.getServerCapabilities()?.tasks?.requests?.tools?.call).toBeDefined();
    const progress: number[] = [];
    const statuses: string[] = [];
    agent.setNotificationHandler(ProgressNotificationSchema, (n) => void progress.push(n.params.progress));
    agent.setNotificationHandler(TaskStatusNotificationSchema, (n) => void statuses.push(n.params.status));
    const created = await agent.request(
      {
        method: 'tools/call',
        params: {
          name: LONG,
          arguments: { duration: 2, steps: 4 },
          task: { ttl: 60_000 },
          _meta: { progressToken: 'p-1' },
        },
      },
      CreateTaskResultSchema,
    );
    const { taskId } = created.task;
    expect(taskId).toMatch(/^sbt_/);
    // The handle came back while the 2 s operation still ran.
    expect(created.task.status).toBe('working');
    expect(created.task.ttl).toBe(60_000);
    // Polling shows progress as the status message while it runs.
    const midway = await waitFor(async () => {
      const t = await agent.experimental.tasks.getTask(taskId);
      return t.statusMessage ? t : undefined;
    });
    expect(midway.status).toBe('working');
    expect(midway.statusMessage).toMatch(/\d/);
    const result = await agent.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(textOf(result)).toMatch(/Long running operation completed/);
    expect(result._meta?.['io.modelcontextprotocol/related-task']).toEqual({ taskId });
    const done = await agent.experimental.tasks.getTask(taskId);
    expect(done.status).toBe('completed');
    // Progress notifications came with the agent's own token, and status notifications up to the end.
    await waitFor(() => statuses.includes('completed'));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const listedTasks = await agent.experimental.tasks.listTasks();
    expect(listedTasks.tasks.map((t) => t.taskId)).toContain(taskId);
  });

  it('a 2026 agent gets resultType "task" and polls tasks/get until the result is inlined', async () => {
    const created = await post2026(hub.url, 'tools/call', { name: LONG, arguments: { duration: 1, steps: 4 } });
    expect(created.result?.resultType).toBe('task');
    const taskId = created.result?.taskId as string;
    expect(taskId).toMatch(/^sbt_/);
    expect(created.result?.status).toBe('working');
    expect(typeof created.result?.ttlMs).toBe('number');
    expect(typeof created.result?.pollIntervalMs).toBe('number');
    const messages = new Set<string>();
    const done = await waitFor(async () => {
      const got = await post2026(hub.url, 'tasks/get', { taskId });
      if (typeof got.result?.statusMessage === 'string') messages.add(got.result.statusMessage);
      return got.result?.status === 'completed' ? got.result : undefined;
    });
    expect(done.resultType).toBe('complete');
    expect(textOf(done.result as { content: unknown })).toMatch(/Long running operation completed/);
    expect(messages.size).toBeGreaterThanOrEqual(1);
    // Without the extension declared, the task methods are refused as the extension says.
    const refused = await post2026(hub.url, 'tasks/get', { taskId }, { tasks: false });
    expect(refused.error?.code).toBe(-32021);
    // And a call without it is a plain call.
    const plain = await post2026(
      hub.url,
      'tools/call',
      { name: 'alpha__echo', arguments: { text: 'x' } },
      { tasks: false },
    );
    expect(plain.result?.resultType).not.toBe('task');
    expect(textOf(plain.result as { content: unknown })).toContain('x');
  });

  it('an unknown or refused call is answered plainly, never as a task', async () => {
    const unknown = await post2026(hub.url, 'tools/call', { name: 'alpha__nope', arguments: {} });
    expect(unknown.error?.message ?? '').toMatch(/unknown tool/);
    const invalid = await post2026(hub.url, 'tools/call', { name: 'alpha__slow', arguments: { ms: 'x' } });
    expect(invalid.result?.isError).toBe(true);
    expect(invalid.result?.resultType).not.toBe('task');
  });

  it('a cancel mid-run reaches the upstream, and the task reads cancelled', async () => {
    const agent = await connectV1(hub.url);
    const before = await statsOf(agent, 'alpha');
    const created = await agent.request(
      { method: 'tools/call', params: { name: 'alpha__slow', arguments: { ms: 20_000, steps: 20 }, task: {} } },
      CreateTaskResultSchema,
    );
    const { taskId } = created.task;
    await waitFor(async () => (await statsOf(agent, 'alpha')).calls > before.calls);
    const cancelled = await agent.experimental.tasks.cancelTask(taskId);
    expect(cancelled.status).toBe('cancelled');
    await waitFor(async () => (await statsOf(agent, 'alpha')).cancelled > before.cancelled);
    expect((await agent.experimental.tasks.getTask(taskId)).status).toBe('cancelled');
    // Cancelling again: the task has ended.
    await expect(agent.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/terminal/);
  });

  it('a fan-out task cancelled cancels every branch', async () => {
    const agent = await connectV1(hub.url);
    const before = await Promise.all([statsOf(agent, 'alpha'), statsOf(agent, 'beta')]);
    const created = await agent.request(
      { method: 'tools/call', params: { name: 'switchboard__hang_all', arguments: {}, task: {} } },
      CreateTaskResultSchema,
    );
    await waitFor(async () => {
      const now = await Promise.all([statsOf(agent, 'alpha'), statsOf(agent, 'beta')]);
      return now.every((s, i) => s.calls > (before[i]?.calls ?? 0));
    });
    await agent.experimental.tasks.cancelTask(created.task.taskId);
    await waitFor(async () => {
      const now = await Promise.all([statsOf(agent, 'alpha'), statsOf(agent, 'beta')]);
      return now.every((s, i) => s.cancelled > (before[i]?.cancelled ?? 0));
    });
    expect((await agent.experimental.tasks.getTask(created.task.taskId)).status).toBe('cancelled');
  });

  it('call_capability runs as a task in both eras (2025 params.task, 2026 extension)', async () => {
    const agent = await connectV1(hub.url);
    const args = { tool: 'alpha__slow', arguments: { ms: 300, steps: 2 } };
    const created = await agent.request(
      { method: 'tools/call', params: { name: 'call_capability', arguments: args, task: {} } },
      CreateTaskResultSchema,
    );
    const result = await agent.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
    expect(textOf(result)).toBe('slept 300');
    const modern = await post2026(hub.url, 'tools/call', { name: 'call_capability', arguments: args });
    expect(modern.result?.resultType).toBe('task');
    const done = await waitFor(async () => {
      const got = await post2026(hub.url, 'tasks/get', { taskId: modern.result?.taskId });
      return got.result?.status === 'completed' ? got.result : undefined;
    });
    expect(textOf(done.result as { content: unknown })).toBe('slept 300');
    // The meta-tools that only read answer at once, task or not.
    const found = await post2026(hub.url, 'tools/call', {
      name: 'find_capability',
      arguments: { capability: 'sleep' },
    });
    expect(found.result?.resultType).not.toBe('task');
  });
});

describe('task deadlines', () => {
  it('a task past its deadline fails UPSTREAM_TIMEOUT and the upstream call is cancelled', async () => {
    const hub = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { tasks: { callTimeoutMs: 800 } }));
    const agent = await connectV1(hub.url);
    const before = await statsOf(agent, 'alpha');
    const created = await agent.request(
      { method: 'tools/call', params: { name: 'alpha__slow', arguments: { ms: 20_000, steps: 40 }, task: {} } },
      CreateTaskResultSchema,
    );
    const result = await agent.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/deadline/);
    expect((result._meta?.['io.switchboard/error'] as { code?: string } | undefined)?.code).toBe('UPSTREAM_TIMEOUT');
    const task = await agent.experimental.tasks.getTask(created.task.taskId);
    expect(task.status).toBe('failed');
    await waitFor(async () => (await statsOf(agent, 'alpha')).cancelled > before.cancelled);
  });
});

/** The fixture's own counters (calls, cancelled), read through the hub. */
async function statsOf(
  agent: { callTool: (p: { name: string; arguments: Record<string, unknown> }) => Promise<unknown> },
  server: string,
): Promise<{ calls: number; cancelled: number }> {
  const result = (await agent.callTool({ name: `${server}__stats`, arguments: {} })) as { content: unknown };
  return JSON.parse(textOf(result)) as { calls: number; cancelled: number };
}

describe('task limits and switching tasks off', () => {
  it('past tasks.maxPerOwner a call is refused TASK_LIMIT, plainly; with tasks off, params.task is a plain call', async () => {
    const hub = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { tasks: { maxPerOwner: 1 } }));
    const agent = await connectV1(hub.url);
    const first = await agent.request(
      { method: 'tools/call', params: { name: 'alpha__slow', arguments: { ms: 20_000, steps: 20 }, task: {} } },
      CreateTaskResultSchema,
    );
    const refused = await agent.request(
      { method: 'tools/call', params: { name: 'alpha__slow', arguments: { ms: 10, steps: 1 }, task: {} } },
      CallToolResultSchema,
    );
    expect(refused.isError).toBe(true);
    expect((refused._meta?.['io.switchboard/error'] as { code?: string }).code).toBe('TASK_LIMIT');
    await agent.experimental.tasks.cancelTask(first.task.taskId);
    const again = await agent.request(
      { method: 'tools/call', params: { name: 'alpha__slow', arguments: { ms: 10, steps: 1 }, task: {} } },
      CreateTaskResultSchema,
    );
    expect(again.task.status).toBe('working');

    const off = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { tasks: { enabled: false } }));
    const plain = await connectV1(off.url);
    expect(plain.getServerCapabilities()?.tasks).toBeUndefined();
    const result = await plain.request(
      { method: 'tools/call', params: { name: 'alpha__echo', arguments: { text: 'no task' }, task: {} } },
      CallToolResultSchema,
    );
    expect(textOf(result)).toContain('no task');
    const created = await post2026(off.url, 'tools/call', { name: 'alpha__echo', arguments: { text: 'x' } });
    expect(created.result?.resultType).not.toBe('task');
  });
});

describe('a stdio sidecar', () => {
  it('serves a 2025 agent a task with status and progress notifications on its connection', async () => {
    const dir = tempDir();
    const file = join(dir, 'sidecar.json');
    writeFileSync(
      file,
      JSON.stringify({
        store: { path: join(dir, 'sidecar.db') },
        log: { level: 'error' },
        mcpServers: { alpha: fixtureEntry('alpha') },
      }),
    );
    const agent = new V1Client({ name: 'stdio-agent', version: '1' }, { capabilities: {} });
    await agent.connect(
      new V1Stdio({
        command: process.execPath,
        args: ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'stdio', '--config', file],
        cwd: ROOT,
        stderr: 'ignore',
      }),
    );
    onCleanup(() => agent.close());
    const progress: number[] = [];
    const statuses: string[] = [];
    agent.setNotificationHandler(ProgressNotificationSchema, (n) => void progress.push(n.params.progress));
    agent.setNotificationHandler(TaskStatusNotificationSchema, (n) => void statuses.push(n.params.status));
    const { task } = await agent.request(
      {
        method: 'tools/call',
        params: { name: 'alpha__slow', arguments: { ms: 1_500, steps: 3 }, task: {}, _meta: { progressToken: 7 } },
      },
      CreateTaskResultSchema,
    );
    const result = await agent.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(textOf(result)).toBe('slept 1500');
    await waitFor(() => statuses.includes('completed'));
    expect(progress).toEqual([1, 2, 3]);
  }, 60_000);
});
