/**
 * Start-up as a host sees it: agents that connect while upstreams are still starting are answered
 * once every initial server has had its first connection attempt (bounded by
 * `gateway.startupWaitMs`), so their FIRST look at the catalog is complete. Many hosts list tools
 * once and never refresh; a one-shot tools/call right after initialize must find its tool.
 *
 * - The sidecar, as a host starts it: from another working directory, with examples/default.yaml
 *   by absolute path, over a real SDK client (stdio).
 * - A hub, with sessions of both protocol eras opened before /readyz is ready; the embedding model,
 *   which loads while the upstreams start, is used by find_capability.
 * - A server that never comes up is simply absent once startupWaitMs has passed, with one warning.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, describe, expect, it } from 'vitest';
import { startHub } from '../src/compose.js';
import { createLogger, silentLogger } from '../src/telemetry/logger.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  makeConfig,
  onCleanup,
  ROOT,
  tempDir,
  textOf,
  waitFor,
} from './helpers.js';

afterAll(cleanup);

const DEFAULT_CONFIG = join(ROOT, 'examples/default.yaml');
const UPSTREAMS = ['everything__', 'memory__', 'filesystem__'];
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** Starts the sidecar the way a host does: its own working directory, the config by absolute path. */
async function hostStartsSidecar(): Promise<{ client: Client; stderr: () => string }> {
  const cwd = tempDir('switchboard-host-');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', TSX, join(ROOT, 'src/cli.ts'), 'stdio', '--config', DEFAULT_CONFIG],
    cwd,
    env: { SWITCHBOARD_DB: join(cwd, 'switchboard.db') },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'startup-host', version: '1.0.0' });
  onCleanup(() => client.close());
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

describe('sidecar started by a host from another folder', () => {
  it("shows every upstream's tools in its first tools/list", async () => {
    const { client, stderr } = await hostStartsSidecar();
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const prefix of UPSTREAMS)
      expect(
        names.some((n) => n.startsWith(prefix)),
        `${prefix}* missing from the first tools/list: ${names.join(', ')}\n${stderr()}`,
      ).toBe(true);
  });

  it('runs a one-shot tools/call right after initialize', async () => {
    const { client, stderr } = await hostStartsSidecar();
    const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'first thing' } });
    expect(result.isError, stderr()).toBeFalsy();
    expect(textOf(result)).toContain('first thing');
  });
});

describe('hub sessions opened during start-up', () => {
  it('answers both eras once the slow server is in, never holds /healthz, and routes with the model', async () => {
    const hub = await startHub(
      makeConfig(
        { slow: fixtureEntry('slow', ['--start-delay-ms', '3000']) },
        // Only readiness may release these agents here, not the deadline.
        { gateway: { startupWaitMs: 60_000 } },
      ),
      { log: silentLogger() },
    );
    onCleanup(() => hub.close());
    // The precondition: start-up is under way.
    expect(hub.gateway.ready).toBe(false);
    expect((await fetch(`${hub.url}/readyz`)).status).toBe(503);

    const listing = connectAgent(hub.url, 'legacy', 'lists-first').then(async (agent) => ({
      ready: hub.gateway.ready,
      names: (await agent.listTools()).tools.map((t) => t.name),
    }));
    const oneShotLegacy = connectAgent(hub.url, 'legacy', 'calls-first').then((agent) =>
      agent.callTool({ name: 'slow__echo', arguments: { text: 'legacy' } }),
    );
    const oneShotModern = connectAgent(hub.url, 'modern', 'calls-first-2026').then(async (agent) => ({
      protocol: agent.getNegotiatedProtocolVersion(),
      result: await agent.callTool({ name: 'slow__echo', arguments: { text: 'modern' } }),
      names: (await agent.listTools()).tools.map((t) => t.name),
    }));
    // Liveness answers while the agents wait.
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);

    const first = await listing;
    expect(first.ready).toBe(true);
    expect(first.names).toContain('slow__echo');
    expect(textOf(await oneShotLegacy)).toBe('slow: legacy');
    const modern = await oneShotModern;
    expect(modern.protocol).toBe('2026-07-28');
    expect(textOf(modern.result)).toBe('slow: modern');
    expect(modern.names).toContain('slow__echo');

    // The model loaded while the upstream started; find_capability uses it.
    const found = await hub.capabilities.find({ capability: 'say my text back to me' });
    expect(hub.capabilities.model).toBe('switchboard-static-v1');
    expect(found.matches.some((m) => m.reasons.some((r) => r.startsWith('meaning similarity')))).toBe(true);
  });

  it('answers after startupWaitMs without a server that never comes up, and logs it once', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const hub = await startHub(
      makeConfig(
        { alpha: fixtureEntry('alpha'), mute: fixtureEntry('mute', ['--hang-on-start']) },
        // mute's first attempt lasts connectTimeoutMs; agents must not wait for it.
        { gateway: { startupWaitMs: 200, connectTimeoutMs: 10_000 } },
      ),
      { log },
    );
    onCleanup(() => hub.close());
    await waitFor(() => hub.gateway.listServers().find((s) => s.name === 'alpha')?.state === 'ready', 20_000, 'alpha');

    const agent = await connectAgent(hub.url);
    const names = (await agent.listTools()).tools.map((t) => t.name);
    // Answered while mute's first attempt is still running: the wait was bounded.
    expect(hub.gateway.ready).toBe(false);
    expect(names).toContain('alpha__echo');
    expect(names.filter((n) => n.startsWith('mute__'))).toEqual([]);

    const warnings = lines
      .map((line) => JSON.parse(line) as { msg: string; servers?: string[]; startupWaitMs?: number })
      .filter((entry) => entry.msg.startsWith('answering agents without'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.servers).toContain('mute');
    expect(warnings[0]?.startupWaitMs).toBe(200);
    expect(warnings[0]?.msg).toMatch(/not connected within gateway\.startupWaitMs/);
  });
});
