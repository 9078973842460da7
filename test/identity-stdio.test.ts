/**
 * The sidecar's principal, end to end: the real CLI (`switchboard stdio --config FILE`) as a host starts
 * it, a real SDK client over stdio, two real fixture servers (`pub` and `vault7`).
 *
 * A sidecar has no credential: `auth.stdio` names its owner. Scoped to `servers:pub`, the agent sees pub
 * only: tools/list, find_capability and a call by the hidden name all read as if vault7 did not exist.
 * The same config without `auth.stdio` is the control: there the agent sees everything.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, fixtureEntry, ROOT, startSidecarProcess, tempDir, textOf } from './helpers.js';

const HIDDEN = 'vault7';
const NEED = 'echo the text back prefixed with the server name';

/** Writes a sidecar config (pub and vault7, `auth` when given) and returns its path. */
function writeConfig(auth?: Record<string, unknown>): string {
  const dir = tempDir('switchboard-identity-stdio-');
  const file = join(dir, 'switchboard.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...(auth ? { auth } : {}),
      gateway: { connectTimeoutMs: 15_000, callTimeoutMs: 20_000, drainTimeoutMs: 2_000 },
      routing: { modelsDir: join(ROOT, 'models') },
      store: { path: join(dir, 'switchboard.db') },
      log: { level: 'info' },
      servers: { pub: fixtureEntry('pub'), [HIDDEN]: fixtureEntry(HIDDEN) },
    }),
  );
  return file;
}

/** Starts the sidecar with `file` and connects a real SDK client to it over stdio. */
function startSidecar(file: string): Promise<{ agent: Client; stderr: () => string }> {
  return startSidecarProcess(file, 'stdio-identity-test');
}

/** A call's result, or its error's message (the SDK throws for protocol errors). */
async function attempt(agent: Client, name: string, args: Record<string, unknown>): Promise<unknown> {
  try {
    return await agent.callTool({ name, arguments: args });
  } catch (error) {
    return { error: (error as Error).message };
  }
}

afterAll(cleanup);

describe('a sidecar whose owner (auth.stdio) is scoped to servers:pub', () => {
  let agent: Client;
  let stderr: () => string;
  beforeAll(async () => {
    ({ agent, stderr } = await startSidecar(writeConfig({ stdio: { agent: 'me', scopes: ['servers:pub'] } })));
  });

  it("tools/list shows pub's tools and nothing of vault7", async () => {
    const names = (await agent.listTools()).tools.map((t) => t.name);
    expect(names, stderr()).toEqual(expect.arrayContaining(['pub__echo', 'pub__add', 'find_capability']));
    expect(names.filter((n) => n.includes(HIDDEN))).toEqual([]);
    expect(textOf(await agent.callTool({ name: 'pub__echo', arguments: { text: 'mine' } }))).toBe('pub: mine');
  });

  it('calling vault7__echo reads exactly like calling a tool that does not exist', async () => {
    const hidden = JSON.stringify(await attempt(agent, `${HIDDEN}__echo`, { text: 'x' }));
    expect(hidden).toMatch(/unknown tool/i);
    expect(hidden.replaceAll(HIDDEN, 'nothere')).toBe(
      JSON.stringify(await attempt(agent, 'nothere__echo', { text: 'x' })),
    );
  });

  it('find_capability never names vault7, though vault7 has the best match too', async () => {
    const found = await agent.callTool({
      name: 'find_capability',
      arguments: { capability: NEED, k: 10, include_schema: true },
    });
    expect(textOf(found)).toMatch(/pub__echo/);
    expect(JSON.stringify(found)).not.toContain(HIDDEN);
    const called = await attempt(agent, 'call_capability', { capability: NEED, arguments: { text: 'x' } });
    expect(JSON.stringify(called)).not.toContain(HIDDEN);
  });
});

describe('the control: the same config without auth.stdio', () => {
  it('lists, finds and calls vault7 too', async () => {
    const { agent, stderr } = await startSidecar(writeConfig());
    const names = (await agent.listTools()).tools.map((t) => t.name);
    expect(names, stderr()).toEqual(expect.arrayContaining(['pub__echo', `${HIDDEN}__echo`]));
    const found = await agent.callTool({ name: 'find_capability', arguments: { capability: NEED, k: 10 } });
    // Unrestricted, the answer names vault7 (a tool of its own, and "also offered by" beside pub's echo).
    expect(textOf(found)).toContain(HIDDEN);
    expect(textOf(await agent.callTool({ name: `${HIDDEN}__echo`, arguments: { text: 'x' } }))).toBe(`${HIDDEN}: x`);
  });
});
