/**
 * Rate limits and quotas through a real hub: bursts against per-user, per-tool and global limits pass
 * exactly the allowed number, the rest get RATE_LIMITED with a usable `retryAfterMs` (after waiting
 * it, the call succeeds; on /v1 a 429 with Retry-After); a concurrency limit on a slow server refuses what its queue cannot take; a
 * tenant's daily call quota refuses once spent, and still does after a restart on the same store.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import { ERROR_META_KEY } from '../src/mcp/tool-errors.js';
import { SqliteAuditRepo } from '../src/store/audit-repo.js';
import { openDb } from '../src/store/db.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, tempDir, textOf } from './helpers.js';

afterAll(cleanup);

type Result = Awaited<ReturnType<Client['callTool']>>;
const errorOf = (r: Result) => r._meta?.[ERROR_META_KEY] as { code?: string; retryAfterMs?: number } | undefined;
const asUser = (user: string) => ({ 'io.switchboard/user': user });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rate limits through the hub', () => {
  let hub: Hub;
  let client: Client;

  it('per user: exactly the allowed number passes, each user has its own bucket, and retryAfterMs is usable', async () => {
    hub = await startTestHub(
      makeConfig(
        { alpha: fixtureEntry('alpha') },
        {
          limits: {
            rules: [
              { name: 'per-user-echo', per: 'user', match: { tool: 'alpha__echo' }, points: 3, intervalMs: 2_000 },
              { name: 'per-tool-add', per: 'tool', match: { tool: 'alpha__add' }, points: 4, intervalMs: 60_000 },
              { name: 'find-global', on: 'find', per: 'global', points: 2, intervalMs: 60_000 },
            ],
          },
        },
      ),
    );
    client = await connectAgent(hub.url, 'legacy', 'limits-test');
    const burst = (user: string, n: number) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.callTool({ name: 'alpha__echo', arguments: { text: `${user}${i}` }, _meta: asUser(user) }),
        ),
      );
    const ada = await burst('ada', 5);
    expect(ada.filter((r) => r.isError !== true)).toHaveLength(3);
    const refused = ada.filter((r) => r.isError === true);
    expect(refused.map((r) => errorOf(r)?.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    expect(textOf(refused[0]!)).toMatch(/per-user-echo/);
    expect(textOf(refused[0]!)).toMatch(/ada/);
    // Another user is not held back by ada's burst.
    expect((await burst('bob', 3)).every((r) => r.isError !== true)).toBe(true);
    // After the wait it names, ada's call goes through (timers may fire a little early: wait a bit more).
    const wait = Math.max(...refused.map((r) => errorOf(r)?.retryAfterMs ?? 0));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(2_000);
    await sleep(wait + 50);
    const after = await client.callTool({ name: 'alpha__echo', arguments: { text: 'again' }, _meta: asUser('ada') });
    expect(textOf(after)).toBe('alpha: again');
  });

  it('per tool (across agents) and a global limit on find_capability', async () => {
    const other = await connectAgent(hub.url, 'legacy', 'limits-test-2');
    const adds = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? client : other).callTool({ name: 'alpha__add', arguments: { a: i, b: 1 } }),
      ),
    );
    expect(adds.filter((r) => r.isError !== true)).toHaveLength(4);
    expect(adds.filter((r) => errorOf(r)?.code === 'RATE_LIMITED')).toHaveLength(2);
    const finds = [];
    for (let i = 0; i < 3; i++)
      finds.push(await client.callTool({ name: 'find_capability', arguments: { capability: 'add two numbers' } }));
    expect(finds.map((r) => errorOf(r)?.code)).toEqual([undefined, undefined, 'RATE_LIMITED']);
    // The REST twin of find_capability spends the same bucket: 429 with Retry-After (whole seconds).
    const rest = await fetch(`${hub.url}/v1/capabilities/search?q=add+two+numbers`);
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    // Other tools have no rule: untouched.
    expect((await client.callTool({ name: 'alpha__search', arguments: { query: 'x' } })).isError).not.toBe(true);
  });
});

describe('concurrency limits per upstream', () => {
  it('a slow server takes maxInFlight calls plus its queue; the rest are refused at once as busy', async () => {
    const hub = await startTestHub(
      makeConfig({
        slowpoke: { ...fixtureEntry('slowpoke'), concurrency: { maxInFlight: 2, maxQueue: 1, queueTimeoutMs: 30_000 } },
      }),
    );
    const client = await connectAgent(hub.url, 'legacy', 'busy-test');
    const calls = await Promise.all(
      Array.from({ length: 5 }, () => client.callTool({ name: 'slowpoke__slow', arguments: { ms: 400 } })),
    );
    expect(calls.filter((r) => r.isError !== true)).toHaveLength(3);
    const busy = calls.filter((r) => r.isError === true);
    expect(busy.map((r) => errorOf(r)?.code)).toEqual(['UPSTREAM_BUSY', 'UPSTREAM_BUSY']);
    expect(textOf(busy[0]!)).toMatch(/slowpoke/);
  });
});

describe('tenant quotas', () => {
  it('refuse once the daily calls are spent, and still after a restart on the same store', async () => {
    const store = `${tempDir()}/switchboard.db`;
    const config = makeConfig(
      { alpha: fixtureEntry('alpha') },
      { store, quotas: [{ tenant: '*', period: 'day', calls: 5 }], audit: { batchMs: 20 } },
    );
    const first = await startTestHub(config);
    const client = await connectAgent(first.url, 'legacy', 'quota-test');
    const results: Result[] = [];
    for (let i = 0; i < 7; i++)
      results.push(await client.callTool({ name: 'alpha__echo', arguments: { text: `q${i}` } }));
    expect(results.filter((r) => r.isError !== true)).toHaveLength(5);
    const spent = results.slice(5);
    expect(spent.map((r) => errorOf(r)?.code)).toEqual(['QUOTA_EXCEEDED', 'QUOTA_EXCEEDED']);
    expect(textOf(spent[0]!)).toMatch(/5/);
    expect(errorOf(spent[0]!)?.retryAfterMs).toBeGreaterThan(0);
    first.reload(config); // a config reload is an admin change in the trail
    await client.close();
    await first.close();
    const db = openDb(store);
    const reloads = new SqliteAuditRepo(db).query({ method: 'admin' }, { limit: 10 }).events;
    db.close();
    expect(reloads.map((e) => [e.agent, e.detail?.action])).toEqual([['switchboard', 'config.reload']]);

    const second = await startTestHub(config);
    const again = await connectAgent(second.url, 'legacy', 'quota-test');
    const refused = await again.callTool({ name: 'alpha__echo', arguments: { text: 'after restart' } });
    expect(errorOf(refused)?.code).toBe('QUOTA_EXCEEDED');
  });
});
