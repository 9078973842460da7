/**
 * The compatibility matrix with real processes: two HTTP replicas of a fixture serve `lookup` at
 * schema v1; they are upgraded one at a time (killed and restarted on the same port with another
 * schema, as a deployment would). A client pinned to v1 keeps working through a breaking upgrade
 * of one replica, also when the other carries an additive change; an unpinned client gets the new
 * version; once no compatible backend is left, the pinned call gets an error naming the pin, the
 * versions available and the breaking changes. Changes and the matrix are read over REST.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { Hub } from '../src/compose.js';
import {
  cleanup,
  connectAgent,
  makeConfig,
  ROOT,
  startHttpFixture,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
  type HttpFixture,
} from './helpers.js';

afterEach(cleanup);

interface Change {
  instance: string;
  tool: string;
  fromVersion: number;
  toVersion: number;
  kind: string;
  changes: { message: string }[];
}
interface MatrixRow {
  tool: string;
  version: number;
  backends: { instance: string; current?: number; verdict: string }[];
}

const get = async <T>(hub: Hub, path: string): Promise<T> => (await (await fetch(`${hub.url}${path}`)).json()) as T;

/** Restarts a replica on its port with another schema of `lookup`. */
async function upgrade(replica: HttpFixture, name: string, schema: string): Promise<HttpFixture> {
  await replica.kill('SIGKILL');
  return startHttpFixture(name, ['--schema', schema], replica.port);
}

async function lookup(agent: Client, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
  const result = await agent.callTool({ name: 'rep__lookup', arguments: args });
  return { text: textOf(result), isError: result.isError === true };
}

describe('schema versions and pins', () => {
  it('pinned traffic survives a breaking upgrade of one replica and fails clearly when no compatible backend is left', async () => {
    let r1 = await startHttpFixture('r1', ['--schema', 'v1']);
    let r2 = await startHttpFixture('r2', ['--schema', 'v1']);
    const hub = await startTestHub(
      makeConfig(
        { rep: { instances: [{ url: r1.url }, { url: r2.url }], circuit: { openMs: 200 } } },
        {
          gateway: { healthIntervalMs: 300, healthTimeoutMs: 500 },
          pins: { agents: { 'pinned-agent': { rep__lookup: 'v1' } } },
        },
      ),
    );
    const pinned = await connectAgent(hub.url, 'legacy', 'pinned-agent');
    const unpinned = await connectAgent(hub.url, 'modern', 'other-agent');
    await waitFor(
      async () => (await lookup(unpinned, { query: 'a' })).text.includes('looked up a'),
      30_000,
      'the first lookup',
    );

    // One breaking upgrade: r1 now takes "q" instead of "query".
    r1 = await upgrade(r1, 'r1', 'v3');
    const breaking = await waitFor(
      async () =>
        (await get<{ changes: Change[] }>(hub, '/v1/compat/changes')).changes.find(
          (c) => c.instance === 'rep#1' && c.kind === 'breaking',
        ),
      30_000,
      'the breaking change to be detected',
    );
    expect(breaking).toMatchObject({ tool: 'lookup', fromVersion: 1, toVersion: 2 });
    expect(breaking.changes.map((c) => c.message).join('; ')).toMatch(/query/);

    // The catalog shows the new schema (rep#1 is the preferred instance); unpinned calls get v3 on r1.
    await waitFor(
      async () =>
        JSON.stringify((await unpinned.listTools()).tools.find((t) => t.name === 'rep__lookup')?.inputSchema).includes(
          '"q"',
        ),
      30_000,
      'the catalog to show v3',
    );
    for (let i = 0; i < 10; i++)
      expect(await lookup(unpinned, { q: `u${i}` })).toEqual({ text: `r1 (v3) looked up u${i}`, isError: false });
    // The pinned client keeps calling with v1 arguments and lands on r2, still on v1.
    for (let i = 0; i < 10; i++)
      expect(await lookup(pinned, { query: `p${i}` })).toEqual({ text: `r2 (v1) looked up p${i}`, isError: false });
    // A per-call pin works the same for any agent.
    const viaMeta = await unpinned.callTool({
      name: 'rep__lookup',
      arguments: { query: 'm' },
      _meta: { 'io.switchboard/pin': 'v1' },
    });
    expect(textOf(viaMeta)).toBe('r2 (v1) looked up m');

    // find_capability asked for v1 still offers the tool (r2 serves v1).
    const findV1 = async () =>
      (
        (
          await pinned.callTool({
            name: 'find_capability',
            arguments: { capability: 'look something up', version: 'v1' },
          })
        ).structuredContent as { matches: { tool: string }[] }
      ).matches.map((m) => m.tool);
    expect(await findV1()).toContain('rep__lookup');

    // An additive upgrade of r2 (a new optional "lang"): still compatible with the v1 pin.
    r2 = await upgrade(r2, 'r2', 'v2');
    await waitFor(
      async () =>
        (await get<{ changes: Change[] }>(hub, '/v1/compat/changes')).changes.find(
          (c) => c.instance === 'rep#2' && c.kind === 'additive',
        ),
      30_000,
      'the additive change',
    );
    await waitFor(
      async () => (await lookup(pinned, { query: 'z' })).text === 'r2 (v2) looked up z',
      30_000,
      'the pinned client on the additive replica',
    );

    const matrix = (await get<{ matrix: MatrixRow[] }>(hub, '/v1/compat/matrix')).matrix.filter(
      (r) => r.tool === 'lookup',
    );
    const cell = (version: number, instance: string) =>
      matrix.find((r) => r.version === version)?.backends.find((b) => b.instance === instance)?.verdict;
    expect(cell(1, 'rep#1')).toBe('breaking');
    expect(cell(1, 'rep#2')).toBe('additive');
    expect(cell(2, 'rep#1')).toBe('compatible');

    // Break r2 as well: nothing serves v1 compatibly any more.
    r2 = await upgrade(r2, 'r2', 'v3');
    await waitFor(
      async () =>
        (await get<{ changes: Change[] }>(hub, '/v1/compat/changes')).changes.find(
          (c) => c.instance === 'rep#2' && c.kind === 'breaking',
        ),
      30_000,
      'the second breaking change',
    );
    const failed = await waitFor(
      async () => {
        const r = await lookup(pinned, { query: 'late' });
        return r.isError ? r : undefined;
      },
      30_000,
      'the pinned call to fail',
    );
    expect(failed.text).toMatch(/pin v1/);
    expect(failed.text).toMatch(/rep#1 serves v2/);
    expect(failed.text).toMatch(/rep#2 serves v2/);
    expect(failed.text).toMatch(/"query"/);
    // The unpinned client is unaffected.
    expect((await lookup(unpinned, { q: 'still' })).isError).toBe(false);
    expect(await findV1()).not.toContain('rep__lookup');

    // The CLI prints the same matrix from the store.
    const file = join(tempDir(), 'config.json');
    writeFileSync(file, JSON.stringify({ store: { path: hub.gateway.config.store.path } }));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'compat', 'matrix', '--config', file],
      { cwd: ROOT },
    );
    expect(stdout).toMatch(/rep \/ lookup @ v1 \| rep#1 v2: breaking, rep#2 v2: breaking/);
    expect(stdout).toMatch(/rep \/ lookup @ v2 \| rep#1 v2: compatible, rep#2 v2: compatible/);
  });

  it("an unknown pin is the caller's mistake, with the versions that exist", async () => {
    const r1 = await startHttpFixture('r1', ['--schema', 'v1']);
    const hub = await startTestHub(makeConfig({ rep: { url: r1.url } }));
    const agent = await connectAgent(hub.url);
    await waitFor(
      async () => (await lookup(agent, { query: 'a' })).text.includes('looked up a'),
      30_000,
      'the first lookup',
    );
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: { tool: 'rep__lookup', arguments: { query: 'b' }, version: 'v7' },
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/version "v7" .* known versions: v1/);

    // Pins follow a config reload.
    hub.reload(makeConfig({ rep: { url: r1.url } }, { pins: { global: { rep__lookup: 'v9' } } }));
    expect((await lookup(agent, { query: 'c' })).text).toMatch(/version "v9"/);
    hub.reload(makeConfig({ rep: { url: r1.url } }));
    expect(await lookup(agent, { query: 'd' })).toEqual({ text: 'r1 (v1) looked up d', isError: false });
  });
});
