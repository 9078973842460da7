/**
 * Handles for agents that do not speak tasks (issue 14, §3): call_capability `async: true` answers at
 * once with a handle; get_call {handle, waitMs} reports status, progress and the result, waiting for a
 * change; cancel_call stops the call upstream, also every branch of a fan-out. Same registry as the
 * tasks of both eras. Real fixture servers, a hub on loopback, v2 clients of both eras.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { Hub } from '../src/compose.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, textOf, waitFor } from './helpers.js';

afterAll(cleanup);

interface Handle {
  handle: string;
  status: string;
  statusMessage?: string;
  progress?: { progress: number; total?: number };
  result?: { content: unknown; isError?: boolean };
}

describe.each(['legacy', 'modern'] as const)('handles (%s agent)', (era) => {
  let hub: Hub;
  let agent: Client;
  beforeAll(async () => {
    hub = await startTestHub(
      makeConfig({ alpha: fixtureEntry('alpha'), beta: fixtureEntry('beta') }, { routing: { exposure: 'both' } }),
    );
    agent = await connectAgent(hub.url, era);
  }, 60_000);

  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await agent.callTool({ name, arguments: args });
    return { result, structured: result.structuredContent as Handle };
  };

  it('lists get_call and cancel_call beside the other meta-tools', async () => {
    const { tools } = await agent.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['call_capability', 'get_call', 'cancel_call']));
    const callCapability = tools.find((t) => t.name === 'call_capability');
    expect(Object.keys((callCapability?.inputSchema as { properties: object }).properties)).toContain('async');
  });

  it('async: true answers with a handle; get_call waits for changes and returns the result', async () => {
    const { structured: started } = await call('call_capability', {
      tool: 'alpha__slow',
      arguments: { ms: 1_200, steps: 4 },
      async: true,
    });
    expect(started.handle).toMatch(/^sbt_/);
    expect(started.status).toBe('working');
    expect(started.result).toBeUndefined();
    const seen: Handle[] = [];
    const done = await waitFor(async () => {
      const { structured } = await call('get_call', { handle: started.handle, waitMs: 10_000 });
      seen.push(structured);
      return structured.status === 'completed' ? structured : undefined;
    });
    expect(textOf(done.result as { content: unknown })).toBe('slept 1200');
    // A wait returned on a change (progress), not only at the end; and each call waited for one (progress
    // is written at most once a second, so a handful of calls saw the whole run, not a busy poll).
    expect(seen.some((h) => h.status === 'working' && h.progress !== undefined)).toBe(true);
    expect(seen.length).toBeLessThanOrEqual(6);
  });

  it('a call refused before it runs is answered plainly, with no handle', async () => {
    // An unknown tool is the caller's mistake: a JSON-RPC error, as without async.
    await expect(call('call_capability', { tool: 'alpha__nope', arguments: {}, async: true })).rejects.toThrow(
      /unknown tool/,
    );
    const invalid = await call('call_capability', { tool: 'alpha__slow', arguments: { ms: 'x' }, async: true });
    expect(invalid.result.isError).toBe(true);
    expect(invalid.structured?.handle).toBeUndefined();
  });

  it('cancel_call stops the call upstream', async () => {
    const before = await stats(agent, 'alpha');
    const { structured: started } = await call('call_capability', {
      tool: 'alpha__slow',
      arguments: { ms: 30_000, steps: 30 },
      async: true,
    });
    await waitFor(async () => (await stats(agent, 'alpha')).calls > before.calls);
    const { structured: cancelled } = await call('cancel_call', { handle: started.handle });
    expect(cancelled.status).toBe('cancelled');
    await waitFor(async () => (await stats(agent, 'alpha')).cancelled > before.cancelled);
    const { structured: after } = await call('get_call', { handle: started.handle });
    expect(after.status).toBe('cancelled');
    expect(after.result?.isError).toBe(true);
  });

  it('a fan-out handle cancelled cancels every branch', async () => {
    const before = await Promise.all([stats(agent, 'alpha'), stats(agent, 'beta')]);
    const { structured: started } = await call('call_capability', {
      tool: 'alpha__hang',
      fanout: true,
      async: true,
    });
    expect(started.handle).toMatch(/^sbt_/);
    await waitFor(async () => {
      const now = await Promise.all([stats(agent, 'alpha'), stats(agent, 'beta')]);
      return now.every((s, i) => s.calls > (before[i]?.calls ?? 0));
    });
    await call('cancel_call', { handle: started.handle });
    await waitFor(async () => {
      const now = await Promise.all([stats(agent, 'alpha'), stats(agent, 'beta')]);
      return now.every((s, i) => s.cancelled > (before[i]?.cancelled ?? 0));
    });
    expect((await call('get_call', { handle: started.handle })).structured.status).toBe('cancelled');
  });

  it('an unknown handle is not found', async () => {
    for (const name of ['get_call', 'cancel_call']) {
      const { result } = await call(name, { handle: 'sbt_AAAAAAAAAAAAAAAAAAAAAA' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/no call with handle/);
    }
  });
});

async function stats(agent: Client, server: string): Promise<{ calls: number; cancelled: number }> {
  const result = await agent.callTool({ name: `${server}__stats`, arguments: {} });
  return result.structuredContent as { calls: number; cancelled: number };
}
