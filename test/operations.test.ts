/**
 * Audit trail and usage end to end: one hub on loopback with API-key auth and two tenants, 10,000
 * mixed requests through real SDK clients (successes, upstream isError results, invalid arguments,
 * unknown tools, policy-less scope denials, find_capability, prompts), then the real SQLite file:
 * every request has exactly one event, the chain verifies and an edited row is found, a tenant's
 * admin never reads the other's rows over /v1/audit, the metered usage equals the audit for the same
 * window, and the /v1/usage report's cost matches a hand computation from the price table.
 */
import Database from 'better-sqlite3';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsHash } from '../src/audit/redact.js';
import type { Hub } from '../src/compose.js';
import type { StoredAuditEvent } from '../src/core/audit-event.js';
import { SqliteAuditRepo } from '../src/store/audit-repo.js';
import { openDb } from '../src/store/db.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, tempDir, textOf } from './helpers.js';

const ADMIN = 'admin-token-0123456789abcdef';
const TENANTS = ['acme', 'globex'] as const;
type TenantName = (typeof TENANTS)[number];
const SERVER: Record<TenantName, string> = { acme: 'alpha', globex: 'beta' };
const PER_TENANT = 5_000;
const PRICES = {
  default: { perCall: 0.001 },
  tools: { alpha__echo: { perCall: 0.01, perMb: 2 }, beta__echo: { perCall: 0.02 } },
};

let hub: Hub;
let store: string;
const agentKeys = {} as Record<TenantName, string>;
const adminKeys = {} as Record<TenantName, string>;
/** What was sent: per tenant, the method of each request, and every echo text. */
const sent = { requests: {} as Record<TenantName, Record<string, number>>, echoes: [] as string[] };

async function admin(path: string, init: { method?: string; body?: unknown; key?: string } = {}) {
  const res = await fetch(`${hub.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${init.key ?? ADMIN}`,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Every event of a /v1/audit query, page by page. */
async function allEvents(query: string, key: string): Promise<StoredAuditEvent[]> {
  const events: StoredAuditEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await admin(`/v1/audit?limit=1000&${query}${cursor ? `&cursor=${cursor}` : ''}`, { key });
    expect(page.status).toBe(200);
    events.push(...(page.body.events as StoredAuditEvent[]));
    cursor = page.body.nextCursor as string | undefined;
    if (!cursor) return events;
  }
}

/** One request of the mix; returns its method (the audit's). */
async function request(client: Client, tenant: TenantName, i: number): Promise<string> {
  const server = SERVER[tenant];
  switch (i % 20) {
    case 0:
      await client.callTool({ name: 'find_capability', arguments: { capability: 'echo a text back' } });
      return 'find_capability';
    case 1: {
      const result = await client.callTool({ name: `${server}__echo`, arguments: { text: 42 } });
      expect(result.isError).toBe(true);
      return 'tools/call';
    }
    case 2:
      await expect(client.callTool({ name: `${server}__nope`, arguments: {} })).rejects.toThrow();
      return 'tools/call';
    case 3:
      await client.getPrompt({ name: `${server}__greet`, arguments: { name: 'Ada' } });
      return 'prompts/get';
    case 4: {
      const result = await client.callTool({ name: `${server}__fail`, arguments: {} });
      expect(result.isError).toBe(true);
      return 'tools/call';
    }
    default: {
      const text = `${tenant}-${i}`;
      sent.echoes.push(text);
      expect(textOf(await client.callTool({ name: `${server}__echo`, arguments: { text } }))).toBe(
        `${server}: ${text}`,
      );
      return 'tools/call';
    }
  }
}

beforeAll(async () => {
  store = `${tempDir()}/switchboard.db`;
  hub = await startTestHub(
    makeConfig(
      {},
      {
        store,
        http: { adminToken: ADMIN },
        auth: { mode: 'apiKey' },
        audit: { batchMs: 50 },
        usage: { currency: 'EUR', prices: PRICES },
        tenants: {
          acme: { servers: { alpha: fixtureEntry('alpha') } },
          globex: { servers: { beta: fixtureEntry('beta') } },
        },
      },
    ),
  );
  for (const tenant of TENANTS) {
    const agent = await admin('/v1/keys', { method: 'POST', body: { tenant, agent: `${tenant}-bot`, scopes: ['*'] } });
    const owner = await admin('/v1/keys', {
      method: 'POST',
      body: { tenant, agent: `${tenant}-admin`, scopes: ['admin'] },
    });
    expect([agent.status, owner.status]).toEqual([201, 201]);
    agentKeys[tenant] = agent.body.key as string;
    adminKeys[tenant] = owner.body.key as string;
  }
  // Two clients per tenant, 16 requests in flight per client.
  await Promise.all(
    TENANTS.map(async (tenant) => {
      const counts: Record<string, number> = {};
      sent.requests[tenant] = counts;
      const clients = await Promise.all(
        [0, 1].map(() => connectAgent(hub.url, 'legacy', `${tenant}-bot`, agentKeys[tenant])),
      );
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async (_, lane) => {
          for (let i = next++; i < PER_TENANT; i = next++) {
            const method = await request(clients[lane % 2]!, tenant, i);
            counts[method] = (counts[method] ?? 0) + 1;
          }
        }),
      );
    }),
  );
}, 240_000);
afterAll(cleanup);

describe('the audit trail of 10,000 mixed requests from two tenants', () => {
  it('has exactly one event per request, each echo once by its argument hash', async () => {
    const acme = await allEvents('method=tools/call&tenant=acme', ADMIN);
    const everything = [
      ...(await allEvents('tenant=acme', ADMIN)),
      ...(await allEvents('tenant=globex', ADMIN)),
    ].filter((e) => e.method !== 'admin');
    expect(everything).toHaveLength(2 * PER_TENANT);
    for (const tenant of TENANTS) {
      const counts: Record<string, number> = {};
      for (const e of everything.filter((e) => e.tenant === tenant)) counts[e.method] = (counts[e.method] ?? 0) + 1;
      expect(counts).toEqual(sent.requests[tenant]);
    }
    const hashes = new Map<string, number>();
    for (const e of everything) if (e.argsHash) hashes.set(e.argsHash, (hashes.get(e.argsHash) ?? 0) + 1);
    for (const text of sent.echoes) expect(hashes.get(argsHash({ text }))).toBe(1);
    // The outcomes of the mix, as the pipeline read them.
    const outcomes = new Set(acme.map((e) => `${e.outcome}:${e.errorCode ?? ''}`));
    expect([...outcomes].sort()).toEqual(['error:UNKNOWN_TOOL', 'isError:', 'isError:INVALID_ARGUMENTS', 'success:']);
    const success = acme.find((e) => e.outcome === 'success')!;
    expect(success).toMatchObject({ agent: 'acme-bot', tool: 'alpha__echo', server: 'alpha', instance: 'alpha' });
    expect(success.subject).toBeTruthy();
    expect(success.args).toBeUndefined(); // hash only, by default
  });

  it("a tenant's admin reads only its own tenant's rows; asking for the other is refused", async () => {
    const own = await allEvents('', adminKeys.acme);
    expect(own.length).toBeGreaterThan(PER_TENANT - 1);
    expect(new Set(own.map((e) => e.tenant))).toEqual(new Set(['acme']));
    expect((await admin('/v1/audit?tenant=globex', { key: adminKeys.acme })).status).toBe(403);
    expect((await admin('/v1/audit/verify', { key: adminKeys.acme })).status).toBe(403);
    const filtered = await allEvents('agent=globex-bot&outcome=success&method=prompts/get', adminKeys.globex);
    expect(filtered).toHaveLength(PER_TENANT / 20);
  });

  it('records the admin changes (the keys made above) without their secrets', async () => {
    const events = await allEvents('method=admin', ADMIN);
    const keys = events.filter((e) => e.detail?.action === 'POST /v1/keys');
    expect(keys).toHaveLength(4);
    expect(keys.every((e) => e.outcome === 'success' && e.argsHash !== undefined)).toBe(true);
    const text = JSON.stringify(events);
    for (const key of [...Object.values(agentKeys), ...Object.values(adminKeys), ADMIN])
      expect(text).not.toContain(key);
  });

  it('usage equals the audit for the same window, and the report costs what the price table says', async () => {
    const verify = await admin('/v1/audit/verify');
    expect(verify.body).toMatchObject({ ok: true });
    for (const tenant of TENANTS) {
      const events = (await allEvents(`tenant=${tenant}`, ADMIN)).filter((e) => e.method !== 'admin');
      const from = Math.min(...events.map((e) => e.time));
      const to = Math.max(...events.map((e) => e.time)) + 1;
      const report = await admin(`/v1/usage?tenant=${tenant}&groupBy=tool&from=${from}&to=${to}`);
      expect(report.status).toBe(200);
      const lines = report.body.lines as {
        key: string;
        calls: number;
        errors: number;
        bytesIn: number;
        bytesOut: number;
        cost: number;
      }[];
      const byTool = new Map<string, StoredAuditEvent[]>();
      for (const e of events) byTool.set(e.tool ?? '', [...(byTool.get(e.tool ?? '') ?? []), e]);
      expect(lines.map((l) => l.key).sort()).toEqual([...byTool.keys()].sort());
      let total = 0;
      for (const line of lines) {
        const mine = byTool.get(line.key)!;
        const bytes = mine.reduce((n, e) => n + e.bytesIn + e.bytesOut, 0);
        expect(line.calls).toBe(mine.length);
        expect(line.errors).toBe(mine.filter((e) => e.outcome !== 'success').length);
        expect(line.bytesIn + line.bytesOut).toBe(bytes);
        // By hand: echo has its own price (per call, and per MB for alpha's); everything else the default.
        const price: { perCall: number; perMb?: number } =
          (PRICES.tools as Record<string, { perCall: number; perMb?: number }>)[line.key] ?? PRICES.default;
        const cost = mine.length * price.perCall + (bytes / 1_000_000) * (price.perMb ?? 0);
        expect(line.cost).toBeCloseTo(cost, 6);
        total += cost;
      }
      expect((report.body.total as { cost: number }).cost).toBeCloseTo(total, 6);
      expect(report.body.currency).toBe('EUR');
    }
  });

  it('after the hub closes, the chain in the file verifies, and an edited row is found by its seq', async () => {
    await hub.close();
    const db = openDb(store);
    const repo = new SqliteAuditRepo(db);
    expect(repo.verify()).toMatchObject({ ok: true });
    const rows = (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
    expect(rows).toBeGreaterThanOrEqual(2 * PER_TENANT + 4);
    db.close();
    // Someone with the file changes one outcome.
    const raw = new Database(store);
    const target = raw.prepare("SELECT seq FROM audit_events WHERE outcome = 'isError' LIMIT 1 OFFSET 7").get() as {
      seq: number;
    };
    raw.prepare("UPDATE audit_events SET outcome = 'success' WHERE seq = ?").run(target.seq);
    raw.close();
    const again = openDb(store);
    expect(new SqliteAuditRepo(again).verify()).toMatchObject({ ok: false, seq: target.seq });
    again.close();
  });
});
