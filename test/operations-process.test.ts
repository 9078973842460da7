/**
 * Audit and limits across real processes: `switchboard serve` as a child process. SIGTERM loses no
 * audit event; SIGKILL loses at most one batch (the bound the writer states); and a real Redis shared
 * by two gateway processes holds one rate limit across both, follows each rule's fail mode when Redis
 * is killed mid-run (closed: refused with a clear error; open: let through), and applies again when
 * Redis is back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteAuditRepo } from '../src/store/audit-repo.js';
import { openDb } from '../src/store/db.js';
import { ERROR_META_KEY } from '../src/mcp/tool-errors.js';
import { startRedis } from './fixtures/redis.js';
import { cleanup, connectAgent, fixtureEntry, freePort, onCleanup, ROOT, tempDir, textOf, waitFor } from './helpers.js';

afterAll(cleanup);

interface HubProcess {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
}

/** Writes a config file (JSON is YAML) with the fixture server `alpha` and starts `serve` on it. */
async function startHubProcess(dir: string, name: string, extra: Record<string, unknown>): Promise<HubProcess> {
  const port = await freePort();
  const config = join(dir, `${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      log: { level: 'warn' },
      store: { path: join(dir, `${name}.db`), ...((extra.store as object | undefined) ?? {}) },
      routing: { model: 'none' },
      servers: { alpha: fixtureEntry('alpha') },
      ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'store')),
    }),
  );
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', config, '--port', String(port)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => proc.once('exit', (code) => resolveExit(code)));
  onCleanup(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/readyz`)).status === 200,
    30_000,
    `hub ${name} ready (stderr: ${stderr.slice(-500)})`,
  );
  return { url, proc, exited };
}

async function echo(client: Client, text: string) {
  return client.callTool({ name: 'alpha__echo', arguments: { text } });
}

function errorOf(result: { _meta?: Record<string, unknown> }): { code?: string; retryAfterMs?: number } | undefined {
  return result._meta?.[ERROR_META_KEY] as { code?: string; retryAfterMs?: number } | undefined;
}

/** The tools/call events in a store file, and whether its chain verifies. */
function callEvents(dir: string, name: string): { calls: number; ok: boolean } {
  const db = openDb(join(dir, `${name}.db`));
  try {
    const calls = (
      db.prepare("SELECT count(*) AS n FROM audit_events WHERE method = 'tools/call'").get() as { n: number }
    ).n;
    return { calls, ok: new SqliteAuditRepo(db).verify().ok };
  } finally {
    db.close();
  }
}

describe('the audit trail of a real hub process', () => {
  it('SIGTERM loses nothing: every call of a batch window that never came is written at shutdown', async () => {
    const dir = tempDir();
    // A window far longer than the test: nothing is written before the signal.
    const hub = await startHubProcess(dir, 'term', { audit: { batchMs: 600_000, batchSize: 100_000 } });
    const client = await connectAgent(hub.url, 'legacy', 'term-test');
    for (let i = 0; i < 300; i++) expect(textOf(await echo(client, `t${i}`))).toBe(`alpha: t${i}`);
    expect(callEvents(dir, 'term').calls).toBe(0);
    hub.proc.kill('SIGTERM');
    await hub.exited;
    expect(callEvents(dir, 'term')).toEqual({ calls: 300, ok: true });
  });

  it('SIGKILL loses at most one batch (batchSize events here), and what was written verifies', async () => {
    const dir = tempDir();
    const batchSize = 50;
    const hub = await startHubProcess(dir, 'kill', { audit: { batchMs: 600_000, batchSize } });
    const client = await connectAgent(hub.url, 'legacy', 'kill-test');
    const made = 120;
    for (let i = 0; i < made; i++) await echo(client, `k${i}`);
    // Full batches are written as they fill (off the call's path): wait until the second one is in.
    await waitFor(() => callEvents(dir, 'kill').calls >= 100, 10_000, 'two full batches written');
    hub.proc.kill('SIGKILL');
    await hub.exited;
    const { calls, ok } = callEvents(dir, 'kill');
    expect(ok).toBe(true);
    expect(made - calls).toBeGreaterThan(0); // the open window was lost (120 is not a multiple of 50)
    expect(made - calls).toBeLessThanOrEqual(batchSize);
  });
});

describe('rate limits shared through a real Redis by two gateway processes', () => {
  it('hold one limit across both, follow each rule fail mode when Redis dies, and apply again when it is back', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const limits = {
      rules: [
        // One bucket for both processes: 6 echoes a minute, refused while Redis is unreachable.
        {
          name: 'shared-echo',
          per: 'global',
          match: { tool: 'alpha__echo' },
          points: 6,
          intervalMs: 60_000,
          failMode: 'closed',
        },
        // Generous, and let through while Redis is unreachable.
        {
          name: 'shared-add',
          per: 'global',
          match: { tool: 'alpha__add' },
          points: 1_000,
          intervalMs: 60_000,
          failMode: 'open',
        },
      ],
    };
    const hubs = await Promise.all(
      ['one', 'two'].map((name) => startHubProcess(dir, name, { limits, store: { redis: redis.url } })),
    );
    const clients = await Promise.all(hubs.map((h, i) => connectAgent(h.url, 'legacy', `replica-${i}`)));
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await echo(clients[i % 2]!, `r${i}`));
    const passed = results.filter((r) => r.isError !== true);
    expect(passed).toHaveLength(6);
    const refused = results.filter((r) => r.isError === true).map(errorOf);
    expect(refused.every((e) => e?.code === 'RATE_LIMITED' && (e.retryAfterMs ?? 0) > 0)).toBe(true);
    expect(textOf(results.find((r) => r.isError === true)!)).toMatch(/shared-echo/);

    await redis.kill();
    for (const client of clients) {
      const closed = await echo(client, 'while redis is down');
      expect(errorOf(closed)?.code).toBe('LIMITS_UNAVAILABLE');
      const open = await client.callTool({ name: 'alpha__add', arguments: { a: 2, b: 3 } });
      expect(open.isError).not.toBe(true);
    }

    // Redis is back (empty: it keeps nothing on disk): the limit counts again, from zero.
    await redis.start();
    const again = await waitFor(
      async () => {
        const result = await echo(clients[0]!, 'redis is back');
        return result.isError === true ? undefined : result;
      },
      15_000,
      'the limit store reconnected',
    );
    expect(textOf(again)).toBe('alpha: redis is back');
    let passedAgain = 1;
    for (let i = 0; i < 10; i++) if ((await echo(clients[i % 2]!, `b${i}`)).isError !== true) passedAgain++;
    expect(passedAgain).toBe(6);
  });
});
