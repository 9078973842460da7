/**
 * Identity end to end: a hub on loopback with auth (API keys and OAuth JWTs from a real oidc-provider)
 * and a Cedar policy, two real fixture servers (`pub` and `vault7`), real SDK clients of both eras.
 *
 * The discovery-leak walk: as restricted principals (an API key scoped to one server, a JWT whose
 * group a Cedar policy keeps out of vault7), every agent-facing method is called, and no answer
 * (lists, find_capability, call_capability, suggestions, prompt, resource and completion errors,
 * list_changed notifications) contains the hidden server's name, except where the caller typed it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import { ERROR_META_KEY } from '../src/mcp/tool-errors.js';
import { startOidcProvider, unsignedToken, type OidcFixture } from './fixtures/oidc.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  freePort,
  initializeMessage,
  makeConfig,
  onCleanup,
  postMcp,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
  type Era,
} from './helpers.js';

const HIDDEN = 'vault7';
const ADMIN = 'admin-token-0123456789abcdef';
let hub: Hub;
let oidc: OidcFixture;
let resource: string;
/** API keys by role, made through POST /v1/keys. */
const keys: Record<string, string> = {};

async function createKey(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${hub.url}/v1/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

/** A real SDK client that sends `token` as its bearer credential. */
function connectAs(token: string, era: Era = 'legacy', name = 'identity-test'): Promise<Client> {
  return connectAgent(hub.url, era, name, token);
}

/** A raw POST to /mcp (for status codes and headers the SDK hides). */
function post(authorization: string | undefined, message: unknown = initializeMessage()) {
  return postMcp(hub.url, { authorization, message });
}

beforeAll(async () => {
  const port = await freePort();
  resource = `http://127.0.0.1:${port}/mcp`;
  oidc = await startOidcProvider({
    resource,
    scopes: ['tools:*', 'servers:pub', 'mcp:use'],
    clients: [
      { clientId: 'staff-agent', clientSecret: 'staff-secret', claims: { groups: ['staff'] } },
      { clientId: 'contractor-agent', clientSecret: 'contractor-secret', claims: { groups: ['contractors'] } },
      { clientId: 'stranger-agent', clientSecret: 'stranger-secret', claims: { tenant: 'initech' } },
    ],
  });
  onCleanup(() => oidc.close());
  const policyDir = tempDir();
  writeFileSync(
    join(policyDir, 'gateway.cedar'),
    `// Everyone may use what their credential's scopes allow ...
@id("everyone")
permit (principal, action, resource);
// ... but contractors never see or touch the vault, and never call destructive tools.
@id("no-vault-for-contractors")
forbid (principal in Switchboard::Group::"contractors", action, resource in Switchboard::Server::"${HIDDEN}");
@id("no-destructive-for-contractors")
forbid (principal in Switchboard::Group::"contractors", action == Switchboard::Action::"call", resource)
when { resource.destructive };
`,
  );
  hub = await startTestHub(
    makeConfig(
      { pub: fixtureEntry('pub'), [HIDDEN]: fixtureEntry(HIDDEN) },
      {
        http: { port, adminToken: ADMIN },
        auth: { mode: ['apiKey', 'jwt'], resource, jwt: { issuer: oidc.issuer, clockToleranceSec: 5 } },
        policy: { files: [policyDir] },
      },
    ),
  );
  keys.pubOnly = await createKey({ tenant: 'default', agent: 'pub-bot', scopes: ['servers:pub'] });
  keys.everything = await createKey({ tenant: 'default', agent: 'ops-bot', scopes: ['*'], groups: ['staff'] });
  keys.listOnly = await createKey({
    tenant: 'default',
    agent: 'reader',
    scopes: ['tools:pub__*:list', 'tools:pub__echo:call'],
  });
});
afterAll(cleanup);

describe('authentication on /mcp', () => {
  it('answers 401 with a Bearer challenge naming the protected-resource metadata, which is served', async () => {
    const res = await post(undefined);
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(
      /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"$/,
    );
    const metadata = (await (await fetch(challenge.match(/"(.*)"/)?.[1] ?? '')).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ resource, authorization_servers: [oidc.issuer] });
  });

  it('accepts a client_credentials token from the real provider and an API key', async () => {
    const staff = await connectAs(await oidc.token('staff-agent', { scope: 'tools:*' }));
    expect((await staff.listTools()).tools.map((t) => t.name)).toContain(`${HIDDEN}__echo`);
    const ops = await connectAs(keys.everything!);
    expect(textOf(await ops.callTool({ name: 'pub__echo', arguments: { text: 'hi' } }))).toBe('pub: hi');
  });

  it.each([
    ['expired', async () => oidc.sign({ exp: Math.floor(Date.now() / 1000) - 600 }), /token expired/],
    ['wrong audience', async () => oidc.sign({ aud: 'https://elsewhere.example/mcp' }), /audience/],
    ['wrong issuer', async () => oidc.sign({ iss: 'https://evil.example' }), /issuer/],
    ['unsigned (alg none)', async () => unsignedToken({ iss: oidc.issuer, aud: resource, sub: 'x' }), /algorithm/],
    ['signed by a foreign key', async () => oidc.sign({}, { key: oidc.foreignKey }), /signing key|signature/],
    [
      'tampered',
      async () => {
        const [h, p, s] = (await oidc.sign({ scope: 'servers:pub' })).split('.');
        const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
        const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'tools:*' })).toString('base64url');
        return `${h}.${forged}.${s}`;
      },
      /signature/,
    ],
    [
      'a revoked-looking API key',
      async () => 'sbk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      /API key/,
    ],
  ])('refuses a %s token with 401 invalid_token', async (_what, make, message) => {
    const res = await post(`Bearer ${await make()}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const body = (await res.json()) as { error: { code: number; message: string } };
    expect(body.error.message).toMatch(message);
    expect(body.error.code).toBe(-32000); // a server error, not a JSON parse error
  });

  it('a valid token naming a tenant this gateway does not have is refused with 403', async () => {
    const res = await post(`Bearer ${await oidc.token('stranger-agent', { scope: 'tools:*' })}`);
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/tenant "initech" is not configured/);
  });

  it('the admin API needs the admin token or an admin-scoped credential', async () => {
    const as = (authorization: string) => fetch(`${hub.url}/v1/servers`, { headers: { authorization } });
    expect((await as(`Bearer ${keys.pubOnly}`)).status).toBe(403);
    expect((await as('Bearer nope')).status).toBe(401);
    expect((await as(`Bearer ${ADMIN}`)).status).toBe(200);
  });

  it('a session opened by one principal is unknown to another', async () => {
    const open = await post(`Bearer ${keys.pubOnly}`);
    expect(open.status).toBe(200);
    const session = open.headers.get('mcp-session-id') ?? '';
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const other = await fetch(`${hub.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
        authorization: `Bearer ${keys.everything}`,
      },
      body: JSON.stringify(list),
    });
    expect(other.status).toBe(404);
  });
});

describe.each([
  ['an API key scoped to one server', () => Promise.resolve(keys.pubOnly!)],
  ['a JWT of a group the policy keeps out', () => oidc.token('contractor-agent', { scope: 'tools:*' })],
])('the discovery-leak walk as %s', (_who, credential) => {
  for (const era of ['legacy', 'modern'] as const) {
    it(`(${era}) never shows ${HIDDEN} in any answer`, async () => {
      const agent = await connectAs(await credential(), era);
      const seen: string[] = [];
      const record = (value: unknown) => seen.push(JSON.stringify(value));
      const failure = async (run: () => Promise<unknown>) => {
        try {
          return await run();
        } catch (error) {
          return { error: (error as Error).message };
        }
      };

      const tools = (await agent.listTools()).tools;
      record(tools);
      expect(tools.map((t) => t.name)).toContain('pub__echo');
      record(await agent.listPrompts());
      record(await agent.listResources());
      record(await agent.listResourceTemplates());
      const found = await agent.callTool({
        name: 'find_capability',
        arguments: { capability: 'echo the text back prefixed with the server name', k: 10, include_schema: true },
      });
      record(found);
      expect(textOf(found)).toMatch(/pub__echo/);
      record(
        await agent.callTool({
          name: 'call_capability',
          arguments: { capability: 'echo text back', arguments: { text: 'x' } },
        }),
      );
      record(
        await agent.callTool({
          name: 'call_capability',
          arguments: { tool: 'pub__echo', fanout: true, arguments: { text: 'x' } },
        }),
      );
      // A near miss of a hidden name: the suggestions come from what the caller may see.
      record(await failure(() => agent.callTool({ name: `${HIDDEN.slice(0, 5)}__ech`, arguments: {} })));
      record(await failure(() => agent.callTool({ name: 'pub__ech', arguments: {} })));
      seen.forEach((text) => expect(text).not.toContain(HIDDEN));

      // Naming a hidden item reads exactly like naming one that does not exist.
      const hiddenCall = await failure(() => agent.callTool({ name: `${HIDDEN}__echo`, arguments: { text: 'x' } }));
      const missingCall = await failure(() => agent.callTool({ name: 'nothere__echo', arguments: { text: 'x' } }));
      expect(JSON.stringify(hiddenCall).replaceAll(HIDDEN, 'nothere')).toBe(JSON.stringify(missingCall));
      const hiddenPrompt = await failure(() => agent.getPrompt({ name: `${HIDDEN}__greet`, arguments: { name: 'a' } }));
      const missingPrompt = await failure(() => agent.getPrompt({ name: 'nothere__greet', arguments: { name: 'a' } }));
      expect(JSON.stringify(hiddenPrompt).replaceAll(HIDDEN, 'nothere')).toBe(JSON.stringify(missingPrompt));
      const hiddenRead = await failure(() => agent.readResource({ uri: `fixture://${HIDDEN}/info` }));
      const missingRead = await failure(() => agent.readResource({ uri: 'fixture://nothere/info' }));
      expect(JSON.stringify(hiddenRead).replaceAll(HIDDEN, 'nothere')).toBe(JSON.stringify(missingRead));
      const hiddenComplete = await failure(() =>
        agent.complete({
          ref: { type: 'ref/prompt', name: `${HIDDEN}__greet` },
          argument: { name: 'name', value: 'a' },
        }),
      );
      expect(JSON.stringify(hiddenComplete)).toMatch(/unknown prompt/);
    });
  }
});

describe('list_changed follows the view', () => {
  it('a change on a hidden server never reaches a restricted session; one on its own server does', async () => {
    const restricted = await connectAs(keys.pubOnly!);
    const admin = await connectAs(keys.everything!);
    let restrictedHeard = 0;
    let adminHeard = 0;
    restricted.setNotificationHandler('notifications/tools/list_changed', () => void restrictedHeard++);
    admin.setNotificationHandler('notifications/tools/list_changed', () => void adminHeard++);
    await admin.callTool({ name: `${HIDDEN}__add_tool`, arguments: { name: 'secret_addition' } });
    await waitFor(() => adminHeard >= 1, 15_000, 'the unrestricted agent hears of the hidden change');
    await admin.callTool({ name: 'pub__add_tool', arguments: { name: 'public_addition' } });
    await waitFor(() => restrictedHeard >= 1, 15_000, 'the restricted agent hears of its own change');
    await waitFor(() => adminHeard >= 2, 15_000, 'the unrestricted agent hears of both');
    // Fan-outs are sent in order: had the hidden change reached it, it would have come first.
    expect(restrictedHeard).toBe(1);
    expect((await restricted.listTools()).tools.map((t) => t.name)).toContain('pub__public_addition');
  });
});

describe('refusals say why, never what else exists', () => {
  it('a visible tool without the call scope: FORBIDDEN naming the missing scope', async () => {
    const reader = await connectAs(keys.listOnly!);
    expect((await reader.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['pub__add']));
    const result = await reader.callTool({ name: 'pub__add', arguments: { a: 1, b: 2 } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/needs the scope "tools:pub__add:call"/);
    expect((result._meta?.[ERROR_META_KEY] as { code: string }).code).toBe('FORBIDDEN');
    expect(textOf(await reader.callTool({ name: 'pub__echo', arguments: { text: 'ok' } }))).toBe('pub: ok');
  });

  it('a call the policy forbids names the deciding policy for the audit trail', async () => {
    const contractor = await connectAs(await oidc.token('contractor-agent', { scope: 'tools:*' }));
    // add_tool has no annotations, so by the MCP defaults it may be destructive.
    const result = await contractor.callTool({ name: 'pub__add_tool', arguments: { name: 'x' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/policy denies calling "pub__add_tool"/);
    const error = result._meta?.[ERROR_META_KEY] as { code: string; details: { policies: string[] } };
    expect(error.code).toBe('FORBIDDEN');
    expect(error.details.policies).toEqual(['no-destructive-for-contractors']);
    expect(textOf(await contractor.callTool({ name: 'pub__echo', arguments: { text: 'ok' } }))).toBe('pub: ok');
  });

  it('a token without the capability scope for a server sees nothing of it', async () => {
    const narrow = await connectAs(await oidc.token('staff-agent', { scope: 'servers:pub' }));
    const names = (await narrow.listTools()).tools.map((t) => t.name);
    expect(names).toContain('pub__echo');
    expect(names.some((n) => n.startsWith(`${HIDDEN}__`))).toBe(false);
  });
});
