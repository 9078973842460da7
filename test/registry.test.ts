/**
 * The runtime registry: register and remove servers through the REST API while an agent is
 * connected, persistence across restarts in a real SQLite file, and the API's error answers.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, tempDir, textOf, waitFor } from './helpers.js';

afterEach(cleanup);

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/servers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('runtime registry', () => {
  it('registers and removes a server while an agent is connected, and persists across restarts', async () => {
    const store = join(tempDir(), 'switchboard.db');
    const config = makeConfig({ base: fixtureEntry('base') }, { store });
    const hub = await startTestHub(config);
    const agent = await connectAgent(hub.url);
    let changes = 0;
    agent.setNotificationHandler('notifications/tools/list_changed', () => void changes++);
    await new Promise((r) => setTimeout(r, 300));

    const created = await post(hub.url, { name: 'late', ...fixtureEntry('late') });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { server: { state: string; source: string } }).server).toMatchObject({
      state: 'ready',
      source: 'runtime',
    });
    await waitFor(() => changes > 0, 10_000, 'list_changed after register');
    expect((await agent.listTools()).tools.map((t) => t.name)).toContain('late__echo');
    expect(textOf(await agent.callTool({ name: 'late__echo', arguments: { text: 'hello' } }))).toBe('late: hello');

    await hub.close();
    const again = await startTestHub(makeConfig({ base: fixtureEntry('base') }, { store }));
    const agent2 = await connectAgent(again.url);
    expect((await agent2.listTools()).tools.map((t) => t.name)).toContain('late__echo');
    let changes2 = 0;
    agent2.setNotificationHandler('notifications/tools/list_changed', () => void changes2++);
    await new Promise((r) => setTimeout(r, 300));

    // An in-flight call finishes although its server is removed meanwhile.
    const inFlight = agent2.callTool({ name: 'late__slow', arguments: { ms: 800, steps: 2 } });
    await new Promise((r) => setTimeout(r, 200));
    const removed = await fetch(`${again.url}/v1/servers/late`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ removed: 'late', source: 'runtime' });
    expect(textOf(await inFlight)).toBe('slept 800');
    await waitFor(() => changes2 > 0, 10_000, 'list_changed after remove');
    expect((await agent2.listTools()).tools.map((t) => t.name)).not.toContain('late__echo');

    await again.close();
    const third = await startTestHub(makeConfig({ base: fixtureEntry('base') }, { store }));
    const servers = ((await (await fetch(`${third.url}/v1/servers`)).json()) as { servers: { name: string }[] })
      .servers;
    expect(servers.map((s) => s.name)).toEqual(['base']);
  });

  it('answers bad registrations with every problem and its path, duplicates with 409, unknown removals with 404', async () => {
    const hub = await startTestHub(makeConfig({ base: fixtureEntry('base') }));
    const bad = await post(hub.url, { name: 'x', url: 'nope', command: 'node' });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; details: { issues: { path: string }[] } } };
    expect(body.error.code).toBe('CONFIG_INVALID');
    expect(body.error.details.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['url']));
    expect((await post(hub.url, { name: 'base', ...fixtureEntry('base') })).status).toBe(409);
    expect((await post(hub.url, ['not', 'an', 'object'])).status).toBe(400);
    expect((await fetch(`${hub.url}/v1/servers/ghost`, { method: 'DELETE' })).status).toBe(404);
    const servers = (
      (await (await fetch(`${hub.url}/v1/servers`)).json()) as {
        servers: { name: string; spec: { env: Record<string, string> } }[];
      }
    ).servers;
    expect(servers.map((s) => s.name)).toEqual(['base']);
  });

  it('redacts secrets in the admin API and requires the admin token when one is set', async () => {
    const hub = await startTestHub(
      makeConfig(
        { s: { ...fixtureEntry('s'), env: { API_KEY: 'super-secret-value' } } },
        { http: { adminToken: 'token-token-token-123' } },
      ),
    );
    expect((await fetch(`${hub.url}/v1/servers`)).status).toBe(401);
    const res = await fetch(`${hub.url}/v1/servers`, { headers: { authorization: 'Bearer token-token-token-123' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('super-secret-value');
    expect(text).toContain('[redacted]');
  });

  it('serves liveness and readiness', async () => {
    const hub = await startTestHub(makeConfig({ base: fixtureEntry('base') }));
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${hub.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, tools: expect.any(Number) });
  });
});
