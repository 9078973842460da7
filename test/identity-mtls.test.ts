/**
 * Identity by client certificate, end to end: a hub serving HTTPS with `http.tls.requestClientCert` and
 * `auth.mode: mtls`, two real fixture servers (`pub` and `vault7`), real SDK clients whose fetch (undici,
 * with its own Agent) presents a certificate made by openssl (fixtures/certs.ts).
 *
 * The mapped certificate (CN=agent-a, scoped to `servers:pub`) sees pub only; no certificate, one from
 * another CA and one no mapping matches are each 401 with their own reason. With `mode: [mtls, apiKey]`
 * a bearer API key that comes with a certificate decides alone (see the last describe for what that means).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport, type FetchLike } from '@modelcontextprotocol/client';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/compose.js';
import { makePki, type KeyPair, type Pki } from './fixtures/certs.js';
import { cleanup, fixtureEntry, makeConfig, onCleanup, postMcp, startTestHub, tempDir, textOf } from './helpers.js';

const HIDDEN = 'vault7';
const ADMIN = 'admin-token-0123456789abcdef';
let pki: Pki;
/** A client certificate from the hub's own CA whose CN (agent-z) no mapping names. */
let unmapped: KeyPair;

/**
 * Issues a client certificate `cn` from the test CA with `openssl x509 -req` (the fixture's PKI has one
 * client name only; this needs no CA database).
 */
function issueClient(ca: KeyPair, cn: string): KeyPair {
  const dir = tempDir('switchboard-client-cert-');
  const [key, csr, cert, ext] = ['client.key', 'client.csr', 'client.pem', 'ext.cnf'].map((f) => join(dir, f));
  writeFileSync(ext!, 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  // prettier-ignore
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key!, '-out', csr!,
    '-subj', `/CN=${cn}`]);
  // prettier-ignore
  openssl(['x509', '-req', '-in', csr!, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert!,
    '-days', '30', '-extfile', ext!]);
  return { cert: cert!, key: key! };
}

/** A fetch that trusts the test CA and presents `client` (undici's, with its own Agent). */
function clientFetch(client?: KeyPair): FetchLike {
  const agent = new Agent({
    connect: {
      ca: readFileSync(pki.ca.cert),
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    },
  });
  onCleanup(() => agent.destroy());
  return (url, init) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
}

/** A real SDK client over HTTPS presenting `client` (and `token` as its bearer credential, when given). */
async function connectWith(hub: Hub, client: KeyPair | undefined, token?: string): Promise<Client> {
  const agent = new Client({ name: 'mtls-identity-test', version: '1.0.0' });
  await agent.connect(
    new StreamableHTTPClientTransport(new URL(`${hub.url}/mcp`), {
      fetch: clientFetch(client),
      ...(token ? { authProvider: { token: async () => token } } : {}),
    }),
  );
  onCleanup(() => agent.close());
  return agent;
}

/** A raw initialize POST over HTTPS: the status and the error message the SDK would hide. */
async function initialize(
  hub: Hub,
  client: KeyPair | undefined,
  authorization?: string,
): Promise<{ status: number; message: string | undefined }> {
  const res = await postMcp(hub.url, { authorization, fetch: clientFetch(client) });
  const text = await res.text();
  const message = res.status >= 400 ? (JSON.parse(text) as { error?: { message?: string } }).error?.message : undefined;
  return { status: res.status, message };
}

const toolNames = async (agent: Client) => (await agent.listTools()).tools.map((t) => t.name);
const servers = () => ({ pub: fixtureEntry('pub'), [HIDDEN]: fixtureEntry(HIDDEN) });
const tls = () => ({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestClientCert: true });
const agentA = { match: { subject: 'agent-a' }, tenant: 'default', agent: 'agent-a', scopes: ['servers:pub'] };

beforeAll(() => {
  pki = makePki(tempDir('switchboard-identity-mtls-'));
  unmapped = issueClient(pki.ca, 'agent-z');
});
afterAll(cleanup);

describe('auth.mode mtls', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub(makeConfig(servers(), { http: { tls: tls() }, auth: { mode: 'mtls', mtls: [agentA] } }));
    expect(hub.url).toMatch(/^https:\/\//);
  });

  it("a mapped client certificate is its principal: agent-a sees and calls pub's tools only", async () => {
    const agent = await connectWith(hub, pki.client);
    const names = await toolNames(agent);
    expect(names).toEqual(expect.arrayContaining(['pub__echo', 'pub__add']));
    expect(names.filter((n) => n.includes(HIDDEN))).toEqual([]);
    expect(textOf(await agent.callTool({ name: 'pub__echo', arguments: { text: 'by cert' } }))).toBe('pub: by cert');
    const found = await agent.callTool({
      name: 'find_capability',
      arguments: { capability: 'echo the text back prefixed with the server name', k: 10 },
    });
    expect(textOf(found)).toMatch(/pub__echo/);
    expect(JSON.stringify(found)).not.toContain(HIDDEN);
    // The hidden server's tool reads as unknown, exactly like one that does not exist.
    const call = (name: string) =>
      agent.callTool({ name, arguments: { text: 'x' } }).catch((error: Error) => ({ error: error.message }));
    const hidden = JSON.stringify(await call(`${HIDDEN}__echo`));
    expect(hidden).toMatch(/unknown tool/i);
    expect(hidden.replaceAll(HIDDEN, 'nothere')).toBe(JSON.stringify(await call('nothere__echo')));
  });

  it('no client certificate: 401 asking for one', async () => {
    expect(await initialize(hub, undefined)).toEqual({
      status: 401,
      message: 'authentication required: present a client certificate',
    });
    await expect(connectWith(hub, undefined)).rejects.toThrow(/present a client certificate/);
  });

  it('a certificate from another CA (same CN, same SANs): 401 saying it was not verified, and why', async () => {
    const { status, message } = await initialize(hub, pki.strangerClient);
    expect(status).toBe(401);
    expect(message).toMatch(
      /^the client certificate was not accepted: (unable to verify the first certificate|unable to get the local issuer certificate).*http\.tls\.ca \([A-Z_]+\)$/,
    );
  });

  it('a verified certificate that no mapping matches: 401 saying so, with its CN', async () => {
    expect(await initialize(hub, unmapped)).toEqual({
      status: 401,
      message: 'no auth.mtls mapping matches the client certificate (CN "agent-z")',
    });
    // The control: the same request with the mapped certificate is let in.
    expect((await initialize(hub, pki.client)).status).toBe(200);
  });
});

/**
 * mode [mtls, apiKey]: what is observed is that a bearer token, when present, decides alone. The
 * certificate is then not looked at: the key's scopes apply (not the mapping's, nor their union), a bad
 * key is refused even beside a good certificate, and a certificate that would be refused on its own
 * (another CA) does not stop a good key.
 */
describe('auth.mode [mtls, apiKey]: a bearer key and a certificate together', () => {
  let hub: Hub;
  /** An API key scoped to the hidden server only: the opposite of agent-a's mapping. */
  let vaultKey: string;
  beforeAll(async () => {
    hub = await startTestHub(
      makeConfig(servers(), {
        http: { tls: tls(), adminToken: ADMIN },
        auth: { mode: ['mtls', 'apiKey'], mtls: [agentA] },
      }),
    );
    const res = await clientFetch()(`${hub.url}/v1/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ tenant: 'default', agent: 'vault-bot', scopes: [`servers:${HIDDEN}`] }),
    });
    expect(res.status).toBe(201);
    vaultKey = ((await res.json()) as { key: string }).key;
  });

  const onlyOf = (names: string[], server: string) =>
    names.filter((n) => n.includes('__')).every((n) => n.startsWith(`${server}__`));

  it('each alone: the certificate gives pub, the key gives the vault', async () => {
    const byCert = await toolNames(await connectWith(hub, pki.client));
    expect(byCert).toContain('pub__echo');
    expect(onlyOf(byCert, 'pub')).toBe(true);
    const byKey = await toolNames(await connectWith(hub, undefined, vaultKey));
    expect(byKey).toContain(`${HIDDEN}__echo`);
    expect(onlyOf(byKey, HIDDEN)).toBe(true);
  });

  it("both together: the key's principal, not the certificate's, nor a union of the two", async () => {
    const agent = await connectWith(hub, pki.client, vaultKey);
    const names = await toolNames(agent);
    expect(names).toContain(`${HIDDEN}__echo`);
    expect(onlyOf(names, HIDDEN)).toBe(true);
    expect(textOf(await agent.callTool({ name: `${HIDDEN}__echo`, arguments: { text: 'k' } }))).toBe(`${HIDDEN}: k`);
  });

  it('a bad key beside a good certificate is refused: the bearer decides', async () => {
    const forged = 'sbk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const { status, message } = await initialize(hub, pki.client, `Bearer ${forged}`);
    expect(status).toBe(401);
    expect(message).toMatch(/API key/);
  });

  it('a good key beside a certificate from another CA is accepted: the certificate is not looked at', async () => {
    expect((await initialize(hub, pki.strangerClient)).status).toBe(401);
    expect((await initialize(hub, pki.strangerClient, `Bearer ${vaultKey}`)).status).toBe(200);
  });
});
