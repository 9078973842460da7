/**
 * The embedded default as a user meets it: the hub runs examples/default.yaml (server-everything,
 * server-memory and server-filesystem from npm, the shipped model), a real MCP client connects over
 * HTTP and asks find_capability for needs in its own words. The needs were written for this test
 * before it was first run, without looking at the tools' descriptions, and were not changed to
 * make it pass. The first issue asked for the right tool first for "most needs" (9 of these 16
 * then); issue 15 asked for three quarters of 54 newer needs. Since issue 15 the default config
 * ships operator examples per tool (examples/default.yaml), written from the tools' own
 * descriptions by someone who had not seen these needs: 15 of 16 and 41 of 54 now.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { loadConfigFile } from '../src/config/load.js';
import type { Hub } from '../src/compose.js';
import { cleanup, connectAgent, ROOT, startTestHub, tempDir } from './helpers.js';

/** [need, acceptable first answers] */
const NEEDS: readonly [string, readonly string[]][] = [
  ['remember that Alice works at Acme as a new person in my knowledge graph', ['memory__create_entities']],
  ['record that Alice manages Bob', ['memory__create_relations']],
  ['add another fact about an existing person I stored', ['memory__add_observations']],
  ['forget everything about a person', ['memory__delete_entities']],
  ['show me everything I have stored in memory', ['memory__read_graph']],
  ['look up stored people by keyword', ['memory__search_nodes', 'memory__open_nodes']],
  [
    'what is inside this folder',
    ['filesystem__list_directory', 'filesystem__list_directory_with_sizes', 'filesystem__directory_tree'],
  ],
  ['get the text of a config file', ['filesystem__read_text_file', 'filesystem__read_file']],
  ['save this text to disk as notes.txt', ['filesystem__write_file']],
  ['rename report.txt to report-final.txt', ['filesystem__move_file']],
  ['make a new folder called drafts', ['filesystem__create_directory']],
  ['find files whose names match *.md', ['filesystem__search_files']],
  [
    'how big is this file and when was it last modified',
    ['filesystem__get_file_info', 'filesystem__list_directory_with_sizes'],
  ],
  ['change one line in an existing file', ['filesystem__edit_file']],
  ['repeat my message back to me', ['everything__echo']],
  ['add 17 and 25 together', ['everything__get-sum']],
];

let hub: Hub;
let agent: Client;

beforeAll(async () => {
  const config = loadConfigFile(join(ROOT, 'examples/default.yaml'), {
    ...process.env,
    SWITCHBOARD_PORT: '0',
    SWITCHBOARD_DB: join(tempDir(), 'switchboard.db'),
  });
  hub = await startTestHub(config);
  agent = await connectAgent(hub.url);
});

afterAll(cleanup);

describe('the embedded default routes needs in plain words', () => {
  it('uses the shipped model (hybrid routing, not lexical only)', () => {
    expect(hub.capabilities?.model).toBe('switchboard-static-v1');
  });

  it('names the right tool first for most of the needs (measured 15 of 16)', async () => {
    const misses: string[] = [];
    for (const [need, right] of NEEDS) {
      const result = await agent.callTool({ name: 'find_capability', arguments: { capability: need, k: 3 } });
      const first = (result.structuredContent as { matches: { tool: string }[] }).matches[0]?.tool ?? '(none)';
      if (!right.includes(first)) misses.push(`${need} -> ${first}`);
    }
    const hits = NEEDS.length - misses.length;
    expect(hits, misses.join('\n')).toBeGreaterThanOrEqual(14);
  });

  // Issue 15: 54 more needs (test/fixtures/default-needs.json), written before the ranking changed
  // and never reworded since; each says whether it only reads. A tool "changes things" unless the
  // server itself annotates it read-only (from tools/list, not from the router's own judgement).
  // The issue asks for three quarters right first (41). Measured: fusion only 20, the reranker 24,
  // with the default's operator examples 41. Without the read-only rule, 4 reading needs got a
  // writing tool confidently (measured).
  it('never answers a reading need confidently with a writing tool, and names the right tool first for the newer needs at the measured level', async () => {
    const needs = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/default-needs.json'), 'utf8')) as {
      need: string;
      right: string[];
      reads: boolean;
    }[];
    expect(needs.length).toBeGreaterThanOrEqual(30);
    expect(needs.filter((n) => n.right.some((t) => t.startsWith('memory__'))).length).toBeGreaterThanOrEqual(10);
    const { tools } = await agent.listTools();
    const readOnly = new Set(tools.filter((t) => t.annotations?.readOnlyHint === true).map((t) => t.name));
    expect(readOnly.size).toBeGreaterThan(5);
    const misses: string[] = [];
    const unsafe: string[] = [];
    for (const { need, right, reads } of needs) {
      const result = await agent.callTool({ name: 'find_capability', arguments: { capability: need, k: 3 } });
      const answer = result.structuredContent as { confident: boolean; matches: { tool: string }[] };
      const first = answer.matches[0]?.tool ?? '(none)';
      if (!right.includes(first)) misses.push(`${need} -> ${first}`);
      if (reads && answer.confident && !readOnly.has(first)) unsafe.push(`${need} -> ${first}`);
    }
    expect(unsafe, unsafe.join('\n')).toEqual([]);
    expect(needs.length - misses.length, misses.join('\n')).toBeGreaterThanOrEqual(Math.ceil((needs.length * 3) / 4));
  });
});
