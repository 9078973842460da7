/**
 * Resilient routing with real processes: replicas of a fixture server behind one catalog entry,
 * a replica killed mid-run, a slow and a fast replica, a non-idempotent call whose instance dies,
 * a backup tier, fan-out strategies, and cancellation of a fan-out. A real MCP client talks to a
 * real hub; instance health and circuits are read from GET /v1/servers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { Hub } from '../src/compose.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  onCleanup,
  makeConfig,
  startHttpFixture,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
} from './helpers.js';

afterEach(cleanup);

interface InstanceView {
  instance: string;
  state: string;
  health: string;
  pid: number | null;
  circuit: { state: string; opens: number };
}
interface ServerView {
  name: string;
  health: string;
  instances: InstanceView[];
}

async function servers(hub: Hub): Promise<ServerView[]> {
  return ((await (await fetch(`${hub.url}/v1/servers`)).json()) as { servers: ServerView[] }).servers;
}

async function instance(hub: Hub, server: string, id: string): Promise<InstanceView> {
  const view = (await servers(hub)).find((s) => s.name === server)?.instances.find((i) => i.instance === id);
  if (!view) throw new Error(`no instance ${id}`);
  return view;
}

async function toolsOf(agent: Client): Promise<string[]> {
  return (await agent.listTools()).tools.map((t) => t.name);
}

/** Calls `server__echo` and returns which replica answered (or the error text). */
async function echo(agent: Client, server: string): Promise<{ by?: string; error?: string }> {
  const result = await agent.callTool({ name: `${server}__echo`, arguments: { text: 'hi' } });
  if (result.isError) return { error: textOf(result) };
  return { by: (result.structuredContent as { server: string }).server };
}

/** Runs `total` calls with `concurrency` workers; `during(i, results)` runs before call i, with the results so far. */
async function run(
  total: number,
  concurrency: number,
  call: () => Promise<{ by?: string; error?: string }>,
  during: (i: number, results: readonly { by?: string; error?: string }[]) => Promise<void> | void = () => {},
) {
  const results: { by?: string; error?: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        await during(i, results);
        results.push(await call());
      }
    }),
  );
  return results;
}

describe('replicas', () => {
  it('a replica killed mid-run: no read-only call fails, its circuit opens, it is probed and used again', async () => {
    const hub = await startTestHub(
      makeConfig({ rep: { instances: [fixtureEntry('r1'), fixtureEntry('r2')], circuit: { openMs: 300 } } }),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(
      async () => (await servers(hub))[0]?.instances.every((i) => i.state === 'ready'),
      30_000,
      'both replicas',
    );
    expect(await toolsOf(agent)).toContain('rep__echo');
    expect((await toolsOf(agent)).filter((t) => t === 'rep__echo')).toHaveLength(1);

    const victim = await instance(hub, 'rep', 'rep#1');
    let killedAt = 0;
    let killedBefore = 0;
    const results = await run(
      300,
      4,
      () => echo(agent, 'rep'),
      // Killed from call 100 on, once it has answered more than 10 calls: the balancer's split of the first
      // calls depends on both replicas' latencies on a busy machine, and a victim not yet in use proves nothing.
      async (i, sofar) => {
        if (killedAt === 0 && i >= 100 && sofar.filter((r) => r.by === 'r1').length > 10) {
          killedAt = Date.now();
          killedBefore = i;
          process.kill(victim.pid!, 'SIGKILL');
        }
      },
    );
    expect(killedAt).toBeGreaterThan(0);
    expect(killedBefore).toBeLessThan(250); // mid-run: at least 50 calls after the kill
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results.filter((r) => r.by === 'r1').length).toBeGreaterThan(10);

    // The circuit opened (the kill was seen), then the replica came back and is used again.
    const back = await waitFor(
      async () => {
        const view = await instance(hub, 'rep', 'rep#1');
        return view.circuit.opens >= 1 && view.state === 'ready' && view.pid !== victim.pid ? view : undefined;
      },
      20_000,
      'the killed replica to be restarted',
    );
    expect(back.pid).not.toBe(victim.pid);
    const after = await waitFor(
      async () => {
        const r = await run(20, 2, () => echo(agent, 'rep'));
        return r.some((x) => x.by === 'r1') ? r : undefined;
      },
      20_000,
      'calls to reach the restarted replica',
    );
    expect(after.filter((r) => r.error)).toEqual([]);
    expect((await instance(hub, 'rep', 'rep#1')).circuit.state).toBe('closed');
  });

  it('sends most calls to the fast replica when the other is slow', async () => {
    const hub = await startTestHub(
      makeConfig({ rep: { instances: [fixtureEntry('slow', ['--delay-ms', '40']), fixtureEntry('fast')] } }),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(
      async () => (await servers(hub))[0]?.instances.every((i) => i.state === 'ready'),
      30_000,
      'both replicas',
    );
    const results = await run(200, 4, () => echo(agent, 'rep'));
    const fast = results.filter((r) => r.by === 'fast').length;
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(fast / results.length).toBeGreaterThan(0.75);
  });

  it('round-robin spreads calls evenly when configured', async () => {
    const hub = await startTestHub(
      makeConfig({ rep: { balance: 'round-robin', instances: [fixtureEntry('a'), fixtureEntry('b')] } }),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(
      async () => (await servers(hub))[0]?.instances.every((i) => i.state === 'ready'),
      30_000,
      'both replicas',
    );
    const results = await run(40, 1, () => echo(agent, 'rep'));
    expect(results.filter((r) => r.by === 'a')).toHaveLength(20);
    expect(results.filter((r) => r.by === 'b')).toHaveLength(20);
  });

  it('a non-idempotent call whose instance dies mid-call: one clear retryable error, no duplicate upstream', async () => {
    const counter = join(tempDir(), 'charges.log');
    writeFileSync(counter, '');
    const hub = await startTestHub(
      makeConfig({
        pay: {
          instances: [fixtureEntry('p1', ['--counter-file', counter]), fixtureEntry('p2', ['--counter-file', counter])],
        },
      }),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(
      async () => (await servers(hub))[0]?.instances.every((i) => i.state === 'ready'),
      30_000,
      'both replicas',
    );

    const result = await agent.callTool({ name: 'pay__charge', arguments: { amount: 5, die: true } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/not repeated on another instance/);
    expect(textOf(result)).toMatch(/backend problem/);
    const error = (result._meta as Record<string, { code: string; retryable: boolean }>)['io.switchboard/error'];
    expect(error).toMatchObject({ code: 'UPSTREAM_FAILED', retryable: true });
    // Give a duplicate every chance to show up before counting.
    await new Promise((r) => setTimeout(r, 500));
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(1);

    // The surviving instance keeps serving; a normal charge is recorded once.
    const ok = await agent.callTool({ name: 'pay__charge', arguments: { amount: 7 } });
    expect(ok.isError).toBeFalsy();
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('uses the backup tier only while the primary is down', async () => {
    const primary = await startHttpFixture('prim');
    const hub = await startTestHub(
      makeConfig(
        {
          tiered: {
            instances: [{ url: primary.url }, { ...fixtureEntry('back'), tier: 'backup' }],
            circuit: { openMs: 300 },
          },
        },
        { gateway: { healthIntervalMs: 300 } },
      ),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(
      async () => (await servers(hub))[0]?.instances.every((i) => i.state === 'ready'),
      30_000,
      'both instances',
    );

    const before = await run(30, 2, () => echo(agent, 'tiered'));
    expect(before.every((r) => r.by === 'prim')).toBe(true);

    await primary.kill('SIGKILL');
    const during = await run(60, 2, () => echo(agent, 'tiered'));
    expect(during.filter((r) => r.error)).toEqual([]);
    expect(during.slice(10).every((r) => r.by === 'back')).toBe(true);
    expect((await servers(hub))[0]?.instances[0]?.health).toBe('down');

    const restarted = await startHttpFixture('prim', [], primary.port);
    expect(restarted.port).toBe(primary.port);
    await waitFor(
      async () => {
        const r = await run(10, 1, () => echo(agent, 'tiered'));
        return r.every((x) => x.by === 'prim');
      },
      20_000,
      'traffic back on the primary',
    );
  });
});

describe('fan-out', () => {
  async function fanHub(): Promise<{ hub: Hub; agent: Client }> {
    const hub = await startTestHub(
      makeConfig(
        { s1: fixtureEntry('s1'), s2: fixtureEntry('s2'), s3: fixtureEntry('s3', ['--delay-ms', '60000']) },
        {
          virtualTools: {
            search_all: {
              tools: ['s1__search', 's2__search', 's3__search', 'gone__search'],
              strategy: 'merge',
              timeoutMs: 800,
            },
            search_first: { tools: ['s3__search', 's1__search', 's2__search'], strategy: 'first' },
            search_two: { tools: ['s1__search', 's3__search', 's2__search'], strategy: 'quorum', quorum: 2 },
            hang_all: { tools: ['s1__hang', 's2__hang', 's3__hang'] },
          },
        },
      ),
    );
    const agent = await connectAgent(hub.url);
    await waitFor(async () => (await toolsOf(agent)).includes('s3__search'), 30_000, 'the catalog');
    return { hub, agent };
  }

  interface Fanned {
    succeeded: number;
    branches: { tool: string; status: string; errorCode?: string }[];
  }

  it('merge, first and quorum over three servers, one hanging and one missing', async () => {
    const { agent } = await fanHub();
    const tools = (await agent.listTools()).tools;
    const virtual = tools.find((t) => t.name === 'switchboard__search_all');
    expect(virtual?.inputSchema).toMatchObject({ properties: { query: { type: 'string' } } });

    let started = performance.now();
    const merged = await agent.callTool({ name: 'switchboard__search_all', arguments: { query: 'mcp' } });
    const mergeMs = performance.now() - started;
    const m = merged.structuredContent as Fanned;
    expect(merged.isError).toBeFalsy();
    expect(m.succeeded).toBe(2);
    expect(Object.fromEntries(m.branches.map((b) => [b.tool, b.status]))).toEqual({
      s1__search: 'ok',
      s2__search: 'ok',
      s3__search: 'failed',
      gone__search: 'failed',
    });
    expect(m.branches.find((b) => b.tool === 's3__search')?.errorCode).toBe('UPSTREAM_TIMEOUT');
    expect(m.branches.find((b) => b.tool === 'gone__search')?.errorCode).toBe('UNKNOWN_TOOL');
    const text = (merged.content as { text?: string }[]).map((c) => c.text ?? '').join('\n');
    expect(text).toContain('s1 results for mcp');
    expect(text).toContain('s2 results for mcp');
    expect(text).toMatch(/s3__search: failed/);
    expect(mergeMs).toBeLessThan(3_000);

    started = performance.now();
    const first = await agent.callTool({ name: 'switchboard__search_first', arguments: { query: 'x' } });
    expect(performance.now() - started).toBeLessThan(3_000);
    const f = first.structuredContent as Fanned;
    expect(f.succeeded).toBeGreaterThanOrEqual(1);
    expect(f.branches.find((b) => b.tool === 's3__search')?.status).toBe('cancelled');

    const quorum = await agent.callTool({ name: 'switchboard__search_two', arguments: { query: 'x' } });
    const q = quorum.structuredContent as Fanned;
    expect(quorum.isError).toBeFalsy();
    expect(q.succeeded).toBe(2);
    expect(q.branches.find((b) => b.tool === 's3__search')?.status).toBe('cancelled');
  });

  it('cancelling a fan-out call cancels every branch upstream', async () => {
    const { agent } = await fanHub();
    const abort = new AbortController();
    const call = agent.callTool({ name: 'switchboard__hang_all', arguments: {} }, { signal: abort.signal });
    await new Promise((r) => setTimeout(r, 400));
    abort.abort('the agent gave up');
    await expect(call).rejects.toThrow();
    for (const server of ['s1', 's2', 's3']) {
      await waitFor(
        async () => {
          const stats = (await agent.callTool({ name: `${server}__stats`, arguments: {} })).structuredContent as {
            cancelled: number;
          };
          return stats.cancelled >= 1;
        },
        10_000,
        `${server} to see the cancellation`,
      );
    }
  });

  it('call_capability with fanout calls every server offering the capability', async () => {
    const { agent } = await fanHub();
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: { tool: 's1__search', arguments: { query: 'q' }, fanout: true, strategy: 'quorum', quorum: 2 },
    });
    const r = result.structuredContent as Fanned;
    expect(result.isError).toBeFalsy();
    expect(r.branches.map((b) => b.tool).sort()).toEqual(['s1__search', 's2__search', 's3__search']);
    expect(r.succeeded).toBe(2);
  });
});

describe('connection reuse', () => {
  it('an HTTP upstream is served over a few kept-alive connections, not one per call', async () => {
    const upstream = await startHttpFixture('web');
    // A TCP proxy in front of the upstream counts the connections the gateway opens.
    let connections = 0;
    const sockets = new Set<import('node:net').Socket>();
    const proxy = createServer((socket) => {
      connections++;
      sockets.add(socket);
      const target = connect(upstream.port, '127.0.0.1');
      socket.pipe(target).pipe(socket);
      socket.on('error', () => target.destroy());
      target.on('error', () => socket.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    onCleanup(() => {
      for (const socket of sockets) socket.destroy();
      proxy.close();
    });
    const { port } = proxy.address() as { port: number };
    const hub = await startTestHub(makeConfig({ web: { url: `http://127.0.0.1:${port}/mcp` } }));
    const agent = await connectAgent(hub.url);
    await waitFor(async () => (await toolsOf(agent)).includes('web__echo'), 30_000, 'the catalog');
    const before = connections;
    expect(before).toBeGreaterThan(0); // the gateway does go through the proxy
    for (let i = 0; i < 100; i++) expect((await echo(agent, 'web')).by).toBe('web');
    expect(connections - before).toBeLessThanOrEqual(2);
  });
});
