/**
 * mTLS, both ways, over real TLS on loopback with certificates made by openssl (fixtures/certs.ts).
 *
 * Outbound: HTTPS upstreams (the fixture server and server-everything's legacy SSE, each behind a TLS
 * front that demands a client certificate) are federated with `tls: {ca, cert, key}`; a wrong CA, an
 * expired server certificate and a missing client certificate each leave a clear reason in the server's
 * status. Inbound: a hub with `http.tls` serves HTTPS to an SDK client, the client's certificate is read
 * (peerCertificateIdentity) and mapped to a principal (principalFromCertificate), and one from another
 * CA is reported unauthorized with the reason.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import Fastify from 'fastify';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport, type FetchLike } from '@modelcontextprotocol/client';
import { principalFromCertificate, type CertificateMapping } from '../src/auth/mtls.js';
import { buildConfig, loadConfigFile } from '../src/config/load.js';
import type { HttpSpec } from '../src/config/spec.js';
import type { Hub } from '../src/compose.js';
import { httpsServerOptions, parseSans, peerCertificateIdentity } from '../src/http/client-cert.js';
import { describeTlsError, tlsFetch } from '../src/upstream/tls.js';
import { makePki, type KeyPair, type Pki } from './fixtures/certs.js';
import {
  cleanup,
  connectAgent,
  fixtureEntry,
  makeConfig,
  onCleanup,
  startEverythingHttp,
  startHttpFixture,
  startTestHub,
  tempDir,
  textOf,
  waitFor,
} from './helpers.js';

let pki: Pki;
let dir: string;

/**
 * A TLS front for a plain-HTTP server on `targetPort`: it terminates TLS with `server` and, given a `ca`,
 * demands a client certificate signed by it (the handshake fails otherwise), then passes bytes through.
 */
async function tlsFront(targetPort: number, server: KeyPair, ca?: string): Promise<number> {
  const sockets = new Set<Socket>();
  const front = createTlsServer(
    {
      cert: readFileSync(server.cert),
      key: readFileSync(server.key),
      ...(ca ? { ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true } : {}),
    },
    (socket) => {
      const upstream = netConnect(targetPort, '127.0.0.1');
      sockets.add(socket).add(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
      upstream.on('close', () => sockets.delete(upstream));
    },
  );
  front.on('tlsClientError', () => {}); // refused handshakes are the point of some tests
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        front.close(() => resolve());
      }),
  );
  return (front.address() as { port: number }).port;
}

/** A fetch that trusts `ca` and presents `client` (undici's, with its own Agent). */
function clientFetch(ca: string, client?: KeyPair): FetchLike {
  const agent = new Agent({
    connect: {
      ca: readFileSync(ca),
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    },
  });
  onCleanup(() => agent.destroy());
  return (url, init) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
}

beforeAll(() => {
  dir = tempDir('switchboard-mtls-');
  pki = makePki(dir);
});
afterAll(cleanup);

describe('outbound mTLS to HTTPS upstreams', () => {
  let hub: Hub;
  let agent: Client;
  /** The TLS front of the fixture server (valid certificate, client certificate required). */
  let good: number;

  beforeAll(async () => {
    const fixture = await startHttpFixture('secure');
    const everything = await startEverythingHttp('sse');
    const everythingPort = Number(new URL(everything.url).port);
    // Every front demands a client certificate from the test CA.
    good = await tlsFront(fixture.port, pki.server, pki.ca.cert);
    const expired = await tlsFront(fixture.port, pki.expiredServer, pki.ca.cert);
    const sse = await tlsFront(everythingPort, pki.server, pki.ca.cert);
    const mtls = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
    hub = await startTestHub(
      makeConfig(
        {
          secure: { type: 'http', url: `https://127.0.0.1:${good}/mcp`, tls: mtls },
          // server-everything over legacy SSE: the EventSource stream and the POSTs both go through the Agent.
          'secure-sse': { type: 'sse', url: `https://127.0.0.1:${sse}/sse`, tls: mtls },
          'wrong-ca': { type: 'http', url: `https://127.0.0.1:${good}/mcp`, tls: { ...mtls, ca: pki.otherCa.cert } },
          expired: { type: 'http', url: `https://127.0.0.1:${expired}/mcp`, tls: mtls },
          'no-client-cert': { type: 'http', url: `https://127.0.0.1:${good}/mcp`, tls: { ca: pki.ca.cert } },
          'no-client-cert-sse': { type: 'sse', url: `https://127.0.0.1:${sse}/sse`, tls: { ca: pki.ca.cert } },
          // A name the certificate does not carry: servername is what gets checked.
          'wrong-name': {
            type: 'http',
            url: `https://127.0.0.1:${good}/mcp`,
            tls: { ...mtls, servername: 'elsewhere.test' },
          },
        },
        { gateway: { connectTimeoutMs: 10_000 } },
      ),
    );
    agent = await connectAgent(hub.url);
  });

  const row = (name: string) => hub.gateway.listServers().find((s) => s.name === name);
  const failure = (name: string) =>
    waitFor(() => row(name)?.lastError, 20_000, `a connection error for ${name}`).then((e) => e);

  it('federates an HTTPS upstream that demands a client certificate, over Streamable HTTP', async () => {
    expect(row('secure')).toMatchObject({ state: 'ready' });
    const result = await agent.callTool({ name: 'secure__echo', arguments: { text: 'over mTLS' } });
    expect(textOf(result)).toBe('secure: over mTLS');
    // A second call reuses the upstream connection's Agent.
    expect(textOf(await agent.callTool({ name: 'secure__add', arguments: { a: 2, b: 3 } }))).toBe('5');
  });

  it('federates an HTTPS upstream over legacy SSE', async () => {
    expect(row('secure-sse')).toMatchObject({ state: 'ready', kind: 'sse' });
    const result = await agent.callTool({ name: 'secure-sse__echo', arguments: { message: 'sse over mTLS' } });
    expect(textOf(result)).toContain('sse over mTLS');
  });

  it('a server certificate from another CA fails with the reason, not "fetch failed"', async () => {
    const error = await failure('wrong-ca');
    expect(error).toMatch(
      /TLS: (unable to verify the first certificate|self-signed certificate in the chain).*check tls\.ca/,
    );
    expect(error).not.toMatch(/fetch failed/);
    expect(row('wrong-ca')?.state).not.toBe('ready');
  });

  it('an expired server certificate fails with the reason', async () => {
    expect(await failure('expired')).toMatch(/TLS: certificate has expired.*CERT_HAS_EXPIRED/);
  });

  it('a missing client certificate fails with the reason, on both HTTP transports', async () => {
    expect(await failure('no-client-cert')).toMatch(/TLS: the server requires a client certificate.*tls\.cert/);
    expect(await failure('no-client-cert-sse')).toMatch(/TLS: the server requires a client certificate/);
  });

  it('servername is the name checked against the certificate', async () => {
    expect(await failure('wrong-name')).toMatch(/TLS: .*elsewhere\.test.*ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it("an upstream's TLS fetch lets go of its Agent when closed; an unreadable file fails every request", async () => {
    const secured = tlsFetch({ ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key });
    const url = `https://127.0.0.1:${good}/mcp`;
    expect((await secured.fetch(url, { method: 'GET' })).status).toBeGreaterThanOrEqual(200);
    await secured.close();
    await expect(secured.fetch(url, { method: 'GET' })).rejects.toMatchObject({ cause: { code: 'UND_ERR_DESTROYED' } });
    const broken = tlsFetch({ ca: join(dir, 'no-such-ca.pem') });
    await expect(broken.fetch(url)).rejects.toThrow(/TLS: cannot read .*no-such-ca\.pem/);
  });

  it('shows paths, never key material, in the admin API and the server views', async () => {
    const text = await (await fetch(`${hub.url}/v1/servers`)).text();
    expect(text).toContain(JSON.stringify(pki.client.key).slice(1, -1));
    expect(text).not.toMatch(/BEGIN|PRIVATE KEY/);
    const key = readFileSync(pki.client.key, 'utf8').split('\n')[1]!;
    expect(text).not.toContain(key);
  });
});

describe('TLS settings in the config', () => {
  const entry = (tls: Record<string, unknown>) => ({ servers: { s: { url: 'https://127.0.0.1:1/mcp', tls } } });
  const issues = (raw: unknown): { path: string; message: string }[] => {
    try {
      buildConfig(raw, { baseDir: dir });
    } catch (error) {
      return (error as { details?: { issues: { path: string; message: string }[] } }).details?.issues ?? [];
    }
    return [];
  };

  it('resolves file paths against the config folder', () => {
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(
      file,
      [
        'store: { path: ":memory:" }',
        'http: { tls: { cert: ca/server.pem, key: ca/server.key, ca: ca/ca.pem, requestClientCert: true } }',
        'servers:',
        '  s: { url: "https://127.0.0.1:1/mcp", tls: { ca: ca/ca.pem, cert: ca/client.pem, key: ca/client.key } }',
      ].join('\n'),
    );
    const config = loadConfigFile(file);
    expect((config.servers[0]!.instances[0] as HttpSpec).tls).toEqual({
      ca: pki.ca.cert,
      cert: pki.client.cert,
      key: pki.client.key,
    });
    expect(config.http.tls).toEqual({
      cert: pki.server.cert,
      key: pki.server.key,
      ca: pki.ca.cert,
      requestClientCert: true,
    });
  });

  it('names the setting and the file when a file is missing', () => {
    expect(issues(entry({ ca: 'nope/ca.pem' }))).toEqual([
      { path: 'servers.s.tls.ca', message: expect.stringMatching(/cannot read ca file .*nope\/ca\.pem \(ENOENT\)/) },
    ]);
    expect(issues({ http: { tls: { cert: 'missing.pem', key: pki.server.key } } })).toEqual([
      { path: 'http.tls.cert', message: expect.stringMatching(/cannot read cert file .*missing\.pem/) },
    ]);
  });

  it("refuses files that are not PEM, or a key that is not the certificate's", () => {
    const [notPem] = issues(entry({ cert: pki.client.cert, key: join(dir, 'switchboard.yaml') }));
    expect(notPem).toMatchObject({ path: 'servers.s.tls', message: expect.stringMatching(/not usable/) });
    const [mismatch] = issues(entry({ cert: pki.client.cert, key: pki.server.key }));
    expect(mismatch).toMatchObject({
      path: 'servers.s.tls',
      message: expect.stringMatching(/not usable.*key values mismatch/),
    });
    expect(mismatch?.message).not.toMatch(/BEGIN/);
  });

  it('refuses tls where it cannot apply, half a client certificate, and unknown keys', () => {
    expect(issues({ servers: { s: { ...fixtureEntry('s'), tls: { ca: pki.ca.cert } } } })).toEqual([
      { path: 'servers.s.tls', message: 'tls applies to HTTP servers only' },
    ]);
    expect(issues({ servers: { s: { url: 'http://127.0.0.1:1/mcp', tls: { ca: pki.ca.cert } } } })).toEqual([
      { path: 'servers.s.tls', message: 'tls applies to https:// urls; this url is http://' },
    ]);
    expect(issues(entry({ cert: pki.client.cert }))).toEqual([
      { path: 'servers.s.tls.key', message: 'a client certificate needs both cert and key' },
    ]);
    expect(issues(entry({ ca: pki.ca.cert, rejectUnauthorised: false }))).toEqual([
      {
        path: 'servers.s.tls',
        message: expect.stringMatching(/unknown key "rejectUnauthorised"; did you mean "rejectUnauthorized"/),
      },
    ]);
    expect(issues({ http: { tls: { cert: pki.server.cert, key: pki.server.key, requestClientCert: true } } })).toEqual([
      { path: 'http.tls.ca', message: expect.stringMatching(/requestClientCert needs ca/) },
    ]);
  });
});

describe('inbound HTTPS and client certificates', () => {
  const tls = () => ({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestClientCert: true });

  it('a hub with http.tls serves MCP over HTTPS to an SDK client that trusts its CA', async () => {
    const hub = await startTestHub(makeConfig({ local: fixtureEntry('local') }, { http: { tls: tls() } }));
    expect(hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new Client({ name: 'tls-agent', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${hub.url}/mcp`), { fetch: clientFetch(pki.ca.cert, pki.client) }),
    );
    onCleanup(() => client.close());
    expect(textOf(await client.callTool({ name: 'local__echo', arguments: { text: 'hi' } }))).toBe('local: hi');
    // Really TLS: a client that does not trust the CA is stopped by the handshake, and plain HTTP is not served.
    const untrusted = await fetch(`${hub.url}/healthz`).catch((e: unknown) => e);
    expect(describeTlsError(untrusted)).toMatch(/^TLS: .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/);
    await expect(fetch(`${hub.url.replace('https', 'http')}/healthz`)).rejects.toThrow();
  });

  describe('peerCertificateIdentity and principalFromCertificate', () => {
    let base: string;
    beforeAll(async () => {
      // The hub's own HTTPS options (http.tls), on an app with one route that reports what it sees.
      const config = makeConfig({}, { http: { tls: tls() } });
      const app = Fastify({ https: httpsServerOptions(config.http.tls!) });
      app.get('/whoami', async (request) => ({ identity: peerCertificateIdentity(request) ?? null }));
      await app.listen({ host: '127.0.0.1', port: 0 });
      onCleanup(() => app.close());
      base = `https://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    });
    const whoami = async (client?: KeyPair) =>
      ((await (await clientFetch(pki.ca.cert, client)(`${base}/whoami`)).json()) as { identity: unknown }).identity;

    const mappings: CertificateMapping[] = [
      { match: { subject: 'agent-b' }, tenant: 'other', agent: 'b' },
      {
        match: { san: 'URI:spiffe://switchboard.test/agent/*' },
        tenant: 'team-a',
        agent: 'agent-a',
        scopes: ['tools:secure__*:call'],
        groups: ['builders'],
      },
    ];

    it('sees the CN, SANs and fingerprint of a verified client certificate, which maps to a principal', async () => {
      const identity = await whoami(pki.client);
      expect(identity).toEqual({
        subject: 'agent-a',
        sans: ['URI:spiffe://switchboard.test/agent/agent-a', 'DNS:agent-a.switchboard.test'],
        fingerprint256: new X509Certificate(readFileSync(pki.client.cert)).fingerprint256,
        authorized: true,
      });
      expect(principalFromCertificate(identity as never, mappings)).toEqual({
        tenant: 'team-a',
        agent: 'agent-a',
        groups: ['builders'],
        scopes: ['tools:secure__*:call'],
        source: 'mtls',
        subject: 'agent-a',
      });
      expect(principalFromCertificate(identity as never, mappings.slice(0, 1))).toBeUndefined();
      expect(
        principalFromCertificate(identity as never, [{ match: { subject: 'agent-a' }, tenant: 't', agent: 'a' }]),
      ).toMatchObject({ tenant: 't', agent: 'a', scopes: undefined, groups: [] });
    });

    it('reports a certificate from another CA as unauthorized, with the reason, and maps it to nobody', async () => {
      const identity = await whoami(pki.strangerClient);
      expect(identity).toMatchObject({ subject: 'agent-a', authorized: false });
      expect((identity as { error: string }).error).toMatch(
        /(unable to verify the first certificate|unable to get the local issuer).*http\.tls\.ca \([A-Z_]+\)/,
      );
      // Same CN and SANs as the real agent-a: only the issuer differs, and that is enough to refuse it.
      expect(principalFromCertificate(identity as never, mappings)).toBeUndefined();
    });

    it('sees no identity when the client presents no certificate', async () => {
      expect(await whoami()).toBeNull();
      expect(principalFromCertificate(undefined, mappings)).toBeUndefined();
    });
  });

  it('parses SANs, quoted ones included, and matches globs exactly', () => {
    expect(parseSans('DNS:a.test, URI:spiffe://x/y, IP Address:127.0.0.1, DNS:"we, ird"')).toEqual([
      'DNS:a.test',
      'URI:spiffe://x/y',
      'IP:127.0.0.1',
      'DNS:we, ird',
    ]);
    const facts = { subject: 'agent-a.prod', sans: ['DNS:agent-a.prod'], authorized: true };
    const map = (subject: string) => principalFromCertificate(facts, [{ match: { subject }, tenant: 't', agent: 'a' }]);
    expect(map('agent-a.prod')).toBeDefined();
    expect(map('agent-?.prod')).toBeUndefined(); // only * is special
    expect(map('agent-*')).toBeDefined();
    expect(map('agent-a')).toBeUndefined();
    expect(principalFromCertificate(facts, [{ match: {}, tenant: 't', agent: 'a' }])).toBeUndefined();
  });
});
