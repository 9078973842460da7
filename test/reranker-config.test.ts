/**
 * routing.reranker as an operator meets it: the shipped model is used by default; "none" routes in
 * fusion order with the plain confidence; a file that is missing or broken gives one warning that
 * names the path and the hub still answers find_capability (fusion order), never a failed start.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHub } from '../src/compose.js';
import { createLogger } from '../src/telemetry/logger.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, onCleanup, ROOT, tempDir } from './helpers.js';

afterAll(cleanup);

async function hubWith(routing: Record<string, unknown>) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'info',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const config = makeConfig({ calc: fixtureEntry('calc', ['--tools', 'add,stats']) }, { routing });
  const hub = await startHub(config, { log });
  onCleanup(() => hub.close());
  await hub.ready;
  const agent = await connectAgent(hub.url);
  const find = async (need: string) =>
    (await agent.callTool({ name: 'find_capability', arguments: { capability: need, k: 3 } })).structuredContent as {
      confident: boolean;
      matches: { tool: string; reasons: string[] }[];
    };
  const warnings = () => lines.filter((l) => typeof l.msg === 'string' && /reranker/.test(l.msg));
  return { find, warnings };
}

describe('routing.reranker', () => {
  it('uses the shipped model by default, silently', async () => {
    const { find, warnings } = await hubWith({ model: 'none' });
    expect((await find('add two numbers')).matches[0]?.tool).toBe('calc__add');
    // Fitted with switchboard-static-v1 and used lexical-only here: no "other embedding model" warning.
    expect(warnings()).toEqual([]);
  });

  it('"none" routes in fusion order without a warning', async () => {
    const { find, warnings } = await hubWith({ model: 'none', reranker: 'none' });
    expect((await find('add two numbers')).matches[0]?.tool).toBe('calc__add');
    expect(warnings()).toEqual([]);
  });

  it('a missing or broken model file warns once with its path and the hub still routes', async () => {
    const dir = join(tempDir(), 'models');
    mkdirSync(dir);
    // The embedding model is there (linked), the reranker file is broken.
    symlinkSync(join(ROOT, 'models/switchboard-static-v1'), join(dir, 'switchboard-static-v1'));
    writeFileSync(join(dir, 'broken.json'), '{"version": 1}');
    const broken = await hubWith({ modelsDir: dir, reranker: 'broken' });
    expect((await broken.find('add two numbers')).matches[0]?.tool).toBe('calc__add');
    expect(broken.warnings()).toHaveLength(1);
    expect(String(broken.warnings()[0]?.msg)).toContain(join(dir, 'broken.json'));
    const missing = await hubWith({ modelsDir: dir });
    expect((await missing.find('add two numbers')).matches[0]?.tool).toBe('calc__add');
    expect(String(missing.warnings()[0]?.msg)).toContain(join(dir, 'switchboard-rerank-v1.json'));
  });
});
