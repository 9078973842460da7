/**
 * find_capability and call_capability end to end: real fixture servers serving a small catalog,
 * a real hub, agents of both eras; exposure modes, the REST twin, and learning from use.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, connectAgent, fixtureEntry, makeConfig, ROOT, startTestHub, textOf, waitFor } from './helpers.js';
import type { Hub } from '../src/compose.js';

const CATALOG = join(ROOT, 'test/fixtures/catalog.json');
const servers = Object.fromEntries(
  ['tracker', 'chat', 'search-one', 'search-two', 'weather'].map((name) => [
    name,
    fixtureEntry(name, ['--catalog', CATALOG]),
  ]),
);

interface Found {
  decisionId: string;
  confident: boolean;
  catalogVersion: number;
  matches: {
    tool: string;
    server: string;
    reasons: string[];
    alternatives: { tool: string; server: string }[];
    inputSchema?: unknown;
  }[];
}

afterAll(cleanup);

describe('capability routing', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub(makeConfig(servers, { routing: { learning: true } }));
    await waitFor(
      async () => ((await (await fetch(`${hub.url}/v1/catalog`)).json()) as { tools: unknown[] }).tools.length === 11,
      30_000,
      'the catalog',
    );
  });

  it.each(['legacy', 'modern'] as const)('a %s agent finds the right tool for a paraphrased need', async (era) => {
    const agent = await connectAgent(hub.url, era);
    const listed = (await agent.listTools()).tools.map((t) => t.name);
    expect(listed).toEqual(expect.arrayContaining(['find_capability', 'call_capability', 'tracker__create_issue']));
    const result = await agent.callTool({
      name: 'find_capability',
      arguments: { capability: 'please open a bug report about the broken login page', k: 3, include_schema: true },
    });
    const found = result.structuredContent as Found;
    expect(found.matches[0]?.tool).toBe('tracker__create_issue');
    expect(found.matches[0]?.server).toBe('tracker');
    expect(found.matches[0]?.inputSchema).toMatchObject({ properties: { title: { type: 'string' } } });
    expect(found.matches[0]?.reasons.join(' ')).toMatch(/matches/);
    expect(found.decisionId).toMatch(/[0-9a-f-]{36}/);
    expect(textOf(result)).toContain('tracker__create_issue');
  });

  it('groups two web search servers into one capability with both candidates', async () => {
    const agent = await connectAgent(hub.url);
    const found = (
      await agent.callTool({
        name: 'find_capability',
        arguments: { capability: 'search the web for pages about MCP gateways' },
      })
    ).structuredContent as Found;
    const top = found.matches[0];
    expect(top?.tool).toMatch(/^search-(one|two)__web_search$/);
    expect(top?.alternatives.map((a) => a.tool)).toEqual([
      top?.tool === 'search-one__web_search' ? 'search-two__web_search' : 'search-one__web_search',
    ]);
  });

  it('restricts to the given servers', async () => {
    const agent = await connectAgent(hub.url);
    const found = (
      await agent.callTool({
        name: 'find_capability',
        arguments: { capability: 'send a message to the team', servers: ['chat'] },
      })
    ).structuredContent as Found;
    expect(found.matches.length).toBeGreaterThan(0);
    expect(found.matches.every((m) => m.server === 'chat')).toBe(true);
  });

  it('says "no confident match" for a need no tool serves', async () => {
    const agent = await connectAgent(hub.url);
    const result = await agent.callTool({
      name: 'find_capability',
      arguments: { capability: 'book a table for two at an italian restaurant tonight' },
    });
    expect((result.structuredContent as Found).confident).toBe(false);
    expect(textOf(result)).toMatch(/No confident match/);
  });

  it('call_capability calls by id or by need, and answers bad input clearly', async () => {
    const agent = await connectAgent(hub.url);
    const byId = await agent.callTool({
      name: 'call_capability',
      arguments: { tool: 'weather__get_forecast', arguments: { city: 'Oslo', days: 2 } },
    });
    expect(textOf(byId)).toBe('weather/get_forecast {"city":"Oslo","days":2}');
    // get_forecast carries no readOnlyHint, so routing by need runs it only when side effects are allowed.
    const byNeed = await agent.callTool({
      name: 'call_capability',
      arguments: {
        capability: 'weather forecast for Oslo for the next days',
        allowSideEffects: true,
        arguments: { city: 'Oslo' },
      },
    });
    expect(textOf(byNeed)).toMatch(/^weather\/get_forecast/);
    const nothing = await agent.callTool({ name: 'call_capability', arguments: { arguments: {} } });
    expect(nothing.isError).toBe(true);
    expect(textOf(nothing)).toMatch(/needs either "tool"/);
    const badArgs = await agent.callTool({
      name: 'call_capability',
      arguments: { tool: 'weather__get_forecast', arguments: { days: 'two' } },
    });
    expect(badArgs.isError).toBe(true);
    expect(textOf(badArgs)).toMatch(/invalid arguments for tool "weather__get_forecast"/);
  });

  it('serves the REST twin', async () => {
    const res = await fetch(
      `${hub.url}/v1/capabilities/search?q=${encodeURIComponent('react to the message with a thumbs up')}&k=2`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Found;
    expect(body.matches[0]?.tool).toBe('chat__add_reaction');
    expect(body.matches.length).toBeLessThanOrEqual(2);
    expect((await fetch(`${hub.url}/v1/capabilities/search?q=`)).status).toBe(400);
    expect((await fetch(`${hub.url}/v1/capabilities/search?q=x&k=99`)).status).toBe(400);
  });

  it('learns a need from a successful call that followed a decision, and forgets it on request', async () => {
    const agent = await connectAgent(hub.url);
    const need = 'post a message in the ops channel about tonight maintenance';
    const found = (await agent.callTool({ name: 'find_capability', arguments: { capability: need } }))
      .structuredContent as Found;
    const offered = found.matches.map((m) => m.tool);
    expect(offered).toContain('chat__post_message');
    await agent.callTool({
      name: 'call_capability',
      arguments: {
        tool: 'chat__post_message',
        decisionId: found.decisionId,
        arguments: { channel: 'ops', text: 'maintenance at 22:00' },
      },
    });
    const examples = await waitFor(
      async () => {
        const list = (
          (await (await fetch(`${hub.url}/v1/examples?tool=chat__post_message`)).json()) as {
            examples: { id: number; need: string }[];
          }
        ).examples;
        return list.length ? list : undefined;
      },
      5_000,
      'the learned example',
    );
    expect(examples[0]?.need).toBe(need);
    // A call without a decision teaches nothing.
    await agent.callTool({ name: 'chat__list_channels', arguments: {} });
    const examplesOf = async (tool: string) =>
      ((await (await fetch(`${hub.url}/v1/examples?tool=${tool}`)).json()) as { examples: unknown[] }).examples;
    expect(await examplesOf('chat__list_channels')).toHaveLength(0);
    expect(await examplesOf('chat__post_message')).toHaveLength(1);
    const removed = await fetch(`${hub.url}/v1/examples/${examples[0]?.id}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(await examplesOf('chat__post_message')).toHaveLength(0);
    expect((await fetch(`${hub.url}/v1/examples/999999`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('exposure', () => {
  it('discovery lists only the meta-tools, yet catalog tools stay callable by id; full lists only the catalog', async () => {
    const discovery = await startTestHub(
      makeConfig({ weather: servers.weather }, { routing: { exposure: 'discovery' } }),
    );
    const agent = await connectAgent(discovery.url);
    await waitFor(async () => (await fetch(`${discovery.url}/readyz`)).status === 200, 10_000, 'ready');
    // get_call and cancel_call follow call_capability's async calls (tasks are on by default).
    expect((await agent.listTools()).tools.map((t) => t.name).sort()).toEqual([
      'call_capability',
      'cancel_call',
      'find_capability',
      'get_call',
      'report_outcome',
    ]);
    expect(
      textOf(await agent.callTool({ name: 'weather__get_current_conditions', arguments: { city: 'Rome' } })),
    ).toMatch(/^weather\/get_current_conditions/);

    const full = await startTestHub(makeConfig({ weather: servers.weather }, { routing: { exposure: 'full' } }));
    const agent2 = await connectAgent(full.url);
    const names = (await agent2.listTools()).tools.map((t) => t.name);
    expect(names).toContain('weather__get_forecast');
    expect(names).not.toContain('find_capability');
  });
});
