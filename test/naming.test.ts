/**
 * Name conflicts under each prefix mode, with two real fixture servers that both offer `search`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, textOf } from './helpers.js';

const META = new Set(['find_capability', 'call_capability', 'report_outcome', 'get_call', 'cancel_call']);

afterEach(cleanup);

const servers = { a: fixtureEntry('a', ['--tools', 'search,echo']), b: fixtureEntry('b', ['--tools', 'search,add']) };

describe('prefix modes', () => {
  it('always: every tool is prefixed', async () => {
    const hub = await startTestHub(makeConfig(servers, { gateway: { prefix: 'always' } }));
    const agent = await connectAgent(hub.url);
    const names = (await agent.listTools()).tools
      .map((t) => t.name)
      .filter((n) => !META.has(n))
      .sort();
    expect(names).toEqual(['a__echo', 'a__search', 'b__add', 'b__search']);
    expect(textOf(await agent.callTool({ name: 'b__search', arguments: { query: 'q' } }))).toBe('b results for q');
  });

  it('on-conflict: unique names stay bare, the shared one is prefixed per server', async () => {
    const hub = await startTestHub(makeConfig(servers, { gateway: { prefix: 'on-conflict' } }));
    const agent = await connectAgent(hub.url);
    const names = (await agent.listTools()).tools
      .map((t) => t.name)
      .filter((n) => !META.has(n))
      .sort();
    expect(names).toEqual(['a__search', 'add', 'b__search', 'echo']);
    expect(textOf(await agent.callTool({ name: 'a__search', arguments: { query: 'q' } }))).toBe('a results for q');
    expect(textOf(await agent.callTool({ name: 'add', arguments: { a: 1, b: 1 } }))).toBe('2');
  });

  it('never: the conflict is a clear error naming both servers; the first server keeps the name', async () => {
    const hub = await startTestHub(makeConfig(servers, { gateway: { prefix: 'never' } }));
    const agent = await connectAgent(hub.url);
    const names = (await agent.listTools()).tools
      .map((t) => t.name)
      .filter((n) => !META.has(n))
      .sort();
    expect(names).toEqual(['add', 'echo', 'search']);
    expect(textOf(await agent.callTool({ name: 'search', arguments: { query: 'q' } }))).toBe('a results for q');
    const catalog = (await (await fetch(`${hub.url}/v1/catalog`)).json()) as {
      conflicts: { kind: string; message: string; servers: string[] }[];
    };
    const tools = catalog.conflicts.filter((c) => c.kind === 'tool');
    expect(tools).toHaveLength(1);
    expect(tools[0]?.servers).toEqual(['a', 'b']);
    expect(tools[0]?.message).toMatch(/"search" is offered by servers "a" and "b"/);
  });
});
