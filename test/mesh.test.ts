/**
 * Servers as callers (the mesh), end to end: real hubs on loopback, real fixture servers that call
 * other servers' tools through the gateway from inside their own tools (test/fixtures/mesh-server.ts),
 * real SDK clients.
 *
 * - A stdio server gets the hub's URL and its own key in its environment, an HTTP server on every
 *   request's headers; its calls are its own principal (agent = the server's name, the scopes of its
 *   `mesh` entry), even on a loopback hub with auth `none` where agents are anonymous.
 * - Two servers calling each other for ever end at gateway.maxHops with a clear error.
 * - A sidecar has no URL to hand out: the server runs without a credential, and a warning says so.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshKeys } from '../src/auth/mesh-keys.js';
import { buildConfig } from '../src/config/load.js';
import type { Hub } from '../src/compose.js';
import { HOPS_META_KEY } from '../src/mcp/pipeline/stages/hops.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  makeConfig,
  onCleanup,
  postMcp,
  ROOT,
  startSidecarProcess,
  startTestHub,
  tempDir,
  textOf,
} from './helpers.js';

const MESH_SERVER = join(ROOT, 'test/fixtures/mesh-server.ts');
const LOOP_ERROR =
  'call chain too deep: 3 hops (gateway.maxHops = 3); a server is probably calling itself through the gateway';

/** A stdio entry running the mesh fixture, with its `mesh` request when given. */
function meshEntry(name: string, mesh?: Record<string, unknown>) {
  return {
    command: process.execPath,
    args: ['--import', 'tsx', MESH_SERVER, '--name', name],
    ...(mesh ? { mesh } : {}),
  };
}

/** A tool call's result, or the thrown error's message (the SDK throws for JSON-RPC errors). */
async function attempt(
  agent: Client,
  name: string,
  args: Record<string, unknown>,
  meta?: Record<string, unknown>,
): Promise<{ text: string; isError: boolean }> {
  try {
    const result = await agent.callTool({ name, arguments: args, ...(meta ? { _meta: meta } : {}) });
    return { text: textOf(result), isError: result.isError === true };
  } catch (error) {
    return { text: (error as Error).message, isError: true };
  }
}

/** An `Authorization: Bearer` POST of `initialize` to /mcp; resolves to the status and body. */
async function initializeWith(url: string, token: string): Promise<{ status: number; body: string }> {
  const res = await postMcp(url, { authorization: `Bearer ${token}` });
  return { status: res.status, body: await res.text() };
}

afterAll(cleanup);

describe('MeshKeys', () => {
  it('verifies a key as the server principal, in memory, and refuses a wrong secret like an unknown id', () => {
    const keys = new MeshKeys();
    const grant = keys.issue({ server: 'relay', scopes: ['servers:pub', 'servers:pub'], groups: ['mesh'] });
    expect(grant.token).toMatch(/^sbm_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(grant.expiresAt).toBeNull();
    expect(keys.verify(grant.token)).toEqual({
      tenant: 'default',
      agent: 'relay',
      groups: ['mesh'],
      scopes: ['servers:pub'],
      source: 'mesh',
      subject: 'relay',
    });
    const wrongSecret = `${grant.token.slice(0, -1)}${grant.token.endsWith('A') ? 'B' : 'A'}`;
    const unknownId = `sbm_000000000000_${grant.token.slice(-43)}`;
    for (const bad of [wrongSecret, unknownId, 'sbm_nope', `${grant.token}x`, 'x'.repeat(500)])
      expect(() => keys.verify(bad)).toThrow(/^mesh key is not valid$/);
  });

  it('revokes one key, or every key of a server, at once', () => {
    const keys = new MeshKeys();
    const a = keys.issue({ server: 'a', scopes: ['*'] });
    const b1 = keys.issue({ server: 'b', scopes: ['*'] });
    const b2 = keys.issue({ server: 'b', scopes: ['*'] });
    expect(keys.revoke(a.id)).toBe(true);
    expect(keys.revoke(a.id)).toBe(false);
    expect(() => keys.verify(a.token)).toThrow(/mesh key is not valid/);
    expect(keys.verify(b1.token).agent).toBe('b');
    expect(keys.revokeServer('b')).toBe(2);
    expect(() => keys.verify(b2.token)).toThrow(/mesh key is not valid/);
    expect(keys.size).toBe(0);
  });

  it('expires a key after its TTL (told only to the holder of the secret) and refuses a key without scopes', () => {
    let now = 1_000;
    const keys = new MeshKeys({ clock: () => now, ttlMs: 60_000 });
    const grant = keys.issue({ server: 'relay', scopes: ['servers:pub'] });
    expect(grant.expiresAt).toBe(61_000);
    now = 60_999;
    expect(keys.verify(grant.token).agent).toBe('relay');
    now = 61_000;
    expect(() => keys.verify(grant.token)).toThrow(/^mesh key expired$/);
    expect(() => keys.verify(grant.token)).toThrow(/^mesh key is not valid$/); // gone once expired
    expect(() => keys.issue({ server: 'relay', scopes: [] })).toThrow(/at least one scope/);
  });
});

describe('config', () => {
  const base = (entry: Record<string, unknown>, gateway: Record<string, unknown> = {}) =>
    buildConfig({ gateway, servers: { relay: { command: 'node', ...entry } } });

  it('carries mesh into the server spec and defaults gateway.maxHops to 8', () => {
    const config = base({ mesh: { scopes: ['servers:pub', 'servers:pub'] } });
    expect(config.servers[0]?.mesh).toEqual({ scopes: ['servers:pub'], groups: [] });
    expect(config.gateway.maxHops).toBe(8);
    expect(base({}).servers[0]?.mesh).toBeUndefined();
  });

  it('refuses misspelt keys with a did-you-mean, an empty scope list and a hop limit out of range', () => {
    expect(() => base({ mesch: { scopes: ['*'] } })).toThrow(/did you mean "mesh"/);
    expect(() => base({ mesh: { scope: ['*'] } })).toThrow(/did you mean "scopes"/);
    expect(() => base({ mesh: { scopes: [] } })).toThrow(/at least one scope/);
    expect(() => base({}, { maxHops: 0 })).toThrow(/maxHops/);
    expect(() => base({}, { maxHops: 33 })).toThrow(/maxHops/);
  });
});

describe('a loopback hub with auth none: stdio servers calling through the gateway', () => {
  let hub: Hub;
  let agent: Client;

  beforeAll(async () => {
    hub = await startTestHub(
      makeConfig(
        {
          pub: fixtureEntry('pub'),
          vault: fixtureEntry('vault'),
          relay1: meshEntry('relay1', { scopes: ['servers:pub', 'servers:relay2', 'tools:vault__*:list'] }),
          relay2: meshEntry('relay2', { scopes: ['tools:relay1__ping_pong'] }),
        },
        { gateway: { maxHops: 3 } },
      ),
    );
    agent = await connectAgent(hub.url);
    onCleanup(() => agent.close());
  });

  it("a server's tool calls another server's tool through the gateway", async () => {
    expect(await attempt(agent, 'relay1__credential', {})).toEqual({
      text: '{"url":true,"token":true}',
      isError: false,
    });
    expect(await attempt(agent, 'relay1__relay', { tool: 'pub__echo', arguments: { text: 'hi' } })).toEqual({
      text: 'pub: hi',
      isError: false,
    });
  });

  it("the server calls as itself: its mesh scopes apply, not the (anonymous, unrestricted) agent's", async () => {
    // The agent itself may call vault__echo ...
    expect(await attempt(agent, 'vault__echo', { text: 'hi' })).toEqual({ text: 'vault: hi', isError: false });
    // ... relay1 sees it (list-only scope) but may not call it, and is told which scope it lacks ...
    const listOnly = await attempt(agent, 'relay1__relay', { tool: 'vault__echo', arguments: { text: 'hi' } });
    expect(listOnly.isError).toBe(true);
    expect(listOnly.text).toContain('"tools:vault__echo:call"');
    // ... and relay2, scoped to one tool of relay1, does not even see pub.
    const hidden = await attempt(agent, 'relay2__relay', { tool: 'pub__echo', arguments: { text: 'hi' } });
    expect(hidden.isError).toBe(true);
    expect(hidden.text).toContain('unknown tool "pub__echo"');
  });

  it('counts hops in _meta and refuses a call that arrives with gateway.maxHops or more', async () => {
    expect(await attempt(agent, 'relay1__hops', {})).toEqual({ text: '1', isError: false });
    expect(await attempt(agent, 'relay1__hops', {}, { [HOPS_META_KEY]: 2 })).toEqual({ text: '3', isError: false });
    expect(await attempt(agent, 'relay1__hops', {}, { [HOPS_META_KEY]: 3 })).toEqual({
      text: LOOP_ERROR,
      isError: true,
    });
    const bad = await attempt(agent, 'relay1__hops', {}, { [HOPS_META_KEY]: 'one' });
    expect(bad).toEqual({
      text: '_meta["io.switchboard/hops"] must be a non-negative integer (the hop count)',
      isError: true,
    });
  });

  it('call_capability passes the hop count on, by id and in a fan-out, so a loop through it is counted too', async () => {
    const byId = await attempt(agent, 'call_capability', { tool: 'relay1__hops' }, { [HOPS_META_KEY]: 2 });
    expect(byId).toEqual({ text: '3', isError: false });
    const fanned = await agent.callTool({
      name: 'call_capability',
      arguments: { tool: 'relay1__hops', fanout: true },
      _meta: { [HOPS_META_KEY]: 2 },
    });
    // Every branch (relay1__hops and its equivalent relay2__hops) got the count + 1.
    const texts = (fanned.content as { type: string; text?: string }[]).map((c) => c.text);
    expect(texts.filter((t) => t === '3')).toHaveLength(2);
    const tooDeep = await attempt(
      agent,
      'call_capability',
      { tool: 'relay1__hops', fanout: true },
      { [HOPS_META_KEY]: 3 },
    );
    expect(tooDeep).toEqual({ text: LOOP_ERROR, isError: true });
  });

  it('two servers calling each other for ever stop at the hop limit, with the error naming it', async () => {
    const result = await attempt(agent, 'relay1__ping_pong', { peer: 'relay2__ping_pong' });
    expect(result.isError).toBe(true);
    // relay1 (hop 1) -> relay2 (hop 2) -> relay1 (hop 3) -> relay2: refused, 3 hops deep.
    expect(result.text).toBe(`relay1 <- relay2 <- relay1 <- ${LOOP_ERROR}`);
    expect(Number(/too deep: (\d+) hops/.exec(result.text)?.[1])).toBe(3);
  });

  it('a bad mesh key is refused even with auth none; the keys show in no view', async () => {
    const forged = await initializeWith(hub.url, `sbm_000000000000_${'A'.repeat(43)}`);
    expect(forged.status).toBe(401);
    expect(forged.body).toContain('mesh key is not valid');
    // Any other bearer token means nothing under auth none (unchanged).
    expect((await initializeWith(hub.url, 'some-other-token')).status).toBe(200);
    const views = JSON.stringify(hub.gateway.listServers());
    expect(views).toContain('relay1');
    expect(views).not.toContain('sbm_');
    const rest = await (await fetch(`${hub.url}/v1/servers`)).text();
    expect(rest).toContain('relay1');
    expect(rest).not.toContain('sbm_');
  });

  it("removing a server revokes its key at once (the key read from the server's own environment)", async () => {
    const pid = hub.gateway.listServers().find((s) => s.name === 'relay2')?.pid;
    expect(typeof pid).toBe('number');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const token = environ.find((v) => v.startsWith('SWITCHBOARD_TOKEN='))?.slice('SWITCHBOARD_TOKEN='.length) ?? '';
    expect(environ).toContain(`SWITCHBOARD_URL=${hub.url}/mcp`);
    expect(token.startsWith('sbm_')).toBe(true);
    expect((await initializeWith(hub.url, token)).status).toBe(200);
    await hub.gateway.remove('relay2');
    const after = await initializeWith(hub.url, token);
    expect(after.status).toBe(401);
  });
});

/** Starts the mesh fixture over HTTP and waits for its `LISTENING <port>` line. */
async function startHttpMeshServer(name: string): Promise<string> {
  const proc = spawn(process.execPath, ['--import', 'tsx', MESH_SERVER, '--name', name, '--transport', 'http'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onCleanup(() => proc.kill('SIGKILL'));
  const port = await new Promise<number>((resolvePort, reject) => {
    proc.once('exit', (code) => reject(new Error(`mesh server ${name} exited with ${code}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const match = /^LISTENING (\d+)/.exec(line);
      if (match) resolvePort(Number(match[1]));
    });
  });
  return `http://127.0.0.1:${port}/mcp`;
}

describe('a hub with API keys: an HTTP server gets its credential in headers', () => {
  const ADMIN = 'admin-token-0123456789abcdef';
  let hub: Hub;
  let agent: Client;

  beforeAll(async () => {
    const url = await startHttpMeshServer('relayh');
    hub = await startTestHub(
      makeConfig(
        { pub: fixtureEntry('pub'), relayh: { url, mesh: { scopes: ['servers:pub'] } } },
        { http: { adminToken: ADMIN }, auth: { mode: ['apiKey'] } },
      ),
    );
    const res = await fetch(`${hub.url}/v1/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ tenant: 'default', agent: 'front-bot', scopes: ['servers:relayh'] }),
    });
    expect(res.status).toBe(201);
    const { key } = (await res.json()) as { key: string };
    agent = new Client({ name: 'mesh-test', version: '1.0.0' });
    await agent.connect(
      new StreamableHTTPClientTransport(new URL(`${hub.url}/mcp`), { authProvider: { token: async () => key } }),
    );
    onCleanup(() => agent.close());
  });

  it('the HTTP server calls pub with its own key, which the agent itself may not reach', async () => {
    expect(await attempt(agent, 'relayh__credential', {})).toEqual({
      text: '{"url":true,"token":true}',
      isError: false,
    });
    expect(await attempt(agent, 'relayh__relay', { tool: 'pub__echo', arguments: { text: 'hi' } })).toEqual({
      text: 'pub: hi',
      isError: false,
    });
    const direct = await attempt(agent, 'pub__echo', { text: 'hi' });
    expect(direct.isError).toBe(true);
    expect(direct.text).toContain('unknown tool "pub__echo"');
  });

  it('the header carrying the key is hidden in the admin view', async () => {
    const res = await fetch(`${hub.url}/v1/servers`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(body).toContain('relayh');
    expect(body).not.toContain('sbm_');
  });
});

describe('a sidecar', () => {
  it('has no URL to hand out: the server runs without a credential, and a warning names it', async () => {
    const dir = tempDir('switchboard-mesh-sidecar-');
    const file = join(dir, 'switchboard.json');
    writeFileSync(
      file,
      JSON.stringify({
        gateway: { connectTimeoutMs: 15_000, callTimeoutMs: 20_000, drainTimeoutMs: 2_000 },
        routing: { modelsDir: join(ROOT, 'models') },
        store: { path: join(dir, 'switchboard.db') },
        log: { level: 'info' },
        servers: { pub: fixtureEntry('pub'), relay1: meshEntry('relay1', { scopes: ['servers:pub'] }) },
      }),
    );
    const { agent: sidecar, stderr } = await startSidecarProcess(file, 'mesh-sidecar-test');
    expect(await attempt(sidecar, 'relay1__credential', {})).toEqual({
      text: '{"url":false,"token":false}',
      isError: false,
    });
    expect(await attempt(sidecar, 'relay1__relay', { tool: 'pub__echo', arguments: { text: 'hi' } })).toEqual({
      text: 'no gateway credential (SWITCHBOARD_URL / SWITCHBOARD_TOKEN not set)',
      isError: true,
    });
    const warnings = stderr()
      .split('\n')
      .filter((line) => line.includes('mesh is unavailable'));
    expect(warnings).toHaveLength(1);
    expect((JSON.parse(warnings[0] ?? '{}') as { servers?: unknown }).servers).toEqual(['relay1']);
  });
});
