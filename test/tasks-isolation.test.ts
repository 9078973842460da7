/**
 * Task isolation and the admin API (issue 14, §6 and §7): a task is its owner's alone. Another
 * credential's get, result, list, cancel, update and get_call read it exactly like a task that does
 * not exist, in both eras; the tenant's admin sees every owner's tasks at /v1/tasks and cancels with
 * DELETE. A real hub with API-key auth on loopback, v1 and raw 2026 agents, v2 clients for handles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Hub } from '../src/compose.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, textOf, waitFor } from './helpers.js';
import { connectV1, post2026 } from './tasks-agents.js';

afterAll(cleanup);

const ADMIN = 'isolation-admin-token-0123456789';
const keys: Record<string, string> = {};
let hub: Hub;

async function admin(path: string, method = 'GET', key = ADMIN) {
  const response = await fetch(`${hub.url}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  hub = await startTestHub(
    makeConfig(
      { alpha: fixtureEntry('alpha') },
      { http: { adminToken: ADMIN }, auth: { mode: 'apiKey' }, routing: { exposure: 'both' } },
    ),
  );
  // `twin` is another credential with the owner's agent name: the credential, not the name, owns a task.
  for (const [name, agent] of [
    ['owner', 'owner'],
    ['other', 'other'],
    ['twin', 'owner'],
  ] as const) {
    const response = await fetch(`${hub.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'default', agent, scopes: ['*'] }),
    });
    expect(response.status).toBe(201);
    keys[name] = ((await response.json()) as { key: string }).key;
  }
}, 60_000);

describe('task isolation', () => {
  it("another credential's 2025 agent cannot see, wait for, list or cancel the task", async () => {
    const owner = await connectV1(hub.url, 'same-name', keys.owner);
    const other = await connectV1(hub.url, 'same-name', keys.twin);
    const { task } = await owner.request(
      { method: 'tools/call', params: { name: 'alpha__slow', arguments: { ms: 30_000, steps: 30 }, task: {} } },
      CreateTaskResultSchema,
    );
    await expect(other.experimental.tasks.getTask(task.taskId)).rejects.toThrow(/not found/i);
    await expect(other.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)).rejects.toThrow(
      /not found/i,
    );
    await expect(other.experimental.tasks.cancelTask(task.taskId)).rejects.toThrow(/not found/i);
    expect((await other.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(task.taskId);
    // The owner still sees it running, and it was not cancelled by the attempt.
    expect((await owner.experimental.tasks.getTask(task.taskId)).status).toBe('working');
    expect((await owner.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(task.taskId);
    await owner.experimental.tasks.cancelTask(task.taskId);
  });

  it("another credential's 2026 requests and get_call read the task as missing", async () => {
    const created = await post2026(
      hub.url,
      'tools/call',
      { name: 'alpha__slow', arguments: { ms: 30_000, steps: 30 } },
      { token: keys.owner },
    );
    const taskId = created.result?.taskId as string;
    expect(taskId).toMatch(/^sbt_/);
    const missing = await post2026(
      hub.url,
      'tasks/get',
      { taskId: 'sbt_AAAAAAAAAAAAAAAAAAAAAA' },
      { token: keys.other },
    );
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      const answer = await post2026(hub.url, method, { taskId, inputResponses: {} }, { token: keys.other });
      expect(answer.error?.code).toBe(-32602);
      // Byte for byte what a task that never existed reads like.
      expect(answer.error?.message).toBe(missing.error?.message);
    }
    const handles = await connectAgent(hub.url, 'legacy', 'other', keys.other);
    const foreign = await handles.callTool({ name: 'get_call', arguments: { handle: taskId } });
    expect(foreign.isError).toBe(true);
    expect(textOf(foreign)).toMatch(/no call with handle/);
    const ownerGet = await post2026(hub.url, 'tasks/get', { taskId }, { token: keys.owner });
    expect(ownerGet.result?.status).toBe('working');
    await post2026(hub.url, 'tasks/cancel', { taskId }, { token: keys.owner });
    const after = await post2026(hub.url, 'tasks/get', { taskId }, { token: keys.owner });
    expect(after.result?.status).toBe('cancelled');
  });
});

describe('admin /v1/tasks', () => {
  it("lists every owner's tasks with filters, shows one, and cancels with DELETE", async () => {
    const owner = await connectAgent(hub.url, 'legacy', 'owner', keys.owner);
    const other = await connectAgent(hub.url, 'legacy', 'other', keys.other);
    const start = async (agent: typeof owner, ms: number) =>
      (
        (
          await agent.callTool({
            name: 'call_capability',
            arguments: { tool: 'alpha__slow', arguments: { ms, steps: 2 }, async: true },
          })
        ).structuredContent as { handle: string }
      ).handle;
    const long = await start(owner, 60_000);
    const short = await start(other, 10);
    await waitFor(async () => (await admin(`/v1/tasks/${short}`)).body.status === 'completed');

    const all = await admin('/v1/tasks?server=alpha');
    expect(all.status).toBe(200);
    const ids = (all.body.tasks as { id: string }[]).map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining([long, short]));
    const working = await admin('/v1/tasks?status=working');
    expect(
      (working.body.tasks as { id: string; owner: { agent: string } }[]).find((t) => t.id === long)?.owner.agent,
    ).toBe('owner');
    expect((working.body.tasks as { id: string }[]).map((t) => t.id)).not.toContain(short);
    const one = await admin(`/v1/tasks/${short}`);
    expect(textOf(one.body.result as { content: unknown })).toBe('slept 10');
    expect(JSON.stringify(one.body)).not.toContain('"ms"'); // arguments never shown

    const cancelled = await admin(`/v1/tasks/${long}`, 'DELETE');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const ownerView = await owner.callTool({ name: 'get_call', arguments: { handle: long } });
    expect((ownerView.structuredContent as { status: string }).status).toBe('cancelled');
    expect((await admin(`/v1/tasks/${long}`, 'DELETE')).status).toBe(400);
    expect((await admin('/v1/tasks/sbt_AAAAAAAAAAAAAAAAAAAAAA', 'DELETE')).status).toBe(404);
    expect((await admin('/v1/tasks?status=sleeping')).status).toBe(400);
    // An agent credential is no admin.
    expect((await admin('/v1/tasks', 'GET', keys.owner)).status).toBe(403);
  });
});

describe('task requests in the audit trail', () => {
  it('records tasks/* and get_call as method tasks, with the operation and the handle, and bills none of them', async () => {
    const created = await post2026(
      hub.url,
      'tools/call',
      { name: 'alpha__slow', arguments: { ms: 10, steps: 1 } },
      { token: keys.owner },
    );
    const taskId = created.result?.taskId as string;
    await waitFor(async () => {
      const got = await post2026(hub.url, 'tasks/get', { taskId }, { token: keys.owner });
      return got.result?.status === 'completed';
    });
    await post2026(hub.url, 'tasks/cancel', { taskId }, { token: keys.owner });
    const events = await waitFor(async () => {
      const { body } = await admin('/v1/audit?method=tasks&limit=500');
      const mine = (body.events as { tool?: string; detail?: { op?: string; task?: string } }[]).filter(
        (e) => e.detail?.task === taskId,
      );
      return mine.some((e) => e.detail?.op === 'cancel') ? mine : undefined;
    });
    expect(events.map((e) => e.tool)).toEqual(expect.arrayContaining(['tasks/get', 'tasks/cancel']));
    const usage = await admin('/v1/usage?groupBy=method');
    const methods = (usage.body.lines as { key: string }[]).map((l) => l.key);
    expect(methods).not.toContain('tasks');
    expect(methods).toContain('tools/call');
  });
});
