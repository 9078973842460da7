/**
 * The HTTP edge's guards: oversize bodies and arguments, DNS-rebinding protection (Host and
 * Origin), unknown sessions, and readiness before the catalog is built.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, textOf } from './helpers.js';
import { startHub, type Hub } from '../src/compose.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { ERROR_META_KEY } from '../src/mcp/agent-server.js';

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { gateway: { maxRequestBytes: 64 * 1024 } }));
});
afterAll(cleanup);

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } };
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('http edge', () => {
  it('refuses an oversize body with 413 before parsing it', async () => {
    const body = JSON.stringify({ ...initialize, params: { ...initialize.params, padding: 'x'.repeat(100 * 1024) } });
    const res = await fetch(`${hub.url}/mcp`, { method: 'POST', headers, body });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/exceeds 65536 bytes/);
  });

  it('keeps working after an oversize request', async () => {
    const agent = await connectAgent(hub.url);
    expect(textOf(await agent.callTool({ name: 'alpha__echo', arguments: { text: 'fine' } }))).toBe('alpha: fine');
  });

  it('rejects a foreign Host header (DNS rebinding) and a foreign Origin', async () => {
    const rebinding = await fetch(`${hub.url}/mcp`, { method: 'POST', headers: { ...headers, host: 'evil.example.com' }, body: JSON.stringify(initialize) });
    expect(rebinding.status).toBe(403);
    const origin = await fetch(`${hub.url}/mcp`, { method: 'POST', headers: { ...headers, origin: 'https://evil.example.com' }, body: JSON.stringify(initialize) });
    expect(origin.status).toBe(403);
  });

  it('answers an unknown session id with 404 so the client starts over', async () => {
    const res = await fetch(`${hub.url}/mcp`, { method: 'POST', headers: { ...headers, 'mcp-session-id': 'no-such-session' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    expect(res.status).toBe(404);
  });

  it('answers malformed JSON with 400', async () => {
    const res = await fetch(`${hub.url}/mcp`, { method: 'POST', headers, body: '{"jsonrpc": "2.0", ' });
    expect(res.status).toBe(400);
  });

  it('reports /readyz 503 until the catalog is first built', async () => {
    const slowHub = await startHub(makeConfig({ mute: fixtureEntry('mute', ['--hang-on-start']) }, { gateway: { connectTimeoutMs: 2_500 } }), { log: silentLogger() });
    try {
      expect((await fetch(`${slowHub.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${slowHub.url}/readyz`)).status).toBe(503);
      await slowHub.ready;
      expect((await fetch(`${slowHub.url}/readyz`)).status).toBe(200);
    } finally {
      await slowHub.close();
    }
  });

  it('refuses oversize tool arguments on the way in, as a tool error', async () => {
    const big = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { gateway: { maxRequestBytes: 200_000 } }));
    const agent = await connectAgent(big.url);
    // Under the HTTP body limit, over nothing: the call goes through.
    expect(textOf(await agent.callTool({ name: 'alpha__echo', arguments: { text: 'y'.repeat(1000) } }))).toContain('yyy');
    const result = await agent.callTool({ name: 'alpha__big', arguments: { kb: 64 } });
    expect(textOf(result).length).toBeGreaterThanOrEqual(64 * 1024);
    expect(result._meta?.[ERROR_META_KEY]).toBeUndefined();
  });
});
