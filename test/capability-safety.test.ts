/**
 * Safety of routing by capability. call_capability given only a capability lets the gateway choose
 * the tool, so it must never run one that may change things (not annotated read-only, or annotated
 * destructive) unless the caller passes allowSideEffects: true; when it runs one, the answer says
 * which and why. The scenario is reproduced with the embedded default's servers (the
 * published server-everything, server-memory and server-filesystem, described as in
 * examples/default.yaml) behind a real hub, the filesystem server serving a temp sandbox.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Client } from '@modelcontextprotocol/client';
import type { Hub } from '../src/compose.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, ROOT, startTestHub, tempDir, textOf } from './helpers.js';

const ROUTED = 'io.switchboard/routed';
const ERROR = 'io.switchboard/error';
/** The need: find_capability answered filesystem__write_file with confidence 0.91 for it. */
const NEED = 'what files are in the sandbox folder';
/**
 * A need that does ask for a change (since issue 15 a need that only reads never gets a writing
 * tool as a confident match, so the side-effect refusal is exercised with one that writes).
 */
const CHANGE_NEED = 'save some text to a file called notes.txt in the sandbox folder';

interface Routed {
  tool: string;
  server: string;
  confidence: number;
  reasons: string[];
  decisionId: string;
}
interface Found {
  decisionId: string;
  confident: boolean;
  matches: { tool: string; server: string; reasons: string[] }[];
}

/** The embedded default's servers with absolute paths and a temp sandbox and memory file. */
function defaultServers(sandbox: string): Record<string, unknown> {
  const file = parse(readFileSync(join(ROOT, 'examples/default.yaml'), 'utf8')) as {
    servers: Record<string, { description: string; args: string[] }>;
  };
  const { everything, memory, filesystem } = file.servers;
  const script = (pkg: string) => join(ROOT, `node_modules/@modelcontextprotocol/${pkg}/dist/index.js`);
  return {
    everything: {
      description: everything?.description,
      command: process.execPath,
      args: [script('server-everything'), 'stdio'],
    },
    memory: {
      description: memory?.description,
      command: process.execPath,
      args: [script('server-memory')],
      env: { MEMORY_FILE_PATH: join(sandbox, '..', 'memory.jsonl') },
    },
    filesystem: {
      description: filesystem?.description,
      command: process.execPath,
      args: [script('server-filesystem'), sandbox],
    },
  };
}

afterAll(cleanup);

describe('call_capability with the embedded default servers', () => {
  let hub: Hub;
  let agent: Client;
  let sandbox: string;
  const annotations = new Map<string, { readOnlyHint?: boolean; destructiveHint?: boolean } | undefined>();
  const readOnly = (tool: string) =>
    annotations.get(tool)?.readOnlyHint === true && !annotations.get(tool)?.destructiveHint;

  beforeAll(async () => {
    sandbox = join(tempDir(), 'sandbox');
    (await import('node:fs')).mkdirSync(sandbox);
    hub = await startTestHub(makeConfig(defaultServers(sandbox), { gateway: { prefix: 'always' } }));
    agent = await connectAgent(hub.url);
    for (const tool of (await agent.listTools()).tools) annotations.set(tool.name, tool.annotations);
    expect(annotations.has('filesystem__write_file')).toBe(true);
  });

  it('tells agents about find_capability in its instructions', () => {
    expect(agent.getInstructions()).toMatch(/find_capability/);
  });

  it('never runs a tool that may change things for a capability unless asked, and says which and why', async () => {
    const found = (await agent.callTool({ name: 'find_capability', arguments: { capability: CHANGE_NEED, k: 3 } }))
      .structuredContent as Found;
    const top = found.matches[0]?.tool ?? '';
    const notes = join(sandbox, 'notes.txt');
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: { capability: CHANGE_NEED, arguments: { path: notes, content: 'written by the router' } },
    });
    expect(existsSync(notes)).toBe(false);
    if (readOnly(top)) {
      // A better ranking may pick a read-only tool; then it runs and says so.
      expect((result._meta?.[ROUTED] as Routed).tool).toBe(top);
      return;
    }
    // The top match of a need that writes is a tool that writes (filesystem__write_file).
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(
      new RegExp(`^${top} may change things: it is (not annotated read-only|annotated destructive)`),
    );
    expect(text).toContain('pass allowSideEffects: true to run it, or call it by id');
    for (const m of found.matches) expect(text).toContain(m.tool);
    const details = (
      result._meta?.[ERROR] as { details: { tool: string; matches: { tool: string; readOnly: boolean }[] } }
    ).details;
    expect(details.tool).toBe(top);
    expect(details.matches.map((m) => m.tool)).toEqual(found.matches.map((m) => m.tool));
    expect(details.matches.map((m) => m.readOnly)).toEqual(found.matches.map((m) => readOnly(m.tool)));
  });

  it('runs it with allowSideEffects: true, keeping the upstream content and naming the tool chosen', async () => {
    const notes = join(sandbox, 'opted-in.txt');
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: {
        capability: CHANGE_NEED,
        allowSideEffects: true,
        arguments: { path: notes, content: 'opted in' },
      },
    });
    const routed = result._meta?.[ROUTED] as Routed;
    expect(routed).toMatchObject({ server: 'filesystem', decisionId: expect.stringMatching(/[0-9a-f-]{36}/) });
    expect(routed.confidence).toBeGreaterThan(0);
    expect(routed.reasons.length).toBeGreaterThan(0);
    const content = result.content as { type: string; text: string }[];
    expect(content.at(-1)?.text).toContain(`call_capability ran ${routed.tool} (server filesystem`);
    if (routed.tool === 'filesystem__write_file') {
      expect(readFileSync(notes, 'utf8')).toBe('opted in');
      expect(content[0]?.text).toMatch(/Successfully wrote/);
    }
  });

  it('never calls a writing tool a confident match for a need that only reads (the issue case), so nothing runs', async () => {
    const found = (await agent.callTool({ name: 'find_capability', arguments: { capability: NEED, k: 3 } }))
      .structuredContent as Found & { confident: boolean };
    const top = found.matches[0]?.tool ?? '';
    const notes = join(sandbox, 'read-need.txt');
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: { capability: NEED, allowSideEffects: true, arguments: { path: notes, content: 'must not' } },
    });
    expect(existsSync(notes)).toBe(false);
    if (readOnly(top) && found.confident) {
      expect((result._meta?.[ROUTED] as Routed).tool).toBe(top);
      return;
    }
    expect(found.confident).toBe(false);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^no confident match for "what files are in the sandbox folder"; closest: /);
  });

  it('runs a read-only match without opt-in, and needs no arguments for a tool without required ones', async () => {
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: { capability: 'list the directories I am allowed to access' },
    });
    const routed = result._meta?.[ROUTED] as Routed | undefined;
    expect(routed, textOf(result)).toBeDefined();
    expect(readOnly(routed!.tool)).toBe(true);
    if (routed!.tool === 'filesystem__list_allowed_directories') expect(textOf(result)).toContain(sandbox);
  });

  it('keeps explicit tool ids working as before: the caller chose', async () => {
    const notes = join(sandbox, 'by-id.txt');
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: { tool: 'filesystem__write_file', arguments: { path: notes, content: 'by id' } },
    });
    expect(result.isError).toBeFalsy();
    expect(result._meta?.[ROUTED]).toBeUndefined();
    expect(readFileSync(notes, 'utf8')).toBe('by id');
  });

  it('quotes the need as written in reasons, not its stems', async () => {
    const found = (await agent.callTool({ name: 'find_capability', arguments: { capability: NEED, k: 5 } }))
      .structuredContent as Found;
    const reasons = found.matches.flatMap((m) => m.reasons).join(' | ');
    expect(reasons).toContain('"files"');
    expect(reasons).not.toMatch(/"file"/);
  });
});

describe('call_capability over tools without annotations', () => {
  let agent: Client;
  beforeAll(async () => {
    const catalog = join(ROOT, 'test/fixtures/catalog.json');
    const hub = await startTestHub(
      makeConfig({
        weather: fixtureEntry('weather', ['--catalog', catalog]),
        calc: fixtureEntry('calc', ['--tools', 'add,stats']),
      }),
    );
    agent = await connectAgent(hub.url);
  });

  it('refuses an unannotated match and runs it when asked', async () => {
    const need = 'weather forecast for Oslo for the next days';
    const refused = await agent.callTool({
      name: 'call_capability',
      arguments: { capability: need, arguments: { city: 'Oslo' } },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/^weather__get_forecast may change things: it is not annotated read-only;/);
    const ran = await agent.callTool({
      name: 'call_capability',
      arguments: { capability: need, allowSideEffects: true, arguments: { city: 'Oslo' } },
    });
    expect(textOf(ran)).toBe('weather/get_forecast {"city":"Oslo"}');
    expect((ran._meta?.[ROUTED] as Routed).tool).toBe('weather__get_forecast');
  });

  it('runs a read-only match without opt-in and keeps its structured content', async () => {
    const result = await agent.callTool({
      name: 'call_capability',
      arguments: { capability: 'add two numbers', arguments: { a: 17, b: 25 } },
    });
    expect(textOf(result)).toBe('42');
    expect(result._meta?.[ROUTED]).toMatchObject({ tool: 'calc__add', server: 'calc' });
  });
});

describe('instructions without the meta-tools', () => {
  it('do not mention find_capability when only the catalog is exposed', async () => {
    const hub = await startTestHub(
      makeConfig({ calc: fixtureEntry('calc', ['--tools', 'add']) }, { routing: { exposure: 'full' } }),
    );
    const agent = await connectAgent(hub.url);
    expect(agent.getInstructions()).not.toMatch(/find_capability/);
  });
});
