/**
 * The HTTP edge's guards: oversize bodies and arguments, DNS-rebinding protection (Host and
 * Origin), unknown sessions, and readiness before the catalog is built.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  makeConfig,
  onCleanup,
  ROOT,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
} from './helpers.js';
import { startHub, type Hub } from '../src/compose.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { ERROR_META_KEY } from '../src/mcp/agent-server.js';

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub(makeConfig({ alpha: fixtureEntry('alpha') }, { gateway: { maxRequestBytes: 64 * 1024 } }));
});
afterAll(cleanup);

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
};
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
    // fetch() may not set Host, so speak raw HTTP.
    const post = (extra: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${hub.url}/mcp`, { method: 'POST', headers: { ...headers, ...extra } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(initialize));
      });
    expect(await post({ host: 'evil.example.com' })).toBe(403);
    expect(await post({ origin: 'https://evil.example.com' })).toBe(403);
    expect(await post({ host: `localhost:${hub.port}`, origin: 'http://localhost:3000' })).toBe(200);
  });

  it('answers an unknown session id with 404 so the client starts over', async () => {
    const res = await fetch(`${hub.url}/mcp`, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': 'no-such-session' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
  });

  it('answers malformed JSON with 400', async () => {
    const res = await fetch(`${hub.url}/mcp`, { method: 'POST', headers, body: '{"jsonrpc": "2.0", ' });
    expect(res.status).toBe(400);
  });

  it('reports /readyz 503 until the catalog is first built', async () => {
    const slowHub = await startHub(
      makeConfig({ mute: fixtureEntry('mute', ['--hang-on-start']) }, { gateway: { connectTimeoutMs: 2_500 } }),
      { log: silentLogger() },
    );
    try {
      expect((await fetch(`${slowHub.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${slowHub.url}/readyz`)).status).toBe(503);
      await slowHub.ready;
      expect((await fetch(`${slowHub.url}/readyz`)).status).toBe(200);
    } finally {
      await slowHub.close();
    }
  });

  it('passes large results through untouched', async () => {
    const agent = await connectAgent(hub.url);
    const result = await agent.callTool({ name: 'alpha__big', arguments: { kb: 256 } });
    expect(textOf(result)).toHaveLength(256 * 1024);
    expect(result._meta?.[ERROR_META_KEY]).toBeUndefined();
  });

  it('refuses oversize tool arguments from a stdio agent as a tool error, without calling the upstream', async () => {
    const dir = tempDir();
    const file = join(dir, 'sidecar.json');
    writeFileSync(
      file,
      JSON.stringify({
        gateway: { maxRequestBytes: 10_000 },
        store: { path: join(dir, 'db.sqlite') },
        log: { level: 'warn' },
        servers: { alpha: fixtureEntry('alpha') },
      }),
    );
    const agent = new Client({ name: 'stdio-agent', version: '1.0.0' });
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
      async () => (await agent.listTools()).tools.some((t) => t.name === 'alpha__echo'),
      20_000,
      'alpha to connect',
    );
    const result = await agent.callTool({ name: 'alpha__echo', arguments: { text: 'z'.repeat(20_000) } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/arguments for "alpha__echo" are \d+ bytes; the limit is 10000/);
    expect(result._meta?.[ERROR_META_KEY]).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', retryable: false });
    const stats = (await agent.callTool({ name: 'alpha__stats', arguments: {} })).structuredContent as {
      calls: number;
    };
    expect(stats.calls).toBe(0);
  });
});
