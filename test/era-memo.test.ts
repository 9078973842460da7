/**
 * Upstream protocol eras remembered across restarts (core/era-memo.ts): with `protocol: auto` the
 * first start probes a 2025-era stdio server with server/discover (the SDK starts a probe copy of
 * it), a restart on the same store connects with the remembered verdict and starts it once.
 * A verdict past its horizon, or one that fails to connect, is probed again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ERA_HORIZON_MS } from '../src/core/era-memo.js';
import { openDb } from '../src/store/db.js';
import { SqliteEraMemo } from '../src/store/era-repo.js';
import { cleanup, makeConfig, ROOT, startTestHub, tempDir } from './helpers.js';

afterEach(cleanup);

/** A stdio server (the published server-memory) behind a script that counts its own starts. */
function countingServer(dir: string): { entry: { command: string; args: string[] }; starts: () => number } {
  const counter = join(dir, 'starts');
  writeFileSync(counter, '');
  const script = join(dir, 'counting-memory.mjs');
  writeFileSync(
    script,
    `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(counter)}, 'x');\nprocess.env.MEMORY_FILE_PATH = ${JSON.stringify(join(dir, 'memory.jsonl'))};\nawait import(${JSON.stringify(join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js'))});\n`,
  );
  return { entry: { command: process.execPath, args: [script] }, starts: () => readFileSync(counter, 'utf8').length };
}

async function startAndStop(store: string, entry: { command: string; args: string[] }): Promise<number> {
  const hub = await startTestHub(makeConfig({ memory: entry }, { store, routing: { model: 'none' } }));
  const tools = hub.gateway.catalog.tools.length;
  await hub.close();
  return tools;
}

describe('remembered protocol eras', () => {
  it('a restart on the same store starts a 2025-era stdio server once, without the discover probe', async () => {
    const dir = tempDir();
    const store = join(dir, 'sb.db');
    const server = countingServer(dir);
    expect(await startAndStop(store, server.entry)).toBeGreaterThan(0);
    const first = server.starts();
    expect(first).toBeGreaterThanOrEqual(2); // the probe copy, then the real connection
    expect(await startAndStop(store, server.entry)).toBeGreaterThan(0);
    expect(server.starts() - first).toBe(1);
  });

  it('a verdict past its horizon is probed again', async () => {
    const dir = tempDir();
    const store = join(dir, 'sb.db');
    const server = countingServer(dir);
    await startAndStop(store, server.entry);
    const db = openDb(store);
    db.prepare('UPDATE upstream_eras SET stored_at = ?').run(Date.now() - ERA_HORIZON_MS - 1_000);
    db.close();
    const before = server.starts();
    await startAndStop(store, server.entry);
    expect(server.starts() - before).toBeGreaterThanOrEqual(2);
  });

  it('stores one verdict per way of starting a server, and forgets on request', () => {
    const db = openDb(':memory:');
    const memo = new SqliteEraMemo(db);
    memo.set('a', { kind: 'legacy' });
    expect(memo.get('a')?.verdict).toEqual({ kind: 'legacy' });
    memo.delete('a');
    expect(memo.get('a')).toBeUndefined();
    db.close();
  });
});
