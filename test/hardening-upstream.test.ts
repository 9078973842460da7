/**
 * Hostile upstreams against a real hub (issue 10, defects 4, 6 and 7), with real processes: a server
 * whose answer is over the size limit, one that dies 100 ms after every connect, and one that floods
 * log, progress and list_changed notifications as fast as its stdout drains. The servers are the raw
 * stdio script test/fixtures/hostile-server.js; agents are real SDK clients over Streamable HTTP.
 * Bounds are counts (of restarts, catalog updates, forwarded notifications), never timings.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { Hub } from '../src/compose.js';
import { ERROR_META_KEY } from '../src/mcp/agent-server.js';
import { DEFAULT_LOG_RATE } from '../src/upstream/notify-limits.js';
import { cleanup, connectAgent, makeConfig, ROOT, startTestHub, textOf, waitFor } from './helpers.js';

afterEach(cleanup);

const HOSTILE = join(ROOT, 'test/fixtures/hostile-server.js');
const MB = 1024 * 1024;

function hostile(...flags: string[]) {
  return { command: process.execPath, args: [HOSTILE, ...flags], protocol: 'legacy' };
}

function instanceOf(hub: Hub, server: string) {
  const view = hub.gateway.listServers().find((s) => s.name === server);
  if (!view?.instances[0]) throw new Error(`no server ${server}`);
  return view.instances[0];
}

async function call(agent: Client, name: string, args: Record<string, unknown> = {}) {
  return agent.callTool({ name, arguments: args }, { timeout: 60_000 });
}

function errorMeta(result: { _meta?: Record<string, unknown> }) {
  return result._meta?.[ERROR_META_KEY] as { code: string; retryable: boolean } | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an answer over gateway.maxResultBytes', () => {
  it('fails only that call, not retryable, and keeps the connection (default limit 16 MiB)', async () => {
    const hub = await startTestHub(makeConfig({ big: hostile() }));
    const agent = await connectAgent(hub.url);
    const before = instanceOf(hub, 'big');
    expect(before.state).toBe('ready');

    // Over the SDK's fixed 10 MB read buffer, under the gateway's default: it passes whole.
    const twelve = await call(agent, 'big__big', { bytes: 12 * MB });
    expect(twelve.isError).not.toBe(true);
    expect(textOf(twelve).length).toBe(12 * MB);

    const twenty = await call(agent, 'big__big', { bytes: 20 * MB });
    expect(twenty.isError).toBe(true);
    expect(errorMeta(twenty)).toMatchObject({ code: 'RESULT_TOO_LARGE', retryable: false });
    expect(textOf(twenty)).toMatch(/over the gateway's limit of 16777216 bytes \(gateway\.maxResultBytes\)/);

    // The same connection still answers: same process, no reconnect, circuit still closed.
    expect(textOf(await call(agent, 'big__echo', { text: 'still here' }))).toBe('still here');
    const after = instanceOf(hub, 'big');
    expect(after.pid).toBe(before.pid);
    expect(after.connects).toBe(before.connects);
    expect(after.circuit.state).toBe('closed');
    expect(textOf(await call(agent, 'big__pid'))).toBe(String(before.pid));
  });

  it('follows a configured limit', async () => {
    const hub = await startTestHub(makeConfig({ big: hostile() }, { gateway: { maxResultBytes: 8 * MB } }));
    const agent = await connectAgent(hub.url);
    const before = instanceOf(hub, 'big');
    const twelve = await call(agent, 'big__big', { bytes: 12 * MB });
    expect(errorMeta(twelve)).toMatchObject({ code: 'RESULT_TOO_LARGE', retryable: false });
    expect(textOf(await call(agent, 'big__big', { bytes: 4 * MB })).length).toBe(4 * MB);
    expect(instanceOf(hub, 'big')).toMatchObject({ pid: before.pid, connects: before.connects });
  });
});

describe('a flapping server', () => {
  it('backs off across short-lived connections, and its catalog churn stays bounded', async () => {
    const hub = await startTestHub(makeConfig({ flap: hostile('--flap-ms', '100') }));
    let updates = 0;
    hub.gateway.onCatalogChange(() => void updates++);
    await waitFor(() => instanceOf(hub, 'flap').connects >= 1, 15_000, 'the first connect');
    // A fixed window: with backoff kept (≥125, 250, 500, 1000, 2000 ms between tries) at most 6 connects
    // fit in it; with the backoff reset after each connect, one every few hundred ms (15 or more).
    await sleep(6_000);
    const { connects } = instanceOf(hub, 'flap');
    expect(connects).toBeGreaterThanOrEqual(2);
    expect(connects).toBeLessThanOrEqual(6);
    expect(updates).toBeLessThanOrEqual(2 * connects);
  });
});

describe('a notification flood from one upstream', () => {
  it('is thinned and capped, and a call on another server completes meanwhile', async () => {
    const hub = await startTestHub(makeConfig({ flood: hostile('--flood'), calm: hostile() }));
    const started = performance.now();
    const agent = await connectAgent(hub.url);
    const seen = { logs: 0, dropped: 0, listChanged: 0, progress: 0 };
    agent.setNotificationHandler('notifications/message', (n) => {
      seen.logs++;
      // The gateway prefixes the logger with the server's name.
      if (n.params.logger === 'flood/switchboard' && /dropped \d+ log message/.test(String(n.params.data)))
        seen.dropped++;
    });
    agent.setNotificationHandler('notifications/tools/list_changed', () => void seen.listChanged++);
    await agent.setLoggingLevel('info');

    // The other server answers during the flood.
    for (let i = 0; i < 5; i++)
      expect(textOf(await call(agent, 'calm__echo', { text: `ping ${i}` }))).toBe(`ping ${i}`);
    await sleep(2_000);
    // A call on the flooding server, with progress as fast as it can send it.
    const progressStarted = performance.now();
    const slow = await agent.callTool(
      { name: 'flood__slow', arguments: { ms: 1_500 } },
      {
        timeout: 60_000,
        onprogress: () => void seen.progress++,
      },
    );
    const progressSeconds = (performance.now() - progressStarted) / 1000;
    expect(textOf(slow)).toBe('done');
    await waitFor(() => seen.dropped > 0, 5_000, 'a dropped-messages report');
    const sent = JSON.parse(textOf(await call(agent, 'flood__stats'))) as Record<string, number>;
    const seconds = (performance.now() - started) / 1000;

    // Logs: the bucket's burst plus its rate, and one report a second; the server sent many more.
    expect(seen.logs).toBeLessThanOrEqual(
      DEFAULT_LOG_RATE.burst + DEFAULT_LOG_RATE.perSecond * Math.ceil(seconds) + Math.ceil(seconds) + 1,
    );
    expect(sent.log).toBeGreaterThan(seen.logs);
    // Progress: at most 10 a second of the call, plus the last one.
    expect(seen.progress).toBeGreaterThanOrEqual(1);
    // A burst of 20 (so ordinary tools' few updates all pass, as the conformance suite checks), then 10 a second.
    expect(seen.progress).toBeLessThanOrEqual(20 + 10 * Math.ceil(progressSeconds) + 2);
    expect(sent.progress).toBeGreaterThan(seen.progress);
    // list_changed: every one a real change, but catalog updates from one server at most 4 a second.
    expect(sent.listChanged).toBeGreaterThan(seen.listChanged);
    expect(seen.listChanged).toBeLessThanOrEqual(4 * Math.ceil(seconds) + 2);
    expect(instanceOf(hub, 'calm').state).toBe('ready');
  });
});
