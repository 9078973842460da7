/**
 * Upstream tasks through a whole hub (issue 14, §2 and the restart bullet): where a server offers
 * tasks, an agent's task becomes the server's task, followed by the gateway; the agent sees one task
 * under the gateway's handle (never the upstream id), with the upstream's statuses; a cancel reaches
 * the upstream; the upstream's questions reach the agent that owns the task (2025: on its session;
 * 2026: as `inputRequests`, answered with tasks/update); and after a gateway restart the agent polls
 * the same handle and gets the result of the upstream task that kept running. Real processes: the two
 * task fixtures (v1 and v2 SDKs), server-everything, hubs on loopback, v1 and raw 2026 agents.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallToolResultSchema, CreateTaskResultSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startHub, type Hub } from '../src/compose.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { jobEvents } from './fixtures/task-jobs.js';
import { cleanup, everythingEntry, makeConfig, onCleanup, startTestHub, tempDir, textOf, waitFor } from './helpers.js';
import { connectV1, post2026, startTaskFixture, taskFixtureEntry } from './tasks-agents.js';

afterAll(cleanup);

const dir = tempDir('switchboard-tasks-upstream-');
const events = (name: string) => join(dir, `${name}.events`);
const ADMIN = 'upstream-admin-token-0123456789';

async function view(hub: Hub, id: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${hub.url}/v1/tasks/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return (await response.json()) as Record<string, unknown>;
}

describe('upstream tasks through the hub', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub(
      makeConfig(
        {
          s25: taskFixtureEntry('2025-11-25', events('s25')),
          s26: taskFixtureEntry('2026-07-28', events('s26')),
          everything: everythingEntry(),
        },
        { http: { adminToken: ADMIN } },
      ),
    );
  }, 60_000);

  it.each(['s25', 's26'])(
    'a 2025 agent task on %s is the upstream task: statuses, result, the handle only',
    async (server) => {
      const agent = await connectV1(hub.url);
      const label = `${server}-ok`;
      const { task } = await agent.request(
        {
          method: 'tools/call',
          params: { name: `${server}__job`, arguments: { steps: 3, stepMs: 300, label }, task: {} },
        },
        CreateTaskResultSchema,
      );
      const messages = new Set<string>();
      const result = await waitFor(async () => {
        const got = await agent.experimental.tasks.getTask(task.taskId);
        if (got.statusMessage) messages.add(got.statusMessage);
        return got.status === 'completed'
          ? agent.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)
          : undefined;
      });
      expect(textOf(result)).toContain(label);
      expect(messages.size).toBeGreaterThanOrEqual(1);
      const record = await view(hub, task.taskId);
      expect(record.mode).toBe('upstream');
      expect(jobEvents(events(server))).toContain(`done ${label}`);
      // The upstream's own id never reaches the agent.
      expect(JSON.stringify(result)).not.toMatch(/"taskId":"(?!sbt_)/);
    },
  );

  it.each(['s25', 's26'])('a cancel of the agent task cancels the upstream task on %s', async (server) => {
    const agent = await connectV1(hub.url);
    const label = `${server}-cancel`;
    const { task } = await agent.request(
      {
        method: 'tools/call',
        params: { name: `${server}__job`, arguments: { steps: 50, stepMs: 200, label }, task: {} },
      },
      CreateTaskResultSchema,
    );
    await waitFor(() => jobEvents(events(server)).includes(`start ${label}`));
    expect((await agent.experimental.tasks.cancelTask(task.taskId)).status).toBe('cancelled');
    await waitFor(() => jobEvents(events(server)).includes(`cancelled ${label}`));
    expect(jobEvents(events(server))).not.toContain(`done ${label}`);
  });

  it("a 2026 agent answers the upstream's question with tasks/update", async () => {
    const label = 's26-ask';
    const created = await post2026(hub.url, 'tools/call', {
      name: 's26__job',
      arguments: { steps: 3, stepMs: 100, ask: true, label },
    });
    const taskId = created.result?.taskId as string;
    const asking = await waitFor(async () => {
      const got = await post2026(hub.url, 'tasks/get', { taskId });
      return got.result?.status === 'input_required' && got.result.inputRequests ? got.result : undefined;
    });
    const [key, ask] = Object.entries(
      asking.inputRequests as Record<string, { method: string; params: { message: string } }>,
    )[0]!;
    expect(ask.method).toBe('elicitation/create');
    expect(ask.params.message).toContain(label);
    await post2026(hub.url, 'tasks/update', {
      taskId,
      inputResponses: { [key]: { action: 'accept', content: { answer: 'forty-two' } } },
    });
    const done = await waitFor(async () => {
      const got = await post2026(hub.url, 'tasks/get', { taskId });
      return got.result?.status === 'completed' ? got.result : undefined;
    });
    expect(textOf(done.result as { content: unknown })).toContain(label);
    expect(jobEvents(events('s26'))).toContain(`answered forty-two ${label}`);
  });

  it("a 2025 agent gets server-everything's clarifying question on its session, tied to its task", async () => {
    const agent = await connectV1(hub.url, 'asker');
    const related: unknown[] = [];
    // connectV1 declares no elicitation; a client that can answer declares it.
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    await agent.close();
    const asker = new Client({ name: 'asker', version: '1' }, { capabilities: { elicitation: { form: {} } } });
    asker.setRequestHandler(ElicitRequestSchema, async (request) => {
      related.push(request.params._meta?.['io.modelcontextprotocol/related-task']);
      return { action: 'accept', content: { interpretation: 'technical' } };
    });
    await asker.connect(new StreamableHTTPClientTransport(new URL(`${hub.url}/mcp`)));
    onCleanup(() => asker.close());
    const { task } = await asker.request(
      {
        method: 'tools/call',
        params: {
          name: 'everything__simulate-research-query',
          arguments: { topic: 'python', ambiguous: true },
          task: {},
        },
      },
      CreateTaskResultSchema,
    );
    const result = await asker.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(textOf(result)).toMatch(/python/i);
    expect(related).toEqual([{ taskId: task.taskId }]);
  }, 30_000);

  it('a plain call of a tool that requires tasks upstream works, and it is listed optional', async () => {
    const agent = await connectV1(hub.url);
    const tools = await agent.listTools();
    expect(tools.tools.find((t) => t.name === 's25__job_required')?.execution?.taskSupport).toBe('optional');
    const result = await agent.callTool({
      name: 's25__job_required',
      arguments: { steps: 2, stepMs: 50, label: 'plain' },
    });
    expect(textOf(result as { content: unknown })).toContain('plain');
  });
});

describe('an upstream task across a gateway restart', () => {
  it('the agent polls the same handle after the restart and gets the result', async () => {
    const url = await startTaskFixture('2026-07-28', events('h26'));
    const store = join(tempDir(), 'switchboard.db');
    const config = () => makeConfig({ h26: { url } }, { store, http: { adminToken: ADMIN } });
    const first = await startHub(config(), { log: silentLogger() });
    onCleanup(() => first.close());
    await first.ready;
    const label = 'survives';
    const created = await post2026(first.url, 'tools/call', {
      name: 'h26__job',
      arguments: { steps: 8, stepMs: 400, label },
    });
    const taskId = created.result?.taskId as string;
    await waitFor(() => jobEvents(events('h26')).includes(`start ${label}`));
    // The job starts upstream a moment before the gateway has recorded the upstream task's id (it
    // does so when the upstream's answer arrives): this scenario is a restart after that point.
    await waitFor(async () => ((await view(first, taskId)).mode === 'upstream' ? true : undefined));
    await first.close();
    // The upstream task went on: the shutdown did not cancel it.
    expect(jobEvents(events('h26'))).not.toContain(`cancelled ${label}`);

    const second = await startHub(config(), { log: silentLogger() });
    onCleanup(() => second.close());
    await second.ready;
    const done = await waitFor(async () => {
      const got = await post2026(second.url, 'tasks/get', { taskId });
      return got.result?.status === 'completed' ? got.result : undefined;
    }, 30_000);
    expect(textOf(done.result as { content: unknown })).toContain(label);
    expect(jobEvents(events('h26'))).toContain(`done ${label}`);
    expect((await view(second, taskId)).mode).toBe('upstream');
  }, 60_000);
});
