/**
 * Hardening of the admin API and the HTTP edge (issue 10): `${VAR}` never expanded in `/v1` bodies and
 * config-expanded values never shown, `disabled: true` honoured for runtime registrations, tokens
 * compared in constant time, a `__proto__` key is not "invalid JSON", an object cursor is
 * invalid-params, and a non-JSON content type is 415 on /mcp and /v1 alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub } from '../src/compose.js';
import { createLogger } from '../src/telemetry/logger.js';
import { buildConfig } from '../src/config/load.js';
import { bearerMatches } from '../src/http/admin.js';
import { paginate } from '../src/mcp/paginate.js';
import { ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Hub } from '../src/compose.js';
import { FIXTURE, ROOT, cleanup, fixtureEntry, startHttpFixture, startTestHub, tempDir, waitFor } from './helpers.js';

afterAll(cleanup);

const SECRET = `sb-secret-${process.pid}-c0ffee`;
const TOKEN = 'an-admin-token-of-some-length';
const auth = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json', ...auth };
const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

let hub: Hub;
let secretPort: string;
beforeAll(async () => {
  const http = await startHttpFixture('remote');
  onExit(() => http.kill());
  secretPort = String(http.port);
  const dir = tempDir();
  const counter = join(dir, `${SECRET}.count`);
  const config = buildConfig(
    {
      gateway: { connectTimeoutMs: 15_000, healthIntervalMs: 1_000, callTimeoutMs: 20_000, drainTimeoutMs: 2_000 },
      http: { port: 0, adminToken: TOKEN },
      routing: { model: 'none', modelsDir: join(ROOT, 'models') },
      store: { path: join(dir, 'switchboard.db') },
      log: { level: 'silent' },
      servers: {
        alpha: { ...fixtureEntry('alpha', ['--counter-file', '${SB_COUNTER}']) },
        remote: { url: 'http://127.0.0.1:${SB_PORT}/mcp', headers: { 'X-Trace': 'trace ${SB_SECRET}' } },
      },
    },
    { env: { SB_COUNTER: counter, SB_PORT: secretPort, SB_SECRET: SECRET } },
  );
  hub = await startTestHub(config);
});

function onExit(fn: () => unknown): void {
  afterAll(fn);
}

async function servers(): Promise<{ name: string; state: string; source: string }[]> {
  const res = await fetch(`${hub.url}/v1/servers`, { headers: auth });
  return ((await res.json()) as { servers: { name: string; state: string; source: string }[] }).servers;
}

describe('defect 5: the gateway environment stays in the gateway', () => {
  it('GET /v1/servers shows "***" for every value expanded from the environment (args, url, headers)', async () => {
    const res = await fetch(`${hub.url}/v1/servers`, { headers: auth });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(`127.0.0.1:${secretPort}`);
    expect(text).toContain('http://127.0.0.1:***/mcp');
    expect(text).toContain('trace ***');
  });

  it('a registration with ${HOME} is refused with a clear 400, and the value never appears', async () => {
    const res = await fetch(`${hub.url}/v1/servers`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'leak', url: 'http://127.0.0.1:1/mcp', headers: { 'X-Home': '${HOME}' } }),
    });
    const body = await res.text();
    expect(res.status).toBe(400);
    expect(body).toMatch(/headers\.X-Home: \\?"\$\{HOME\}\\?" is not expanded in a registration through the admin API/);
    expect(body).not.toContain(process.env.HOME ?? '/nonexistent-home');
    expect((await servers()).some((s) => s.name === 'leak')).toBe(false);
  });
});

describe('defect 9: disabled: true through /v1', () => {
  it('is persisted and listed as disabled, never connected, and can be removed', async () => {
    const res = await fetch(`${hub.url}/v1/servers`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'off', ...fixtureEntry('off'), disabled: true }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { server: { state: string } }).server.state).toBe('disabled');
    expect((await servers()).find((s) => s.name === 'off')).toMatchObject({ state: 'disabled', source: 'runtime' });
    expect(hub.gateway.catalog.tools.some((t) => t.server === 'off')).toBe(false);
    expect(hub.gateway.listServers().some((s) => s.name === 'off')).toBe(false);
    const again = await fetch(`${hub.url}/v1/servers`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'off', ...fixtureEntry('off') }),
    });
    expect(again.status).toBe(409);
    const removed = await fetch(`${hub.url}/v1/servers/off`, { method: 'DELETE', headers: auth });
    expect(removed.status).toBe(200);
    expect((await servers()).some((s) => s.name === 'off')).toBe(false);
  });

  it('refuses unknown keys in a registration with a "did you mean"', async () => {
    const res = await fetch(`${hub.url}/v1/servers`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'typo', ...fixtureEntry('typo'), timeoutMS: 5 }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/unknown key \\"timeoutMS\\"; did you mean \\"timeoutMs\\"/);
  });
});

describe('defect 10: small ones', () => {
  it('compares admin tokens by their hashes (any length, constant time)', async () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer short', TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect((await fetch(`${hub.url}/v1/servers`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('a __proto__ key in a JSON body is not invalid JSON, on /mcp and /v1, and pollutes nothing', async () => {
    const call = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"proto","version":"1"},"__proto__":{"polluted":true}}}`;
    const mcp = await fetch(`${hub.url}/mcp`, { method: 'POST', headers: mcpHeaders, body: call });
    expect(mcp.status).toBe(200);
    const register = await fetch(`${hub.url}/v1/servers`, {
      method: 'POST',
      headers: json,
      body: `{"name":"proto","url":"http://127.0.0.1:1/mcp","__proto__":{"command":"sh"}}`,
    });
    expect(register.status).toBe(201);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).command).toBeUndefined();
    await fetch(`${hub.url}/v1/servers/proto`, { method: 'DELETE', headers: auth });
  });

  it('an object as a list cursor is invalid params (-32602), not a TypeError (internal error)', () => {
    expect(() => paginate([1, 2], 1, { evil: 1 })).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.InvalidParams }) as Error,
    );
    expect(() => paginate([1, 2], 1, 'x'.repeat(10_000))).toThrow(/invalid cursor "x{100}…"/);
    expect(paginate([1, 2], 1, undefined).items).toEqual([1, 2]);
  });

  it('an object cursor or a numeric tool name over the wire is -32602, with the problem named', async () => {
    const { connectAgent } = await import('./helpers.js');
    const client = await connectAgent(hub.url);
    const cursor = await client
      .request({ method: 'tools/list', params: { cursor: { evil: 1 } as unknown as string } })
      .then(
        () => undefined,
        (error: { code?: number; message?: string }) => error,
      );
    expect(cursor?.code).toBe(ProtocolErrorCode.InvalidParams);
    expect(cursor?.message).toMatch(/cursor/);
    const name = await client.callTool({ name: 42 as unknown as string }).then(
      () => undefined,
      (error: { code?: number }) => error,
    );
    expect(name?.code).toBe(ProtocolErrorCode.InvalidParams);
  });

  it.each([
    ['/mcp', 'text/plain'],
    ['/mcp', 'application/xml'],
    ['/v1/servers', 'text/plain'],
    ['/v1/servers', 'application/xml'],
  ])('POST %s with content-type %s is 415', async (path, type) => {
    const res = await fetch(`${hub.url}${path}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': type, accept: 'application/json, text/event-stream' },
      body: '{"name":"x","url":"http://127.0.0.1:1/mcp"}',
    });
    expect(res.status).toBe(415);
    const body = (await res.json()) as { error: { code: unknown } };
    expect(body.error.code).toEqual(path === '/mcp' ? -32000 : 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('defect 10: garbage on an upstream stdout', () => {
  it('is logged, a few lines a minute with a count of the rest, and the server still works', async () => {
    const dir = tempDir();
    const script = join(dir, 'noisy.mjs');
    const tsxApi = join(ROOT, 'node_modules/tsx/dist/esm/api/index.mjs');
    writeFileSync(
      script,
      [
        `import { register } from ${JSON.stringify(tsxApi)};`,
        `for (let i = 0; i < 200; i++) process.stdout.write('garbage line ' + i + '\\n');`,
        'register();',
        `await import(${JSON.stringify(FIXTURE)});`,
        '',
      ].join('\n'),
    );
    const lines: { msg: string; line?: string }[] = [];
    const log = createLogger({
      level: 'warn',
      destination: { write: (chunk: string) => void lines.push(JSON.parse(chunk) as { msg: string }) },
    });
    const config = buildConfig({
      http: { port: 0 },
      routing: { model: 'none' },
      store: { path: join(dir, 'db.sqlite') },
      servers: { noisy: { command: process.execPath, args: [script, '--name', 'noisy'] } },
    });
    const noisy = await startHub(config, { log });
    onExit(() => noisy.close());
    await noisy.ready;
    expect(noisy.gateway.listServers()[0]?.state).toBe('ready');
    const logged = lines.filter((l) => /not JSON-RPC on stdout/.test(l.msg));
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.length).toBeLessThanOrEqual(5);
    expect(logged[0]?.line).toBe('garbage line 0');
  });
});

it("a server's stderr lines are logged with expanded secrets hidden", async () => {
  const dir = tempDir();
  const script = join(dir, 'talkative.mjs');
  writeFileSync(script, "console.error('my token is ' + process.env.TOKEN); setInterval(() => {}, 1000);\n");
  const lines: string[] = [];
  const log = createLogger({ level: 'info', destination: { write: (chunk: string) => void lines.push(chunk) } });
  const config = buildConfig(
    {
      http: { port: 0 },
      gateway: { connectTimeoutMs: 1_000, startupWaitMs: 1_500 },
      routing: { model: 'none' },
      store: { path: join(dir, 'db.sqlite') },
      servers: { talkative: { command: process.execPath, args: [script], env: { TOKEN: '${SB_SECRET}' } } },
    },
    { env: { SB_SECRET: SECRET } },
  );
  const talkative = await startHub(config, { log });
  onExit(() => talkative.close());
  await waitFor(() => lines.some((l) => l.includes('my token is')), 10_000, 'the stderr line');
  const said = lines.filter((l) => l.includes('my token is'));
  expect(said.join('\n')).toContain('my token is ***');
  expect(lines.join('\n')).not.toContain(SECRET);
});

it('the configured servers are still served (sanity)', async () => {
  await waitFor(async () => (await servers()).filter((s) => s.state === 'ready').length === 2, 20_000, 'both ready');
});
