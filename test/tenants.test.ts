/**
 * Tenants end to end: one hub on loopback with API-key auth, a shared top-level server and two
 * tenants that each have a server of the same name (`tracker`) with different credentials in its env.
 * Each tenant sees only its own tools, its stdio process is its own (with its own env), and what it
 * stores (runtime registrations, learned needs, schema versions, keys) is invisible to the other,
 * through every agent-facing method and every admin route.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import { cleanup, connectAgent, fixtureEntry, makeConfig, startTestHub, textOf, waitFor } from './helpers.js';

const ADMIN = 'admin-token-0123456789abcdef';
let hub: Hub;
const keys: Record<string, string> = {};

async function admin(
  path: string,
  init: { method?: string; body?: unknown; tenant?: string; key?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${hub.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${init.key ?? ADMIN}`,
      ...(init.tenant ? { 'x-switchboard-tenant': init.tenant } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function connectAs(key: string): Promise<Client> {
  return connectAgent(hub.url, 'legacy', 'tenant-test', key);
}

/** The environment of a running process, from /proc. */
function environOf(pid: number): string {
  return readFileSync(`/proc/${pid}/environ`, 'utf8');
}

beforeAll(async () => {
  const tracker = (secret: string) => ({ ...fixtureEntry('tracker'), env: { TRACKER_TOKEN: secret } });
  hub = await startTestHub(
    makeConfig(
      { shared: fixtureEntry('shared') },
      {
        http: { adminToken: ADMIN },
        auth: { mode: 'apiKey' },
        routing: { learning: true },
        tenants: {
          acme: { servers: { tracker: tracker('acme-secret-1') } },
          globex: { servers: { tracker: tracker('globex-secret-2') }, shared: [] },
        },
      },
    ),
  );
  for (const tenant of ['acme', 'globex']) {
    const made = await admin('/v1/keys', {
      method: 'POST',
      body: { tenant, agent: `${tenant}-bot`, scopes: ['*', 'admin'] },
    });
    expect(made.status).toBe(201);
    keys[tenant] = made.body.key as string;
  }
});
afterAll(cleanup);

describe('two tenants with a server of the same name', () => {
  it('each sees only its own tools (and the shared server where it shares it)', async () => {
    const acme = (await (await connectAs(keys.acme!)).listTools()).tools.map((t) => t.name);
    const globex = (await (await connectAs(keys.globex!)).listTools()).tools.map((t) => t.name);
    expect(acme).toEqual(expect.arrayContaining(['tracker__echo', 'shared__echo']));
    expect(globex).toContain('tracker__echo');
    expect(globex.some((n) => n.startsWith('shared__'))).toBe(false);
  });

  it("each tenant's stdio server is its own process, with its own credentials in its env", async () => {
    const pidOf = async (key: string) => {
      const result = await (await connectAs(key)).callTool({ name: 'tracker__stats', arguments: {} });
      return (result.structuredContent as { pid: number }).pid;
    };
    const [acmePid, globexPid] = [await pidOf(keys.acme!), await pidOf(keys.globex!)];
    expect(acmePid).not.toBe(globexPid);
    expect(environOf(acmePid)).toContain('TRACKER_TOKEN=acme-secret-1');
    expect(environOf(acmePid)).not.toContain('globex-secret-2');
    expect(environOf(globexPid)).toContain('TRACKER_TOKEN=globex-secret-2');
    expect(environOf(globexPid)).not.toContain('acme-secret-1');
  });

  it('no key can be made for a tenant that is not configured', async () => {
    const made = await admin('/v1/keys', { method: 'POST', body: { tenant: 'initech', agent: 'x', scopes: ['*'] } });
    expect(made.status).toBe(400);
    expect(JSON.stringify(made.body)).toMatch(/no tenant \\"initech\\"/);
  });
});

describe("one tenant's rows are invisible to the other, through every API", () => {
  it('runtime registrations belong to the registering tenant', async () => {
    const registered = await admin('/v1/servers', {
      method: 'POST',
      key: keys.acme,
      body: { name: 'extra', ...fixtureEntry('extra') },
    });
    expect(registered.status).toBe(201);
    const acmeAgent = await connectAs(keys.acme!);
    await waitFor(async () => (await acmeAgent.listTools()).tools.some((t) => t.name === 'extra__echo'));
    const names = (list: { body: Record<string, unknown> }) =>
      (list.body.servers as { name: string }[]).map((s) => s.name).sort();
    expect(names(await admin('/v1/servers', { key: keys.acme }))).toEqual(['extra', 'shared', 'tracker']);
    expect(names(await admin('/v1/servers', { key: keys.globex }))).toEqual(['tracker']);
    expect(names(await admin('/v1/servers'))).toEqual(['shared']); // the admin token's default tenant
    expect(names(await admin('/v1/servers', { tenant: 'acme' }))).toContain('extra');
    const globexTools = (await (await connectAs(keys.globex!)).listTools()).tools.map((t) => t.name);
    expect(globexTools.some((n) => n.startsWith('extra__'))).toBe(false);
    // A tenant cannot remove another's server: it does not exist for it.
    expect((await admin('/v1/servers/extra', { method: 'DELETE', key: keys.globex })).status).toBe(404);
  });

  it("learned needs, catalogs, schema versions and keys of one tenant are not the other's", async () => {
    const acme = await connectAs(keys.acme!);
    const found = await acme.callTool({
      name: 'find_capability',
      arguments: { capability: 'echo the text back prefixed with the server name' },
    });
    const decisionId = (found.structuredContent as { decisionId: string }).decisionId;
    const tool = (found.structuredContent as { matches: { tool: string }[] }).matches[0]!.tool;
    expect(
      textOf(
        await acme.callTool({ name: 'call_capability', arguments: { tool, decisionId, arguments: { text: 'x' } } }),
      ),
    ).toMatch(/x/);
    const examples = (key: string) => admin('/v1/examples', { key });
    await waitFor(async () => ((await examples(keys.acme!)).body.examples as unknown[]).length > 0);
    expect((await examples(keys.globex!)).body.examples).toEqual([]);

    const acmeCatalog = JSON.stringify((await admin('/v1/catalog', { key: keys.acme })).body);
    const globexCatalog = JSON.stringify((await admin('/v1/catalog', { key: keys.globex })).body);
    expect(acmeCatalog).toContain('shared__echo');
    expect(globexCatalog).not.toContain('shared__');
    expect(globexCatalog).not.toContain('extra__');

    const matrix = JSON.stringify((await admin('/v1/compat/matrix', { key: keys.globex })).body);
    expect(matrix).toContain('tracker');
    expect(matrix).not.toContain('shared');
    expect(matrix).not.toContain('extra');

    const acmeKeys = (await admin('/v1/keys', { key: keys.acme })).body.keys as { tenant: string }[];
    expect(acmeKeys.map((k) => k.tenant)).toEqual(['acme']);
    expect((await admin('/v1/keys?tenant=globex', { key: keys.acme })).status).toBe(403);
    const tenants = async (key?: string) =>
      ((await admin('/v1/tenants', key ? { key } : {})).body.tenants as { name: string }[]).map((t) => t.name);
    expect(await tenants()).toEqual(['default', 'acme', 'globex']);
    expect(await tenants(keys.globex)).toEqual(['globex']); // a tenant's admin learns of no other tenant
  });
});
