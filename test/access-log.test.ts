/**
 * The access log: a real hub with a real upstream (the fixture server over stdio) and a real SDK
 * agent; the hub's pino lines are captured. At info, one `access` line per interval with what the
 * interval's requests were (by outcome, method, tool, error code) and their latency; at debug, a
 * `request` line per request as well; never an argument value; nothing for an interval without
 * requests, and nothing at all with log.accessIntervalMs 0.
 */
import { describe, expect, it } from 'vitest';
import { startHub } from '../src/compose.js';
import { createLogger } from '../src/telemetry/logger.js';
import { buildConfig } from '../src/config/load.js';
import { connectAgent, fixtureEntry, makeConfig, onCleanup, waitFor } from './helpers.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { log, lines };
}

async function hubWith(level: string, accessIntervalMs: number) {
  const config = makeConfig({ fx: fixtureEntry('fx') }, { log: { level, accessIntervalMs } });
  const { log, lines } = capture(level);
  const hub = await startHub(config, { log });
  onCleanup(() => hub.close());
  await hub.ready;
  return { hub, lines, agent: await connectAgent(hub.url) };
}

const SECRET = 'sk-live-do-not-log-4242';

describe('the access log', () => {
  it('writes one access line per interval at info: outcomes, methods, busiest tools, errors, latency; no arguments', async () => {
    const { lines, agent } = await hubWith('info', 300);
    for (let i = 0; i < 3; i++) await agent.callTool({ name: 'fx__echo', arguments: { text: SECRET } });
    await agent.callTool({ name: 'fx__fail', arguments: {} }).catch(() => undefined);
    await agent.callTool({ name: 'fx__nope', arguments: {} }).catch(() => undefined);
    await agent.callTool({ name: 'find_capability', arguments: { capability: 'echo a message' } });
    type Line = {
      requests: number;
      outcomes: Record<string, number>;
      methods: Record<string, number>;
      topTools: { tool: string; n: number }[];
      errors?: Record<string, number>;
      latencyMs: { p50: number; p99: number; max: number };
    };
    // The calls may straddle an interval: add up the lines until all six requests are in.
    const accessLines = () => lines.filter((l) => l.msg === 'access') as unknown as Line[];
    const sum = (f: (l: Line) => number) => accessLines().reduce((a, l) => a + f(l), 0);
    await waitFor(() => sum((l) => l.requests) >= 6 || undefined, 5_000);
    expect(lines.find((l) => l.msg === 'access')).toMatchObject({ component: 'access', level: 30 });
    // The agent's initialize and tools/list are not audited requests; the six calls are.
    expect(sum((l) => l.requests)).toBe(6);
    expect(sum((l) => l.methods['tools/call'] ?? 0)).toBe(5);
    expect(sum((l) => l.methods.find_capability ?? 0)).toBe(1);
    expect(sum((l) => l.outcomes.success ?? 0)).toBeGreaterThanOrEqual(4);
    expect(sum((l) => l.topTools.find((t) => t.tool === 'fx__echo')?.n ?? 0)).toBe(3);
    expect(sum((l) => Object.keys(l.errors ?? {}).length)).toBeGreaterThan(0);
    for (const l of accessLines()) {
      expect(l.latencyMs.p50).toBeGreaterThan(0);
      expect(l.latencyMs.max).toBeGreaterThanOrEqual(l.latencyMs.p99);
    }
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    // No per-request lines at info, and no line for the quiet intervals that follow.
    expect(lines.some((l) => l.msg === 'request')).toBe(false);
    const written = accessLines().length;
    await new Promise((r) => setTimeout(r, 700));
    expect(accessLines()).toHaveLength(written);
  });

  it('adds one request line per request at debug, still without arguments', async () => {
    const { lines, agent } = await hubWith('debug', 60_000);
    await agent.callTool({ name: 'fx__echo', arguments: { text: SECRET } });
    const request = await waitFor(() => lines.find((l) => l.msg === 'request' && l.tool === 'fx__echo'), 5_000);
    expect(request).toMatchObject({ method: 'tools/call', server: 'fx', outcome: 'success', level: 20 });
    expect(typeof (request as { ms: unknown }).ms).toBe('number');
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });

  it('writes nothing with log.accessIntervalMs 0, and the config says what it accepts', async () => {
    const { lines, agent } = await hubWith('debug', 0);
    await agent.callTool({ name: 'fx__echo', arguments: { text: 'x' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(lines.some((l) => l.msg === 'access' || l.msg === 'request')).toBe(false);
    expect(() => buildConfig({ servers: {}, log: { accessIntervalMs: -1 } })).toThrow(/log\.accessIntervalMs/);
  });
});
