/**
 * Federation end to end: three real upstreams at once (the published server-everything over
 * stdio, a fixture over stdio, a fixture over Streamable HTTP) behind one hub, reached by agents of
 * both protocol eras over real loopback HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  cleanup,
  connectAgent,
  everythingEntry,
  fixtureEntry,
  makeConfig,
  startHttpFixture,
  startTestHub,
  textOf,
  type Era,
} from './helpers.js';
import type { Hub } from '../src/compose.js';

let hub: Hub;
const agents: Partial<Record<Era, Client>> = {};

beforeAll(async () => {
  const web = await startHttpFixture('web');
  hub = await startTestHub(
    makeConfig({ everything: everythingEntry(), alpha: fixtureEntry('alpha'), web: { url: web.url } }),
  );
  agents.legacy = await connectAgent(hub.url, 'legacy');
  agents.modern = await connectAgent(hub.url, 'modern');
});
afterAll(cleanup);

describe.each(['legacy', 'modern'] as const)('a %s-era agent', (era) => {
  it('negotiated its era with the gateway', () => {
    const agent = agents[era]!;
    expect(agent.getProtocolEra()).toBe(era);
    expect(agent.getNegotiatedProtocolVersion()).toBe(era === 'legacy' ? '2025-11-25' : '2026-07-28');
  });

  it('sees the merged, namespaced catalog with definitions passed through', async () => {
    const { tools } = await agents[era]!.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'everything__echo',
        'everything__trigger-long-running-operation',
        'alpha__echo',
        'alpha__slow',
        'web__echo',
        'web__add',
      ]),
    );
    // Beside the catalog, the default exposure ("both") lists the meta-tools (get_call and cancel_call
    // follow call_capability's async calls).
    expect(names.filter((n) => !/^(everything|alpha|web)__/.test(n)).sort()).toEqual([
      'call_capability',
      'cancel_call',
      'find_capability',
      'get_call',
      'report_outcome',
    ]);
    const longRunning = tools.find((t) => t.name === 'everything__trigger-long-running-operation');
    expect(longRunning?.title).toBe('Trigger Long Running Operation Tool');
    expect(longRunning?.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    expect(longRunning?.inputSchema.properties).toHaveProperty('duration');
    const echo = tools.find((t) => t.name === 'alpha__echo');
    expect(echo?.outputSchema).toBeDefined();
  });

  it('routes a call to each upstream', async () => {
    const agent = agents[era]!;
    const everything = await agent.callTool({ name: 'everything__echo', arguments: { message: `hi-${era}` } });
    expect(textOf(everything)).toContain(`hi-${era}`);
    const alpha = await agent.callTool({ name: 'alpha__echo', arguments: { text: 'a' } });
    expect(textOf(alpha)).toBe('alpha: a');
    expect(alpha.structuredContent).toEqual({ server: 'alpha', text: 'a' });
    const web = await agent.callTool({ name: 'web__add', arguments: { a: 2, b: 3 } });
    expect(textOf(web)).toBe('5');
  });

  it('passes an upstream isError result through unchanged', async () => {
    const result = await agents[era]!.callTool({ name: 'alpha__fail', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('deliberate failure');
  });

  it('answers an unknown tool with a clear error and a suggestion', async () => {
    await expect(agents[era]!.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(
      /unknown tool "echo"; did you mean/,
    );
  });

  it('answers bad arguments with a tool error the model can fix, without calling the upstream', async () => {
    const agent = agents[era]!;
    const before = (await agent.callTool({ name: 'alpha__stats', arguments: {} })).structuredContent as {
      calls: number;
    };
    const result = await agent.callTool({ name: 'alpha__add', arguments: { a: 'two', b: 3 } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/invalid arguments for tool "alpha__add"/);
    const after = (await agent.callTool({ name: 'alpha__stats', arguments: {} })).structuredContent as {
      calls: number;
    };
    // stats is not counted, so an unchanged count means add never ran upstream; the message names the
    // exposed tool id, which only the gateway knows.
    expect(after.calls).toBe(before.calls);
  });

  it('federates prompts and resources', async () => {
    const agent = agents[era]!;
    const { prompts } = await agent.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(expect.arrayContaining(['alpha__greet', 'web__greet']));
    const prompt = await agent.getPrompt({ name: 'web__greet', arguments: { name: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Hello Ada from web');
    const { resources } = await agent.listResources();
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(['fixture://alpha/info', 'fixture://web/info']));
    const read = await agent.readResource({ uri: 'fixture://web/info' });
    expect(JSON.stringify(read.contents)).toContain('info of web');
  });
});
