/**
 * Upstreams that crash mid-call, hang, or never start: the agent gets a clear, retryable error for
 * that call, every other server keeps working, and a crashed server is reconnected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, textOf, waitFor } from './helpers.js';
import type { Hub } from '../src/compose.js';
import { ERROR_META_KEY } from '../src/mcp/agent-server.js';

let hub: Hub;
let agent: Client;

interface ServerRow {
  name: string;
  state: string;
  connects: number;
  lastError?: string;
  pid: number | null;
}
const servers = async (): Promise<ServerRow[]> =>
  ((await (await fetch(`${hub.url}/v1/servers`)).json()) as { servers: ServerRow[] }).servers;
const row = async (name: string) => (await servers()).find((s) => s.name === name);

beforeAll(async () => {
  hub = await startTestHub(
    makeConfig(
      {
        healthy: fixtureEntry('healthy'),
        crashy: fixtureEntry('crashy'),
        hangs: fixtureEntry('hangs'),
        dead: fixtureEntry('dead', ['--crash-on-start']),
        mute: fixtureEntry('mute', ['--hang-on-start']),
        missing: { command: '/nonexistent/switchboard-no-such-binary' },
      },
      { gateway: { callTimeoutMs: 1_500, connectTimeoutMs: 8_000 } },
    ),
  );
  agent = await connectAgent(hub.url);
});
afterAll(cleanup);

function gatewayError(result: { _meta?: Record<string, unknown> }): { code: string; retryable: boolean } | undefined {
  return result._meta?.[ERROR_META_KEY] as { code: string; retryable: boolean } | undefined;
}

describe('failing upstreams', () => {
  it('the hub becomes ready although three servers never start', async () => {
    const res = await fetch(`${hub.url}/readyz`);
    expect(res.status).toBe(200);
    // Six servers start at once on two cores; the healthy ones may need a retry on a loaded machine.
    await waitFor(
      async () => (await row('healthy'))?.state === 'ready' && (await row('crashy'))?.state === 'ready',
      30_000,
      'healthy servers',
    );
    const names = (await agent.listTools()).tools.map((t) => t.name);
    expect(names).toContain('healthy__echo');
    expect(names.some((n) => /^(dead|mute|missing)__/.test(n))).toBe(false);
    for (const name of ['dead', 'mute', 'missing']) {
      const status = await row(name);
      expect(['connecting', 'reconnecting']).toContain(status?.state);
      expect(status?.lastError).toBeTruthy();
    }
  });

  it('a call to a server that never started names the server and the reason, marked retryable', async () => {
    const result = await agent.callTool({ name: 'dead__echo', arguments: { text: 'x' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/server "dead" is not connected/);
    expect(textOf(result)).toMatch(/not your request/);
    expect(gatewayError(result)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
  });

  it('a hanging call times out with a clear error; the server and the others keep working', async () => {
    const result = await agent.callTool({ name: 'hangs__hang', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/server "hangs" did not answer tools\/call within 1500 ms/);
    expect(gatewayError(result)).toMatchObject({ code: 'UPSTREAM_TIMEOUT', retryable: true });
    expect(textOf(await agent.callTool({ name: 'hangs__echo', arguments: { text: 'still here' } }))).toBe(
      'hangs: still here',
    );
    await waitFor(
      async () =>
        ((await agent.callTool({ name: 'hangs__stats', arguments: {} })).structuredContent as { cancelled: number })
          .cancelled >= 1,
      5_000,
      'the timed-out call to be cancelled upstream',
    );
  });

  it('a crash mid-call gives a clear error, others keep working, and the crashed server comes back', async () => {
    const before = await row('crashy');
    expect(before?.state).toBe('ready');
    const result = await agent.callTool({ name: 'crashy__crash', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/server "crashy"/);
    expect(gatewayError(result)).toMatchObject({ code: 'UPSTREAM_FAILED', retryable: true });
    expect(textOf(await agent.callTool({ name: 'healthy__echo', arguments: { text: 'ok' } }))).toBe('healthy: ok');
    const after = await waitFor(
      async () => {
        const status = await row('crashy');
        return status?.state === 'ready' && status.connects >= 2 ? status : undefined;
      },
      20_000,
      'crashy to reconnect',
    );
    expect(after.pid).not.toBe(before?.pid);
    expect(textOf(await agent.callTool({ name: 'crashy__echo', arguments: { text: 'back' } }))).toBe('crashy: back');
  });

  it('a server that stops answering (SIGSTOP) fails its health check and is replaced', async () => {
    const before = await waitFor(
      async () => {
        const status = await row('healthy');
        return status?.state === 'ready' && status.pid ? status : undefined;
      },
      20_000,
      'healthy ready',
    );
    process.kill(before.pid!, 'SIGSTOP');
    try {
      const after = await waitFor(
        async () => {
          const status = await row('healthy');
          return status?.state === 'ready' && status.pid !== before.pid ? status : undefined;
        },
        30_000,
        'a fresh healthy process',
      );
      expect(after.connects).toBeGreaterThan(before.connects);
      expect(textOf(await agent.callTool({ name: 'healthy__echo', arguments: { text: 'revived' } }))).toBe(
        'healthy: revived',
      );
    } finally {
      try {
        process.kill(before.pid!, 'SIGKILL');
      } catch {
        // already gone: the gateway's shutdown sequence ended it
      }
    }
  });
});
