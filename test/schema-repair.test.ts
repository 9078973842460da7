/**
 * Sloppy upstream schemas: a server whose tools/list has tools without `"type": "object"` (or with no
 * schema, or `{}`) keeps every tool that can be served, repaired; only the tools that cannot be
 * served are left out; one warning per server says which. The upstream is a hand-written JSON-RPC
 * server (test/fixtures/sloppy-server.ts), because the SDK's own server would normalise what it sends,
 * and it runs in both protocol eras behind a real hub, called by a real SDK client.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { startHub, type Hub } from '../src/compose.js';
import { createLogger } from '../src/telemetry/logger.js';
import { repairTool, repairToolList } from '../src/upstream/tool-repair.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, onCleanup, ROOT, textOf, waitFor } from './helpers.js';

const SLOPPY = join(ROOT, 'test/fixtures/sloppy-server.ts');
const sloppyEntry = (extra: string[] = []) => ({
  command: process.execPath,
  args: ['--import', 'tsx', SLOPPY, ...extra],
});

afterAll(cleanup);

describe('repairTool', () => {
  it('adds the missing object type, and leaves a valid tool as it is (same object)', () => {
    const good = { name: 'a', inputSchema: { type: 'object', properties: {} } };
    expect(repairTool(good)).toEqual({ tool: good, fixes: [] });
    expect((repairTool(good) as { tool: unknown }).tool).toBe(good);
    expect(repairTool({ name: 'b', inputSchema: { properties: { x: { type: 'string' } } } })).toMatchObject({
      tool: { inputSchema: { type: 'object', properties: { x: { type: 'string' } } } },
      fixes: ['added "type": "object" to inputSchema'],
    });
    expect(repairTool({ name: 'c' })).toMatchObject({ tool: { inputSchema: { type: 'object' } } });
  });

  it('keeps a tool with a bad outputSchema callable, without the outputSchema', () => {
    const out = repairTool({ name: 'd', inputSchema: { type: 'object' }, outputSchema: { type: 'array' } });
    expect(out).toMatchObject({ fixes: [expect.stringMatching(/dropped the outputSchema/)] });
    expect((out as { tool: object }).tool).not.toHaveProperty('outputSchema');
  });

  it('says why a tool cannot be served', () => {
    expect(repairTool({ name: 'e', inputSchema: { type: 'string' } })).toEqual({
      reason: 'inputSchema has type "string"; tool arguments must be an object',
    });
    expect(repairTool({ name: '', inputSchema: { type: 'object' } })).toEqual({ reason: 'the tool has no name' });
    expect(repairTool({ name: 'f', inputSchema: { type: 'object' }, annotations: { readOnlyHint: 'yes' } })).toEqual({
      reason: expect.stringMatching(/^not a valid MCP tool: annotations\.readOnlyHint/),
    });
  });

  it('changes nothing in a list that needs nothing', () => {
    const list = { tools: [{ name: 'a', inputSchema: { type: 'object' } }] };
    const before = list.tools;
    expect(repairToolList(list)).toEqual({ repaired: [], rejected: [] });
    expect(list.tools).toBe(before);
  });
});

describe('a server with sloppy tool schemas, behind a hub', () => {
  let hub: Hub;
  let agent: Client;
  const lines: { level: number; msg: string; server?: string; repaired?: unknown; rejected?: unknown }[] = [];

  beforeAll(async () => {
    const log = createLogger({
      level: 'warn',
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) },
    });
    const config = makeConfig({
      sloppy: sloppyEntry(),
      'sloppy-modern': sloppyEntry(['--modern']),
      neat: fixtureEntry('neat', ['--tools', 'echo']),
    });
    hub = await startHub(config, { log });
    onCleanup(() => hub.close());
    await hub.ready;
    agent = await connectAgent(hub.url);
    await waitFor(async () => (await agent.listTools()).tools.some((t) => t.name === 'sloppy-modern__good'));
  });

  it.each(['sloppy', 'sloppy-modern'])(
    '%s: the servable tools are listed, repaired; the others are left out',
    async (server) => {
      const tools = (await agent.listTools()).tools.filter((t) => t.name.startsWith(`${server}__`));
      expect(tools.map((t) => t.name).sort()).toEqual(
        ['empty_schema', 'good', 'no_schema', 'no_type'].map((n) => `${server}__${n}`),
      );
      for (const tool of tools) expect(tool.inputSchema.type).toBe('object');
      expect(tools.find((t) => t.name === `${server}__no_type`)?.inputSchema).toEqual({
        type: 'object',
        properties: { text: { type: 'string', description: 'What to echo' } },
        required: ['text'],
      });
    },
  );

  it.each(['sloppy', 'sloppy-modern'])('%s: a repaired tool is callable, a left-out one is unknown', async (server) => {
    const echoed = await agent.callTool({ name: `${server}__no_type`, arguments: { text: 'hi' } });
    expect(echoed.isError).toBeFalsy();
    expect(textOf(echoed)).toBe('no_type: {"text":"hi"}');
    // The repaired schema is enforced at the gateway as written by the server: text is required.
    const missing = await agent.callTool({ name: `${server}__no_type`, arguments: {} });
    expect(missing.isError).toBe(true);
    expect(textOf(await agent.callTool({ name: `${server}__no_schema`, arguments: {} }))).toBe('no_schema: {}');
    await expect(agent.callTool({ name: `${server}__string_schema`, arguments: {} })).rejects.toThrow(
      /unknown tool|not found/i,
    );
  });

  it('leaves the other servers alone', async () => {
    expect((await agent.listTools()).tools.map((t) => t.name)).toContain('neat__echo');
  });

  it('logs one warning per sloppy server, naming the repaired and the left-out tools', () => {
    for (const server of ['sloppy', 'sloppy-modern']) {
      const warnings = lines.filter((l) => l.level === 40 && l.server === server && /sloppy tool schemas/.test(l.msg));
      expect(warnings, JSON.stringify(lines.filter((l) => l.server === server))).toHaveLength(1);
      const [warning] = warnings;
      for (const name of ['no_type', 'no_schema', 'empty_schema', 'string_schema', 'array_schema', '#6'])
        expect(warning?.msg).toContain(`"${name}"`);
      expect(warning?.msg).not.toContain('"good"');
      expect(warning?.rejected).toEqual([
        { tool: 'string_schema', reason: 'inputSchema has type "string"; tool arguments must be an object' },
        { tool: 'array_schema', reason: 'inputSchema is an array, not an object' },
        { tool: '#6', reason: 'the tool has no name' },
      ]);
    }
    expect(lines.filter((l) => l.server === 'neat' && /sloppy/.test(l.msg))).toHaveLength(0);
  });
});
