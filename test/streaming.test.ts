/**
 * Progress and cancellation through the gateway, and list_changed reaching agents of every kind:
 * a 2025-era HTTP session, a 2026-07-28 HTTP agent on a listen stream, and a stdio sidecar agent.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import {
  cleanup,
  connectAgent,
  everythingEntry,
  fixtureEntry,
  makeConfig,
  onCleanup,
  ROOT,
  startHttpFixture,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
} from './helpers.js';
import type { Hub } from '../src/compose.js';

let hub: Hub;
beforeAll(async () => {
  const web = await startHttpFixture('web');
  hub = await startTestHub(
    makeConfig({ everything: everythingEntry(), alpha: fixtureEntry('alpha'), web: { url: web.url } }),
  );
});
afterAll(cleanup);

describe('progress and cancellation', () => {
  it.each(['legacy', 'modern'] as const)(
    'progress from server-everything reaches a %s agent with its own token',
    async (era) => {
      const agent = await connectAgent(hub.url, era);
      const updates: { progress: number; total?: number }[] = [];
      const result = await agent.callTool(
        { name: 'everything__trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
        { onprogress: (p) => updates.push(p) },
      );
      expect(textOf(result)).toMatch(/Long running operation completed/);
      expect(updates.length).toBeGreaterThanOrEqual(3);
      expect(updates.map((u) => u.progress)).toEqual([...updates.map((u) => u.progress)].sort((a, b) => a - b));
      expect(updates.at(-1)?.total).toBe(4);
    },
  );

  it.each(['legacy', 'modern'] as const)('progress from a 2026-era HTTP upstream reaches a %s agent', async (era) => {
    const agent = await connectAgent(hub.url, era);
    const updates: number[] = [];
    const result = await agent.callTool(
      { name: 'web__slow', arguments: { ms: 300, steps: 3 } },
      { onprogress: (p) => updates.push(p.progress) },
    );
    expect(textOf(result)).toBe('slept 300');
    expect(updates).toEqual([1, 2, 3]);
  });

  it.each([
    ['legacy', 'alpha'],
    ['modern', 'alpha'],
    ['legacy', 'web'],
    ['modern', 'web'],
  ] as const)("a %s agent's cancellation reaches the %s upstream", async (era, server) => {
    const agent = await connectAgent(hub.url, era);
    const stats = async () =>
      (await agent.callTool({ name: `${server}__stats`, arguments: {} })).structuredContent as { cancelled: number };
    const before = (await stats()).cancelled;
    const controller = new AbortController();
    const call = agent.callTool(
      { name: `${server}__slow`, arguments: { ms: 20_000, steps: 200 } },
      { signal: controller.signal, onprogress: () => {} },
    );
    setTimeout(() => controller.abort('user pressed stop'), 500);
    await expect(call).rejects.toThrow();
    await waitFor(async () => (await stats()).cancelled > before, 10_000, 'upstream cancellation');
  });
});

describe('list_changed', () => {
  it('an upstream adding a tool reaches legacy, modern and stdio agents, who then see it', async () => {
    const legacy = await connectAgent(hub.url, 'legacy');
    const modern = await connectAgent(hub.url, 'modern');
    const seen = { legacy: 0, modern: 0 };
    legacy.setNotificationHandler('notifications/tools/list_changed', () => void seen.legacy++);
    modern.setNotificationHandler('notifications/tools/list_changed', () => void seen.modern++);
    const subscription = await modern.listen({ toolsListChanged: true });
    onCleanup(() => subscription.close());
    // Give the legacy session's GET stream a moment to open.
    await new Promise((r) => setTimeout(r, 300));

    const result = await legacy.callTool({ name: 'web__add_tool', arguments: { name: 'fresh' } });
    expect(textOf(result)).toBe('added fresh');
    await waitFor(() => seen.legacy > 0 && seen.modern > 0, 10_000, 'list_changed on both eras');
    for (const agent of [legacy, modern]) {
      expect((await agent.listTools()).tools.map((t) => t.name)).toContain('web__fresh');
    }
    expect(textOf(await modern.callTool({ name: 'web__fresh', arguments: { x: 1 } }))).toContain('x');
  });

  it('a stdio sidecar agent receives list_changed and sees the new tool', async () => {
    const dir = tempDir();
    const file = join(dir, 'sidecar.json');
    writeFileSync(
      file,
      JSON.stringify({
        store: { path: join(dir, 'db.sqlite') },
        log: { level: 'warn' },
        mcpServers: { beta: fixtureEntry('beta') },
      }),
    );
    const agent = new Client({ name: 'stdio-agent', version: '1.0.0' });
    let changed = 0;
    agent.setNotificationHandler('notifications/tools/list_changed', () => void changed++);
    await agent.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'stdio', '--config', file],
        cwd: ROOT,
        stderr: 'ignore',
      }),
    );
    onCleanup(() => agent.close());
    await waitFor(
      async () => (await agent.listTools()).tools.some((t) => t.name === 'beta__add_tool'),
      20_000,
      'beta to connect',
    );
    const before = changed;
    await agent.callTool({ name: 'beta__add_tool', arguments: { name: 'late' } });
    await waitFor(() => changed > before, 10_000, 'list_changed over stdio');
    expect((await agent.listTools()).tools.map((t) => t.name)).toContain('beta__late');
  });
});
